/**
 * `sockit listen -x file`: what netcat users reach for to see the bytes (ncat -x,
 * socat -x) works in listen mode too: stdout still gets the bytes exactly, and the
 * hex dump records both directions.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dial, killStarted, startSockit } from './listen-helpers.js';

const dirs: string[] = [];
afterEach(async () => {
  await killStarted();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('listen -x', () => {
  test('stdout gets the bytes, the dump gets both directions', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sockit-listen-tap-'));
    dirs.push(dir);
    const dump = join(dir, 'dump.txt');
    const server = await startSockit(['listen', '0', '-x', dump]);
    const socket = await dial(server.port);
    socket.end('hello listen\n');
    const exit = await server.exited;
    expect(exit.code).toBe(0);
    expect(server.stdout().toString()).toBe('hello listen\n');
    const lines = readFileSync(dump, 'utf8').split('\n');
    expect(lines[0]).toMatch(/^\[1\] # tcp 127\.0\.0\.1:\d+ at \d{4}-\d\d-\d\dT/);
    expect(lines[1]).toBe(
      '[1] < 00000000  68 65 6c 6c 6f 20 6c 69  73 74 65 6e 0a           |hello listen.|',
    );
  });
});
