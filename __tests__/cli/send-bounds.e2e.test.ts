/**
 * `send --hex` and `send --json` hold the reply in memory to print it whole: against
 * a peer that never stops (chargen), they stop at 16 MiB with one line and exit 1
 * instead of growing until the process dies; without them the reply streams.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { run, start } from '../helpers/cli.js';
import { Teardown } from '../helpers/loopback.js';
import { ChargenHandler } from '../../src/handlers/chargen.js';
import { engineTcp } from '../clients/peers.js';

const teardown = new Teardown();
afterEach(() => teardown.run());

describe('send: a reply held in memory is bounded', () => {
  test.each([['--hex'], ['--json']])(
    '%s against chargen: one line at 16 MiB, exit 1, nothing half-printed',
    async (flag) => {
      const port = await engineTcp(ChargenHandler as never, teardown);
      const r = await run(['send', '127.0.0.1', String(port), 'x', flag, '-w', '30']);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        'sockit: the reply passed 16 MiB, the most held in memory — --hex and --json hold the reply; without them it streams to stdout (or save it with -o <file>)\n',
      );
      expect(r.stdout.length).toBe(0);
    },
  );

  test('without them, more than 16 MiB streams to stdout', async () => {
    const port = await engineTcp(ChargenHandler as never, teardown);
    const child = start(['send', '127.0.0.1', String(port), 'x', '-w', '30']);
    let got = 0;
    const want = 20 * 1024 * 1024;
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (c: Buffer) => {
        got += c.length;
        if (got >= want) resolve();
      });
      child.once('close', () => resolve());
    });
    child.kill();
    expect(got).toBeGreaterThanOrEqual(want);
  });
});
