/**
 * The two back ends of the worker pool, both sides of each: worker threads
 * (`worker_threads`, messages with transfer lists) and child processes
 * (`child_process.fork` with the advanced serialization, messages that may carry
 * a socket handle). The parent side is {@link spawnWorker}; a worker entry
 * module calls {@link poolChild} and does not need to know which it runs in.
 *
 * A worker's stderr is read here, line by line (a crash dump, a handler's
 * `console.error`), so that its owner can escape it and, in `--json` mode, make
 * events of it: nothing a worker prints reaches the terminal raw.
 *
 * A child process ignores SIGINT (Ctrl-C reaches the whole process group: its
 * parent decides), closes gracefully on SIGTERM, and exits when its parent is
 * gone (the IPC channel closes), so that no worker outlives its pool.
 */
import { fork, type ChildProcess, type SendHandle } from 'node:child_process';
import {
  Worker,
  isMainThread,
  parentPort,
  workerData,
  type TransferListItem,
} from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { toWire } from './wire.js';

/** Worker threads or child processes. */
export type BackendKind = 'thread' | 'process';

/** Control messages the pool sends every worker. */
export type ToWorkerControl =
  { pool: 'init'; id: number; init: unknown } | { pool: 'close'; graceMs: number | null };

/** A started worker, whatever it runs in. */
export interface SpawnedWorker {
  readonly pid: number | undefined;
  readonly threadId: number | undefined;
  /** `extra`: a transfer list (threads) or a socket handle (processes). */
  send(msg: unknown, extra?: unknown): void;
  onMessage(fn: (msg: unknown, extra: unknown) => void): void;
  onError(fn: (err: Error) => void): void;
  /** Called once the worker is gone (for a process: exited and its channel closed). */
  onExit(fn: (code: number | null, signal: string | null) => void): void;
  /** Each non-blank line the worker writes to its stderr. */
  onOutput(fn: (line: string) => void): void;
  ref(): void;
  unref(): void;
  /** Let a worker that has closed go (a thread is terminated, a process disconnected). */
  release(): void;
  /** Stop it now. */
  kill(): void;
}

/** Start one worker of `kind` running `entry`. */
export function spawnWorker(
  kind: BackendKind,
  entry: URL,
  id: number,
  init: unknown,
): SpawnedWorker {
  return kind === 'thread' ? spawnThread(entry, id, init) : spawnProcess(entry, id, init);
}

function spawnThread(entry: URL, id: number, init: unknown): SpawnedWorker {
  const worker = new Worker(entry, {
    workerData: { id, init },
    stderr: true,
    // A small young generation: 16 MiB per thread cost 500 stalled connections a third
    // more RSS than async mode holds, for no throughput (measured with -w 2).
    resourceLimits: { maxYoungGenerationSizeMb: 4 },
  });
  const threadId = worker.threadId; // -1 once the thread has exited
  return {
    pid: undefined,
    threadId,
    send: (msg, extra) => worker.postMessage(msg, extra as readonly TransferListItem[] | undefined),
    onMessage: (fn) => worker.on('message', (msg: unknown) => fn(msg, undefined)),
    onError: (fn) => worker.on('error', fn),
    onExit: (fn) => worker.once('exit', (code: number) => fn(code, null)),
    onOutput: (fn) => eachLine(worker.stderr, fn),
    ref: () => worker.ref(),
    unref: () => worker.unref(),
    release: () => void worker.terminate(),
    kill: () => void worker.terminate(),
  };
}

