/**
 * Helpers for the listen-mode, exec, broker and chat black-box tests: a sockit
 * server with its stdin and stdout wired as a test needs (a file, a pipe kept
 * open), foreign tools with bounded time, hashes of files streamed (never held),
 * line readers on sockets, and a count of the programs a server started (by a
 * mark in their environment, so that other processes on the machine never count).
 */
import { spawn, type ChildProcess, type IOType } from 'node:child_process';
import type { Stream } from 'node:stream';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, readdirSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { Buffer } from 'node:buffer';
import { connect, type Socket } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { BIN } from '../helpers/cli.js';

/** How a child ended. */
export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A running sockit (or other) process with its stderr collected. */
export interface Running {
  readonly child: ChildProcess;
  /** Everything on stderr so far. */
  stderr(): string;
  /** Everything on stdout so far (when stdout is a pipe). */
  stdout(): Buffer;
  /** Resolves when stderr matches `re` (rejects if the process exits first). */
  waitFor(re: RegExp): Promise<RegExpExecArray>;
  /** Resolves when stdout holds at least `n` bytes (rejects if the process exits first). */
  stdoutAtLeast(n: number): Promise<Buffer>;
  /** Resolves when stderr holds `n` matches of `re` (rejects if the process exits first). */
  waitForCount(re: RegExp, n: number): Promise<number>;
  readonly exited: Promise<Exit>;
}

/** How many times `re` matches in `text`. */
export function countOf(text: string, re: RegExp): number {
  return text.match(new RegExp(re.source, 'g'))?.length ?? 0;
}

/** One of a child's standard streams: a pipe, ignored, a file descriptor or a stream. */
export type Io = IOType | number | Stream;

const started = new Set<ChildProcess>();
const dialed = new Set<Socket>();

/**
 * A TCP (port) or unix (path) client that may half-close: the server's end does not
 * end ours. Destroyed by {@link killStarted}.
 */
export async function dial(target: number | string): Promise<Socket> {
  const socket =
    typeof target === 'number'
      ? connect({ port: target, host: '127.0.0.1', allowHalfOpen: true })
      : connect({ path: target, allowHalfOpen: true });
  socket.on('error', () => undefined);
  dialed.add(socket);
  await once(socket, 'connect');
  return socket;
}

/** Destroy every client of {@link dial}, kill every process a test started (SIGKILL), and wait. */
export async function killStarted(): Promise<void> {
  for (const s of dialed) s.destroy();
  dialed.clear();
  await Promise.all(
    [...started].map(async (child) => {
      if (child.exitCode === null && child.signalCode === null) {
        const closed = once(child, 'close');
        child.kill('SIGKILL');
        await closed;
      }
      started.delete(child);
    }),
  );
}

/** Start `cmd args…` with `stdio` ([stdin, stdout]; stderr is always a pipe). */
export function startProcess(
  cmd: string,
  args: readonly string[],
  stdio: [Io, Io] = ['pipe', 'pipe'],
  env: Record<string, string> = {},
): Running {
  const child = spawn(cmd, [...args], {
    stdio: [stdio[0], stdio[1], 'pipe'],
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '', ...env },
  });
  started.add(child);
  child.stdin?.on('error', () => undefined);
  let err = '';
  const out: Buffer[] = [];
  let outBytes = 0;
  const waiters = new Set<() => void>();
  const poke = (): void => {
    for (const w of [...waiters]) w();
  };
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (c: string) => {
    err += c;
    poke();
  });
  child.stdout?.on('data', (c: Buffer) => {
    out.push(c);
    outBytes += c.length;
    poke();
  });
  const exited = new Promise<Exit>((resolve) =>
    child.once('close', (code, signal) => {
      started.delete(child);
      resolve({ code, signal });
      poke();
    }),
  );
  const until = <T>(check: () => T | undefined, what: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const test = (): void => {
        const got = check();
        if (got !== undefined) {
          waiters.delete(test);
          resolve(got);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          waiters.delete(test);
          reject(new Error(`${cmd} exited before ${what}; stderr: ${err}`));
        }
      };
      waiters.add(test);
      test();
    });
  return {
    child,
    stderr: () => err,
    stdout: () => Buffer.concat(out),
    waitFor: (re) => until(() => re.exec(err) ?? undefined, `stderr matched ${re}`),
    stdoutAtLeast: (n) =>
      until(() => (outBytes >= n ? Buffer.concat(out) : undefined), `${n} bytes on stdout`),
    waitForCount: (re, n) =>
      until(() => {
        const count = countOf(err, re);
        return count >= n ? count : undefined;
      }, `${n} matches of ${re}`),
    exited,
  };
}

