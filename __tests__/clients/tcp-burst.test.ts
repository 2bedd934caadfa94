/**
 * A scan burst (`AttemptBurst`): many attempts to one address on Node's TCP
 * handle with one shared timer. Each port is reported once, with the status a
 * single attempt would give: open, refused, or timed out (a blackholed port:
 * a Python listener whose accept queue is full, so the kernel drops the SYNs).
 */
import { afterEach, expect, test } from '@jest/globals';
import { fileURLToPath } from 'node:url';
import { AttemptBurst, BURST_TIMEOUT } from '../../src/clients/attempt-burst.js';
import { statusName } from '../../src/net/errors.js';
import { EchoHandler } from '../../src/handlers/echo.js';
import { testIf } from '../helpers/skip.js';
import { Teardown } from '../helpers/loopback.js';
import { PYTHON, killPeers, startPeer } from '../interop/interop-helpers.js';
import { engineTcp, freePort } from './peers.js';

const BLACKHOLE = fileURLToPath(new URL('../fixtures/blackhole.py', import.meta.url));
const NO_PYTHON = PYTHON ? undefined : 'python3 is not installed (it plays the blackhole)';
const teardown = new Teardown();
afterEach(async () => {
  await killPeers();
  await teardown.run();
});

/** Run a burst over `ports` and wait for every answer, port → status. */
function burst(address: string, ports: number[], timeoutMs: number) {
  return new Promise<Map<number, number>>((resolve, reject) => {
    const got = new Map<number, number>();
    const b = AttemptBurst.open(address, 4, timeoutMs, (port, status) => {
      if (got.has(port)) reject(new Error(`port ${port} reported twice`));
      got.set(port, status);
      if (got.size === ports.length) resolve(got);
    });
    if (!b) return reject(new Error('no TCP handle binding'));
    for (const p of ports) b.start(p);
  });
}

test('open and refused ports, each reported once with its status', async () => {
  const open = await engineTcp(EchoHandler as never, teardown);
  const closed = await freePort();
  const got = await burst('127.0.0.1', [closed, open], 3000);
  expect(got.get(open)).toBe(0);
  expect(statusName(got.get(closed)!)).toBe('ECONNREFUSED');
});

test('a refused socket connects again for the next port, and every answer stays right', async () => {
  const open = [
    await engineTcp(EchoHandler as never, teardown),
    await engineTcp(EchoHandler as never, teardown),
  ];
  const closed = [await freePort(), await freePort(), await freePort()];
  // one at a time, so that each attempt after a refusal can take the refused socket
  const ports = [closed[0]!, open[0]!, closed[1]!, closed[2]!, open[1]!, closed[0]!];
  const got: [number, string][] = [];
  const b = await new Promise<AttemptBurst>((resolve, reject) => {
    let next = 0;
    const burst = AttemptBurst.open('127.0.0.1', 4, 3000, (port, status) => {
      got.push([port, status === 0 ? 'open' : statusName(status)]);
      if (next < ports.length) burst!.start(ports[next++]!);
      else resolve(burst!);
    });
    if (!burst) return reject(new Error('no TCP handle binding'));
    burst.start(ports[next++]!);
  });
  const want = ports.map((p) => [p, open.includes(p) ? 'open' : 'ECONNREFUSED']);
  expect(got).toEqual(want);
  // the attempts right after the three refusals (an open port's socket is closed)
  expect(b.reused).toBe(3);
  b.cancel();
});

testIf(NO_PYTHON, import.meta.url)(
  'a blackholed port times out on the shared timer; the others do not wait for it',
  async () => {
    const dark = await freePort('127.0.0.2');
    const refused = await freePort('127.0.0.2');
    await startPeer('python3', [BLACKHOLE, String(dark), '127.0.0.2'], {
      keepStdin: true,
      ready: /blackholed/,
    });
    const order: number[] = [];
    const got = await new Promise<Map<number, number>>((resolve, reject) => {
      const m = new Map<number, number>();
      const b = AttemptBurst.open('127.0.0.2', 4, 400, (port, status) => {
        order.push(port);
        m.set(port, status);
        if (m.size === 2) resolve(m);
      });
      if (!b) return reject(new Error('no TCP handle binding'));
      b.start(dark);
      b.start(refused);
    });
    expect(got.get(dark)).toBe(BURST_TIMEOUT);
    expect(statusName(got.get(refused)!)).toBe('ECONNREFUSED');
    expect(order).toEqual([refused, dark]);
  },
);
