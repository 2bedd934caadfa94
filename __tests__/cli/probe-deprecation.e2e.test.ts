/**
 * The probe fast path uses Node's TCP handle binding (`process.binding`), which warns
 * (DEP0111) when pending deprecations are on: then probes take the public `net`
 * path and say nothing, whether the switch is a flag or the environment variable.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { run } from '../helpers/cli.js';
import { Teardown } from '../helpers/loopback.js';

const teardown = new Teardown();
afterEach(() => teardown.run());

async function openAndClosedPorts(): Promise<[number, number]> {
  const server = createServer((s) => s.destroy());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  teardown.add(() => new Promise((resolve) => server.close(resolve)));
  const open = (server.address() as { port: number }).port;
  // a port nobody holds: one taken and let go (refused, or at worst open: both answer)
  const spare = createServer();
  spare.listen(0, '127.0.0.1');
  await once(spare, 'listening');
  const closed = (spare.address() as { port: number }).port;
  await new Promise((resolve) => spare.close(resolve));
  return [open, closed];
}

describe('connect -z with pending deprecations on', () => {
  for (const [how, env] of [
    ['NODE_PENDING_DEPRECATION=1', { NODE_PENDING_DEPRECATION: '1' }],
    ['NODE_OPTIONS=--pending-deprecation', { NODE_OPTIONS: '--pending-deprecation' }],
  ] as const) {
    test(`${how}: the same answers, no DEP0111 warning`, async () => {
      const [open, closed] = await openAndClosedPorts();
      const r = await run(['connect', '-z', '--json', '127.0.0.1', `${open},${closed}`], { env });
      expect(r.stderr).not.toMatch(/DEP0111|DeprecationWarning|Warning/);
      expect(r.code).toBe(0);
      const events = r.stdout
        .toString()
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { state: string; peer: { port: number } });
      expect(events).toHaveLength(2);
      expect(events.find((e) => e.peer.port === open)?.state).toBe('open');
    });
  }
});
