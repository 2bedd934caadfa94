/**
 * The progress line of a long transfer: drawn on a pseudo-terminal (script(1)) once
 * more than a few MiB have moved, cleared at the end; never when stderr is a file,
 * never with --quiet or --json; and the -v summary.
 */
import { describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { BIN } from '../helpers/cli.js';
import { Progress, transferSummary } from '../../src/cli/progress.js';
import { useServeTeardown } from './serve-helpers.js';

const { tmp, defer } = useServeTeardown();
const MiB = 1024 * 1024;
/** The progress line: `\rsent 8.0 MiB, received 0.0 MiB, 12.3 MB/s, 0:01\x1b[K`. */
// eslint-disable-next-line no-control-regex
const LINE = /\rsent \d+\.\d MiB, received \d+\.\d MiB, \d+\.\d MB\/s, \d+:\d\d\x1b\[K/;

/**
 * A server that reads `holdAfter` bytes, then stops reading until `release()`: the
 * transfer stalls in the middle, with more than the progress threshold moved.
 */
async function stallingServer(holdAfter: number): Promise<{
  port: number;
  stalled: Promise<void>;
  release: () => void;
}> {
  let socket: Socket | undefined;
  let onStall!: () => void;
  const stalled = new Promise<void>((resolve) => (onStall = resolve));
  const server: Server = createServer((s) => {
    socket = s;
    let got = 0;
    let held = false;
    s.on('data', (c: Buffer) => {
      got += c.length;
      if (got >= holdAfter && !held) {
        held = true;
        s.pause();
        onStall();
      }
    });
    s.on('error', () => undefined);
  });
  defer(() => new Promise((r) => server.close(r)));
  defer(() => socket?.destroy());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  return { port, stalled, release: () => socket?.resume() };
}

function bigFile(dir: string, size: number): string {
  const path = join(dir, 'big.bin');
  writeFileSync(path, Buffer.alloc(size, 0x61));
  return path;
}

describe('progress', () => {
  test('on a terminal: a live line once a few MiB moved, cleared at the end', async () => {
    const { dir } = tmp();
    const file = bigFile(dir, 24 * MiB);
    const srv = await stallingServer(12 * MiB);
    const cmd = `${process.execPath} ${BIN} connect 127.0.0.1 ${srv.port} < ${file} > /dev/null`;
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], {
      env: { ...process.env, NO_COLOR: '1', TERM: 'xterm' },
    });
    defer(() => child.kill('SIGKILL'));
    let screen = '';
    const drawn = new Promise<void>((resolve) =>
      child.stdout.on('data', (c: Buffer) => {
        screen += c.toString('latin1');
        if (LINE.test(screen)) resolve();
      }),
    );
    await srv.stalled;
    await drawn; // the transfer is stalled and the line is on the screen
    srv.release();
    const [code] = (await once(child, 'close')) as [number | null];
    expect(code).toBe(0);
    // eslint-disable-next-line no-control-regex
    expect(screen).toMatch(/\r\x1b\[K$/); // the line is cleared at the end
  }, 60_000);

  test('stderr is a file: nothing of it, only the -v lines', async () => {
    const { dir } = tmp();
    const srv = await stallingServer(12 * MiB);
    const errPath = join(dir, 'stderr.txt');
    const err = openSync(errPath, 'w');
    defer(() => closeSync(err));
    const child = spawn(process.execPath, [BIN, 'connect', '-v', '127.0.0.1', String(srv.port)], {
      stdio: ['pipe', 'ignore', err],
      env: { ...process.env, NO_COLOR: '1' },
    });
    child.stdin!.on('error', () => undefined);
    const closed = once(child, 'close') as Promise<[number | null]>;
    child.stdin!.end(Buffer.alloc(24 * MiB, 0x61));
    await srv.stalled;
    // Proving an absence: the stall lasts four redraw intervals (250 ms each), long
    // enough for the line that the terminal test above sees at once.
    await new Promise((r) => setTimeout(r, 1000));
    srv.release();
    const [code] = await closed;
    expect(code).toBe(0);
    const text = readFileSync(errPath, 'latin1');
    // eslint-disable-next-line no-control-regex
    expect(text).not.toMatch(/\r|\x1b/);
    expect(text).toMatch(
      new RegExp(
        `^connected to 127\\.0\\.0\\.1:${srv.port} from port \\d+\\nsent ${24 * MiB} bytes, received 0 bytes in [\\d.]+ s \\([\\d.]+ MB/s\\); peer closed\\n$`,
      ),
    );
  }, 60_000);
});

describe('when the line may show', () => {
  const io = (isTTY: boolean) => ({
    stdin: new PassThrough(),
    stdout: new PassThrough(),
    stderr: Object.assign(new PassThrough(), { isTTY }),
    env: {},
  });

  test('a terminal only, and never with --quiet or --json', () => {
    expect(Progress.for(io(true), {})).toBeInstanceOf(Progress);
    expect(Progress.for(io(false), {})).toBeUndefined();
    expect(Progress.for(io(true), { quiet: true })).toBeUndefined();
    expect(Progress.for(io(true), { json: true })).toBeUndefined();
  });

  test('the -v summary', () => {
    expect(transferSummary(3_000_000, 1_000_000, 2000)).toBe(
      'sent 3000000 bytes, received 1000000 bytes in 2.00 s (2.00 MB/s)',
    );
    expect(transferSummary(0, 0, 0)).toBe('sent 0 bytes, received 0 bytes in 0.00 s (0.00 MB/s)');
  });
});