function spawnProcess(entry: URL, id: number, init: unknown): SpawnedWorker {
  const child: ChildProcess = fork(fileURLToPath(entry), [], {
    env: { ...process.env, SOCKIT_WORKER_ID: String(id) },
    serialization: 'advanced',
    stdio: ['inherit', 'inherit', 'pipe', 'ipc'],
  });
  const gone = new Promise<[number | null, string | null]>((resolve) => {
    let exit: [number | null, string | null] | undefined;
    let disconnected = false;
    const check = (): void => {
      if (exit && disconnected) resolve(exit);
    };
    child.once('exit', (code, signal) => {
      exit = [code, signal];
      disconnected ||= !child.connected;
      check();
    });
    child.once('disconnect', () => {
      disconnected = true;
      check();
    });
  });
  child.send({ pool: 'init', id, init } satisfies ToWorkerControl);
  return {
    pid: child.pid,
    threadId: undefined,
    send: (msg, extra) => {
      if (child.connected) child.send(msg as object, extra as SendHandle | undefined);
    },
    onMessage: (fn) => child.on('message', (msg: unknown, handle: unknown) => fn(msg, handle)),
    onError: (fn) => child.on('error', fn),
    onExit: (fn) => void gone.then(([code, signal]) => fn(code, signal)),
    onOutput: (fn) => eachLine(child.stderr!, fn),
    ref: () => {
      child.ref();
      child.channel?.ref();
      (child.stderr as Partial<Socket> | null)?.ref?.();
    },
    unref: () => {
      child.unref();
      child.channel?.unref();
      (child.stderr as Partial<Socket> | null)?.unref?.();
    },
    release: () => {
      if (child.connected) child.disconnect();
    },
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** Longest line kept whole in a worker's output (a longer one is cut into several). */
const MAX_OUTPUT_LINE = 8192;

/** Call `fn` with each non-blank line of `stream`. */
function eachLine(stream: Readable, fn: (line: string) => void): void {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop()!;
    if (rest.length > MAX_OUTPUT_LINE) {
      lines.push(rest);
      rest = '';
    }
    for (const line of lines) if (line.trim() !== '') fn(line);
  });
  stream.once('end', () => {
    if (rest.trim() !== '') fn(rest);
  });
}

/** The worker side of a pool: what a worker entry module talks to. */
export interface PoolChild {
  /** This worker's number in its pool (1, 2, …). */
  readonly id: number;
  /** What the pool started every worker with. */
  readonly init: unknown;
  /** Send a message to the pool's owner (`extra`: a transfer list, for threads). */
  post(msg: unknown, extra?: readonly TransferListItem[]): void;
  /** Messages from the owner; `extra` is a socket handle sent along (processes). */
  onMessage(fn: (msg: unknown, extra: unknown) => void): void;
  /** Called when the pool asks this worker to close (`graceMs`: Infinity = wait for all). */
  onClose(fn: (graceMs: number) => void): void;
  /** Tell the pool this worker can take work. */
  ready(): void;
  /** Tell the pool this worker cannot start, and why. */
  fatal(err: unknown): void;
  /** Tell the pool this worker has closed: it is then let go. */
  closed(): void;
}

/** Connect a worker entry module to its pool. */
export async function poolChild(): Promise<PoolChild> {
  return isMainThread ? processChild() : threadChild();
}

/** A worker process closes gracefully on SIGTERM, as if its pool asked. */
let closeOnSignal: () => void = () => undefined;

function childOver(
  id: number,
  init: unknown,
  post: (msg: unknown, extra?: readonly TransferListItem[]) => void,
  listen: (fn: (msg: unknown, extra: unknown) => void) => void,
): PoolChild {
  let onClose: (graceMs: number) => void = () => undefined;
  closeOnSignal = () => onClose(Infinity);
  const owners: ((msg: unknown, extra: unknown) => void)[] = [];
  listen((msg, extra) => {
    const control = msg as Partial<ToWorkerControl>;
    if (control?.pool === 'close') onClose(control.graceMs ?? Infinity);
    else if (control?.pool === undefined) for (const fn of owners) fn(msg, extra);
  });
  return {
    id,
    init,
    post,
    onMessage: (fn) => owners.push(fn),
    onClose: (fn) => (onClose = fn),
    ready: () => post({ pool: 'ready' }),
    fatal: (err) => post({ pool: 'fatal', error: toWire(err) }),
    closed: () => post({ pool: 'closed' }),
  };
}

function threadChild(): PoolChild {
  const port = parentPort!;
  const { id, init } = workerData as { id: number; init: unknown };
  return childOver(
    id,
    init,
    (msg, extra) => port.postMessage(msg, extra),
    (fn) => port.on('message', (msg: unknown) => fn(msg, undefined)),
  );
}

async function processChild(): Promise<PoolChild> {
  if (!process.send) throw new Error('a pool worker process needs an IPC channel');
  // Ctrl-C reaches the whole process group: the parent decides how workers stop.
  process.on('SIGINT', () => undefined);
  // The parent is gone (or let this worker go): nothing is left to serve.
  process.once('disconnect', () => process.exit(0));
  const first = await new Promise<{ id: number; init: unknown }>((resolve) =>
    process.once('message', (msg: { id: number; init: unknown }) => resolve(msg)),
  );
  const child = childOver(
    first.id,
    first.init,
    (msg) => {
      if (process.connected) process.send!(msg);
    },
    (fn) => process.on('message', (msg: unknown, handle: unknown) => fn(msg, handle)),
  );
  process.once('SIGTERM', () => closeOnSignal());
  return child;
}
