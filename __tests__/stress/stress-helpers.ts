/**
 * Helpers for the fault tests (`npm run test:stress`): /proc readings of a server
 * child (fds, RSS, CPU), a seeded byte generator that never holds more than one
 * chunk, bounded polling, client swarms and a figures log for the closing report.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createCipheriv, createHash, type Hash } from 'node:crypto';
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Buffer } from 'node:buffer';
import type { Writable } from 'node:stream';
import { BIN } from '../helpers/cli.js';
import { drainedOrClosed } from '../../src/net/stream-end.js';

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

/** Linux only: every reading below comes from /proc. */
export const HAS_PROC = (() => {
  try {
    readdirSync(`/proc/${process.pid}/fd`);
    return true;
  } catch {
    return false;
  }
})();

/** Open file descriptors of a process. */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** A process and its descendants (forking workers), from /proc. */
export function processTree(pid: number): number[] {
  const kids: number[] = [];
  try {
    for (const child of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(/\s+/))
      if (child) kids.push(...processTree(Number(child)));
  } catch {
    // gone meanwhile
  }
  return [pid, ...kids];
}

/** `read` summed over `pids`, skipping a process that ended meanwhile. */
export function sumOver(pids: readonly number[], read: (pid: number) => number): number {
  let total = 0;
  for (const pid of pids) {
    try {
      total += read(pid);
    } catch {
      // a worker that just ended
    }
  }
  return total;
}

/** Resident set size of a process in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

/** User + system CPU time of a process, in clock ticks (usually 1/100 s). */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // the command name is in parentheses and may contain spaces: count from the last ')'
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** Poll `check` every `everyMs` until it returns true; false once `timeoutMs` passed. */
export async function waitUntil(
  check: () => boolean,
  timeoutMs: number,
  everyMs = 50,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Sample `read()` every `everyMs` until stopped; keeps the peak. */
export function peakSampler(read: () => number, everyMs = 100): { stop: () => number } {
  let peak = 0;
  const sample = (): void => {
    try {
      peak = Math.max(peak, read());
    } catch {
      // the process is gone: keep what was measured
    }
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      sample();
      return peak;
    },
  };
}

/**
 * A deterministic pseudo-random byte stream (AES-128-CTR keystream of a seed):
 * `next()` returns fresh chunks and hashes them as they go out.
 */
export class SeededBytes {
  readonly #cipher;
  readonly #zeros: Buffer;
  readonly #hash: Hash = createHash('sha256');
  #left: number;

  constructor(total: number, seed = 1, chunk = MiB) {
    const key = createHash('sha256').update(`sockit-stress-${seed}`).digest();
    this.#cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
    this.#zeros = Buffer.alloc(chunk);
    this.#left = total;
  }

  /** Bytes not yet produced. */
  get left(): number {
    return this.#left;
  }

  /** The next chunk, or null at the end. */
  next(): Buffer | null {
    if (this.#left <= 0) return null;
    const n = Math.min(this.#left, this.#zeros.length);
    const chunk = this.#cipher.update(this.#zeros.subarray(0, n));
    this.#left -= n;
    this.#hash.update(chunk);
    return chunk;
  }

  /** sha256 of everything produced (call once, at the end). */
  digest(): string {
    return this.#hash.digest('hex');
  }
}

/**
 * Write every chunk of `src` to `dst`, waiting for 'drain' when it pushes back; ends
 * `dst` unless `end` is false. Rejects if `dst` errors or closes first.
 */
export async function pump(src: SeededBytes, dst: Writable, end = true): Promise<void> {
  let failure: Error | undefined;
  const onError = (err: Error): void => {
    failure = err;
  };
  dst.on('error', onError);
  try {
    for (let chunk = src.next(); chunk; chunk = src.next()) {
      if (failure) throw failure;
      if (!dst.write(chunk)) {
        await drainedOrClosed(dst);
        if (dst.destroyed && src.left > 0) throw failure ?? new Error('destination closed');
      }
    }
    if (end) dst.end();
  } finally {
    dst.off('error', onError);
  }
}

export { drainedOrClosed };

/** Hash a readable as it arrives; resolves with the byte count and sha256. */
export async function hashStream(
  stream: AsyncIterable<unknown>,
): Promise<{ bytes: number; sha: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const c of stream) {
    const b = c as Buffer;
    bytes += b.length;
    hash.update(b);
  }
  return { bytes, sha: hash.digest('hex') };
}

/** Start the built CLI under a shell with `ulimit -n <fds>` (bash required). */
export function startWithFdLimit(fds: number, args: string[]): ChildProcessWithoutNullStreams {
  const child = spawn(
    'bash',
    ['-c', `ulimit -n ${fds} && exec "$0" "$@"`, process.execPath, BIN, ...args],
    { env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '' }, stdio: 'pipe' },
  );
  child.stdin.on('error', () => undefined);
  return child;
}

/** Wait for a `listening on <url>` banner; resolves with the URL and the stderr so far. */
export async function banner(
  child: ChildProcessWithoutNullStreams,
): Promise<{ url: string; stderr: () => string }> {
  let text = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (c: string) => (text += c));
  const url = await new Promise<string>((resolve, reject) => {
    const check = (): void => {
      const m = /listening on (\S+)/.exec(text);
      if (m) {
        child.stderr.off('data', check);
        child.off('close', onClose);
        resolve(m[1]!);
      }
    };
    const onClose = (code: number | null): void =>
      reject(new Error(`server exited (${code}) before listening: ${text}`));
    child.stderr.on('data', check);
    child.once('close', onClose);
  });
  return { url, stderr: () => text };
}

/** Connect to a TCP port on 127.0.0.1 or a unix path. */
export async function dialTarget(target: { port: number } | { path: string }): Promise<Socket> {
  const s = 'path' in target ? connect(target.path) : connect(target.port, '127.0.0.1');
  await Promise.race([
    once(s, 'connect'),
    once(s, 'error').then(([err]) => {
      throw err;
    }),
  ]);
  return s;
}

/** Run `fn(i)` for i in [0, count) with at most `concurrency` in flight. */
export async function swarm(
  count: number,
  concurrency: number,
  fn: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) await fn(next++);
  });
  await Promise.all(workers);
}

/** Kill a child if it still runs, and wait until it has gone. */
export async function kill(child: ChildProcessWithoutNullStreams): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const closed = once(child, 'close');
  child.kill('SIGKILL');
  await closed;
}

/** Where the measured figures go, one JSON line each (read by whoever writes the report). */
export const FIGURES_FILE =
  process.env.SOCKIT_STRESS_FIGURES ?? join(tmpdir(), 'sockit-stress.ndjson');

/** Record a figure: printed on stderr and appended to {@link FIGURES_FILE}. */
export function figure(name: string, values: Record<string, unknown>): void {
  const line = JSON.stringify({ test: name, ...values, at: new Date().toISOString() });
  appendFileSync(FIGURES_FILE, `${line}\n`);
  process.stderr.write(`[stress] ${line}\n`);
}

/** MB/s for `bytes` moved in `ms`. */
export function mbps(bytes: number, ms: number): number {
  return Math.round((bytes / MiB / (ms / 1000)) * 10) / 10;
}
