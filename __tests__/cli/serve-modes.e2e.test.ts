/**
 * The pooled modes through the CLI: a forking server serves a connection made the
 * instant its banner appears (20 fresh starts), and `--once` works in forking mode
 * (this process accepts; a worker process serves).
 */
import { describe, expect, test } from '@jest/globals';
import { exchange } from '../helpers/loopback.js';
import { serve, stop, useServeTeardown } from './serve-helpers.js';

useServeTeardown();

describe('forking', () => {
  test('20 fresh starts: a connection made as the banner appears is served every time', async () => {
    for (let i = 0; i < 20; i++) {
      const s = await serve(['serve', 'tcp', '0', '-m', 'forking', '-w', '1', '-q']);
      expect((await exchange({ port: s.port }, `start ${i}`)).toString()).toBe(`start ${i}`);
      await stop(s);
    }
  }, 120_000);

  test('--once: one client is served by a worker process, then the server exits 0', async () => {
    const s = await serve([
      'serve',
      'tcp',
      '0',
      '-m',
      'forking',
      '-w',
      '1',
      '-e',
      'threaded-echo',
      '--once',
    ]);
    expect((await exchange({ port: s.port }, 'only\n')).toString()).toMatch(
      /^Process-\d+: only\n$/,
    );
    expect(await s.exited).toBe(0);
  });
});
