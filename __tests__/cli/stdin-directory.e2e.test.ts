/** A directory on stdin is bad input (exit 2), not an empty message sent silently. */
import { describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { once } from 'node:events';
import { BIN } from '../helpers/cli.js';

async function withDirectoryStdin(args: string[]): Promise<{ code: number; stderr: string }> {
  const fd = openSync(tmpdir(), 'r');
  try {
    const child = spawn(process.execPath, [BIN, ...args], {
      stdio: [fd, 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c));
    const [code] = (await once(child, 'close')) as [number];
    return { code, stderr };
  } finally {
    closeSync(fd);
  }
}

describe('stdin is a directory', () => {
  test.each([
    ['connect', ['connect', '127.0.0.1', '9']],
    ['send', ['send', '127.0.0.1', '9']],
    ['sendto', ['sendto', '127.0.0.1', '9']],
  ])('%s: exit 2 with one line', async (_name, args) => {
    const r = await withDirectoryStdin(args);
    expect(r).toEqual({
      code: 2,
      stderr: 'sockit: stdin is a directory — give a file or a pipe\n',
    });
  });
});
