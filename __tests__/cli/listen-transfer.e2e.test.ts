/**
 * `sockit listen` moves files as netcat's listen mode does: 256 MiB from nc and
 * from `sockit connect` into `sockit listen 0 > out`, and from
 * `sockit listen 0 < file` to a client that reads; `tar c | sockit connect` into
 * `sockit listen 0 | tar x`. Every byte goes through pipes and files, never
 * through this process's memory; the hashes are streamed.
 * SOCKIT_MEASURE=1 prints each transfer's size, hash check and time on stderr.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN } from '../helpers/cli.js';
import { NC } from '../interop/interop-helpers.js';
import {
  killStarted,
  randomFile,
  sha256File,
  startProcess,
  startSockit,
  type Exit,
} from './listen-helpers.js';

const SIZE = 256 * 1024 * 1024;
const OK: Exit = { code: 0, signal: null };

let dir: string;
let source: string;
let sourceHash: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sk-xfer-'));
  source = join(dir, 'source.bin');
  await randomFile(source, SIZE);
  sourceHash = await sha256File(source);
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(killStarted);

function measured(what: string, bytes: number, equal: boolean, ms: number): void {
  if (process.env.SOCKIT_MEASURE) {
    process.stderr.write(
      `${what}: ${bytes} bytes, sha256 equal: ${equal}, ${(ms / 1000).toFixed(2)} s\n`,
    );
  }
}

/** The file descriptor of `path`, opened for the duration of `fn`. */
async function withFd<T>(path: string, flags: string, fn: (fd: number) => Promise<T>): Promise<T> {
  const fd = openSync(path, flags);
  try {
    return await fn(fd);
  } finally {
    closeSync(fd);
  }
}

/** The client command line that sends the file, or reads it. */
function client(kind: 'nc' | 'sockit', port: number, sends: boolean): [string, string[]] {
  const p = String(port);
  if (kind === 'nc') return ['nc', sends ? ['-N', '127.0.0.1', p] : ['-d', '127.0.0.1', p]];
  const args = sends ? ['connect', '127.0.0.1', p] : ['connect', '--recv-only', '127.0.0.1', p];
  return [process.execPath, [BIN, ...args]];
}

/** `sockit listen 0 > out` and a client sending the source file. */
async function into(kind: 'nc' | 'sockit'): Promise<void> {
  const out = join(dir, `into-${kind}.bin`);
  await withFd(out, 'w', async (outFd) => {
    await withFd(source, 'r', async (inFd) => {
      // the server's stdin stays open (a pipe nobody ends): only the peer ends the transfer
      const server = await startSockit(['listen', '0'], ['pipe', outFd]);
      const started = performance.now();
      const [cmd, args] = client(kind, server.port, true);
      const sender = startProcess(cmd, args, [inFd, 'ignore']);
      expect(await sender.exited).toEqual(OK);
      expect(await server.exited).toEqual(OK);
      const ms = performance.now() - started;
      expect(statSync(out).size).toBe(SIZE);
      const equal = (await sha256File(out)) === sourceHash;
      measured(`${kind} → sockit listen 0 > out`, SIZE, equal, ms);
      expect(equal).toBe(true);
    });
  });
  rmSync(out);
}

/** `sockit listen 0 < file` and a client that reads it into a file. */
async function outOf(kind: 'nc' | 'sockit'): Promise<void> {
  const out = join(dir, `out-of-${kind}.bin`);
  await withFd(out, 'w', async (outFd) => {
    await withFd(source, 'r', async (inFd) => {
      const server = await startSockit(['listen', '0'], [inFd, 'ignore']);
      const started = performance.now();
      const [cmd, args] = client(kind, server.port, false);
      const reader = startProcess(cmd, args, ['ignore', outFd]);
      expect(await reader.exited).toEqual(OK);
      expect(await server.exited).toEqual(OK);
      const ms = performance.now() - started;
      expect(statSync(out).size).toBe(SIZE);
      const equal = (await sha256File(out)) === sourceHash;
      measured(`sockit listen 0 < file → ${kind}`, SIZE, equal, ms);
      expect(equal).toBe(true);
    });
  });
  rmSync(out);
}

describe('sockit listen moves 256 MiB byte-exact', () => {
  (NC ? test : test.skip)('from nc into sockit listen 0 > out', () => into('nc'), 180_000);
  test('from sockit connect into sockit listen 0 > out', () => into('sockit'), 180_000);
  (NC ? test : test.skip)('from sockit listen 0 < file to nc', () => outOf('nc'), 180_000);
  test('from sockit listen 0 < file to sockit connect', () => outOf('sockit'), 180_000);
});

/** Every file under `root`, with its hash, sorted by path. */
async function tree(root: string, at = ''): Promise<[string, string][]> {
  const entries: [string, string][] = [];
  for (const name of readdirSync(join(root, at)).sort()) {
    const rel = join(at, name);
    if (statSync(join(root, rel)).isDirectory()) entries.push(...(await tree(root, rel)));
    else entries.push([rel, await sha256File(join(root, rel))]);
  }
  return entries;
}

test('tar c dir | sockit connect into sockit listen 0 | tar x', async () => {
  const src = join(dir, 'src');
  const dst = join(dir, 'dst');
  mkdirSync(join(src, 'a', 'b'), { recursive: true });
  mkdirSync(dst);
  await randomFile(join(src, 'big.bin'), 8 * 1024 * 1024);
  await randomFile(join(src, 'a', 'small.bin'), 1000);
  await randomFile(join(src, 'a', 'b', 'empty.bin'), 0);
  await randomFile(join(src, 'a', 'b', 'odd.bin'), 65537);
  const untar = startProcess('tar', ['x', '-C', dst], ['pipe', 'ignore']);
  const server = await startSockit(['listen', '0'], ['pipe', untar.child.stdin!]);
  untar.child.stdin!.destroy(); // sockit holds the pipe now: tar sees its end when sockit exits
  const sender = startProcess('sh', [
    '-c',
    `tar c -C '${src}' . | '${process.execPath}' '${BIN}' connect 127.0.0.1 ${server.port}`,
  ]);
  expect(await sender.exited).toEqual(OK);
  expect(await server.exited).toEqual(OK);
  expect(await untar.exited).toEqual(OK);
  expect(await tree(dst)).toEqual(await tree(src));
}, 120_000);