/** Start `sockit args…` and wait for its banner; resolves with the port (0 for unix). */
export async function startSockit(
  args: readonly string[],
  stdio: [Io, Io] = ['pipe', 'pipe'],
  env: Record<string, string> = {},
): Promise<Running & { port: number }> {
  const running = startProcess(process.execPath, [BIN, ...args], stdio, env);
  const [, url] = await running.waitFor(/listening on (\S+)/);
  return { ...running, port: Number(/:(\d+)$/.exec(url!)?.[1] ?? 0) };
}

/** Write `bytes` random bytes to `path`, streamed in 1 MiB pieces. */
export async function randomFile(path: string, bytes: number): Promise<void> {
  const { createWriteStream } = await import('node:fs');
  async function* pieces(): AsyncGenerator<Buffer> {
    for (let left = bytes; left > 0; left -= 1 << 20) yield randomBytes(Math.min(left, 1 << 20));
  }
  await pipeline(pieces(), createWriteStream(path));
}

/** The SHA-256 of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/** Lines from a socket (or any stream of bytes), one at a time. */
export class LineReader {
  #buffer = '';
  readonly #lines: string[] = [];
  #wake: (() => void) | undefined;
  #ended = false;

  constructor(stream: Socket | NodeJS.ReadableStream) {
    stream.on('data', (c: Buffer | string) => {
      this.#buffer += c.toString();
      let nl: number;
      while ((nl = this.#buffer.indexOf('\n')) >= 0) {
        this.#lines.push(this.#buffer.slice(0, nl));
        this.#buffer = this.#buffer.slice(nl + 1);
      }
      this.#wake?.();
    });
    stream.on('end', () => {
      this.#ended = true;
      this.#wake?.();
    });
    stream.on('close', () => {
      this.#ended = true;
      this.#wake?.();
    });
  }

  /** The next line (without its newline); rejects at the end of the stream. */
  async next(): Promise<string> {
    for (let i = 0; i < 1_000_000; i++) {
      const line = this.#lines.shift();
      if (line !== undefined) return line;
      if (this.#ended) throw new Error(`stream ended; unfinished: ${JSON.stringify(this.#buffer)}`);
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
    throw new Error('too many wake-ups');
  }

  /** The next line that matches `re`, skipping others (at most `max`). */
  async nextMatching(re: RegExp, max = 50): Promise<string> {
    for (let i = 0; i < max; i++) {
      const line = await this.next();
      if (re.test(line)) return line;
    }
    throw new Error(`no line matched ${re}`);
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return '';
  }
}

/**
 * Programs started by an exec server that are still there: processes whose
 * environment has `SOCKIT_TEST_MARK=<mark>` and a `SOCKIT_PROTO` (only programs
 * get one), plus zombies whose parent has the mark (the server or its workers).
 */
export function programsLeft(mark: string): number[] {
  const marked = new Set<number>();
  const programs: number[] = [];
  const zombies: [number, number][] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const env = readText(`/proc/${pid}/environ`);
    if (env.includes(`SOCKIT_TEST_MARK=${mark}\0`)) {
      marked.add(pid);
      if (env.includes('SOCKIT_PROTO=')) programs.push(pid);
    }
    const stat = readText(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') zombies.push([pid, Number(fields[1])]);
  }
  return [...programs, ...zombies.filter(([, ppid]) => marked.has(ppid)).map(([pid]) => pid)];
}

/**
 * The programs of {@link programsLeft} still there after at most `timeoutMs`: a
 * program SIGKILLed a moment ago (a grandchild in its group, or the child of a
 * worker that has just exited) may need a moment to be gone, and nothing tells
 * this process when it is, so the list is read again every 20 ms until it is empty.
 */
export async function programsGone(mark: string, timeoutMs = 3000): Promise<number[]> {
  const deadline = performance.now() + timeoutMs;
  for (let i = 0; i < 1000; i++) {
    const left = programsLeft(mark);
    if (left.length === 0 || performance.now() >= deadline) return left;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return programsLeft(mark);
}

/** A mark for {@link programsLeft}. */
export function newMark(): string {
  return randomBytes(6).toString('hex');
}
