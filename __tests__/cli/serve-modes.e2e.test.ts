/**
 * The pooled modes through the CLI: a forking server serves a connection made the
 * instant its banner appears (20 fresh starts), and `--once` works in forking mode
 * (this process accepts; a worker process serves), and every built-in that needs no
 * target loads in a worker thread.
 */
import { describe, expect, test } from '@jest/globals';
import type { Buffer } from 'node:buffer';
import { once } from 'node:events';
import { connect } from 'node:net';
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

describe('threading', () => {
  // A worker imports the handler by its export name from the handler's own module, while
  // the CLI runs from a bundle in which a class may be renamed (`_ChargenHandler`).
  const builtins = ['echo', 'upper', 'lower', 'threaded-echo', 'discard', 'daytime', 'chargen'];
  test.each(builtins)('-e %s: the built-in loads in a worker thread and serves', async (name) => {
    const s = await serve(['serve', 'tcp', '0', '-m', 'threading', '-w', '1', '-e', name, '-q']);
    const socket = connect({ port: s.port, host: '127.0.0.1' });
    socket.on('error', () => undefined);
    if (name !== 'discard') {
      socket.write('ping\n');
      const [first] = (await once(socket, 'data')) as [Buffer];
      expect(first.length).toBeGreaterThan(0);
    } else {
      await once(socket, 'connect');
    }
    socket.destroy();
    await stop(s);
  });
});
