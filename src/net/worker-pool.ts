/**
 * One pool of workers for every part of sockit that runs work elsewhere: the
 * engine's `threading` and `forking` concurrency models and the scanner's
 * threads. Supervision is written once, here: spawn, the ready/fatal handshake,
 * the quick-death policy (replace a dead worker, or give up when they keep dying
 * at start), exit reports, least-loaded picking, and close with grace. A back
 * end (pool-backend.ts) is either worker threads or child processes; the
 * messages a pool carries besides its own control messages are its owner's
 * protocol.
 *
 * Events: `spawn` (worker), `ready` (worker), `message` (worker, msg, handle),
 * `output` (worker, line: what it wrote to its stderr; with no listener the line
 * goes to this process's stderr, escaped), `exit` ({@link WorkerExit}, worker),
 * `giveUp` ().
 */
import { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import { oneLine } from './errors.js';
import { debug } from './debug.js';
import { safeLine } from './terminal.js';
import {
  spawnWorker,
  type BackendKind,
  type SpawnedWorker,
  type ToWorkerControl,
} from './pool-backend.js';
import { fromWire, type WireError } from './wire.js';

export type { BackendKind } from './pool-backend.js';

/** A worker dying this soon after it became ready, having served nothing, counts as a failed start. */
export const QUICK_DEATH_MS = 1000;
/** Failed starts in a row after which the pool stops replacing workers. */
export const MAX_QUICK_DEATHS = 5;
/** How long a closing worker may take beyond the grace period before it is killed. */
const EXIT_MARGIN_MS = 5000;

/** How a pool is made. */
export interface PoolOptions {
  /** Worker threads or child processes. */
  readonly backend: BackendKind;
  /** The worker entry module. */
  readonly entry: URL;
  /** Workers in the pool (0 or less: the CPU count). */
  readonly size: number;
  /** What every worker starts with (structured-cloneable). */
  readonly init: unknown;
  /** Replace a worker that dies (default true). */
  readonly replace?: boolean;
}

/** What the `exit` event reports. */
export interface WorkerExit {
  readonly id: number;
  readonly pid: number | undefined;
  readonly threadId: number | undefined;
  readonly code: number | null;
  readonly signal: string | null;
  /** Why it died, when it said (a fatal error, an uncaught exception). */
  readonly error: Error | undefined;
  /** The pool stopped replacing workers: they keep dying at start. */
  readonly gaveUp: boolean;
}

/** Messages every worker sends besides its owner's protocol. */
type FromWorkerControl =
  { pool: 'ready' } | { pool: 'fatal'; error: WireError } | { pool: 'closed' };

/** A worker of the pool, as its owner sees it. */
export class PoolWorker {
  /** Requests running on it (its owner counts them with `begin`/`end`). */
  load = 0;
  /** Requests it has been given in all. */
  served = 0;
  ready = false;
  /** When it became ready (a death soon after, having served nothing, is a failed start). */
  readyAt = 0;
  closing = false;
  error: Error | undefined;

  constructor(
    /** 1, 2, 3… in the order the pool started them. */
    readonly id: number,
    readonly handle: SpawnedWorker,
  ) {}

  /** The process id (process back end). */
  get pid(): number | undefined {
    return this.handle.pid;
  }

  /** The thread id (thread back end). */
  get threadId(): number | undefined {
    return this.handle.threadId;
  }

  /** Send a message; `extra` is a transfer list (threads) or a socket handle (processes). */
  send(msg: unknown, extra?: unknown): void {
    this.handle.send(msg, extra);
  }
}

/** A worker's line of output on this process's stderr, escaped: `worker 2: …`. */
export function printWorkerOutput(worker: PoolWorker, line: string): void {
  process.stderr.write(`${safeLine(`worker ${worker.id}: ${line}`)}\n`);
}

let live = 0;

/** Workers (threads and processes) alive right now across every pool of this process. */
export function liveWorkers(): number {
  return live;
}

function isControl(msg: unknown): msg is FromWorkerControl {
  return typeof msg === 'object' && msg !== null && 'pool' in msg;
}

/** A pool of worker threads or processes; see the module comment. */
export class WorkerPool extends EventEmitter {
  readonly #opts: PoolOptions;
  readonly #size: number;
  readonly #workers = new Map<number, PoolWorker>();
  #nextId = 0;
  #rotate = 0;
  #quickDeaths = 0;
  #phase: 'starting' | 'running' | 'closing' = 'starting';
  #closing: Promise<void> | undefined;

  constructor(opts: PoolOptions) {
    super();
    this.#opts = opts;
    this.#size = opts.size > 0 ? Math.floor(opts.size) : availableParallelism();
  }

  /** Start every worker; resolves once all are ready, rejects with the first that failed. */
  async start(): Promise<void> {
    try {
      await Promise.all(Array.from({ length: this.#size }, () => this.#spawn()));
    } catch (err) {
      await this.close(0);
      throw err;
    }
    this.#phase = 'running';
  }

  /** Workers alive now. */
  get workers(): PoolWorker[] {
    return [...this.#workers.values()].filter((w) => !w.closing);
  }

  #spawn(): Promise<void> {
    const id = ++this.#nextId;
    const handle = spawnWorker(this.#opts.backend, this.#opts.entry, id, this.#opts.init);
    const worker = new PoolWorker(id, handle);
    live += 1;
    this.#workers.set(id, worker);
    this.emit('spawn', worker);
    return new Promise<void>((resolve, reject) => {
      handle.onMessage((msg, extra) => {
        if (!isControl(msg)) this.emit('message', worker, msg, extra);
        else this.#onControl(worker, msg, resolve, reject);
      });
      handle.onError((err) => (worker.error ??= err));
      handle.onOutput((line) => {
        if (!this.emit('output', worker, line)) printWorkerOutput(worker, line);
      });
      handle.onExit((code, signal) => {
        reject(
          worker.error ?? new Error(`worker ${id} exited (${signal ?? `code ${code}`}) at start`),
        );
        this.#onExit(worker, code, signal);
      });
    });
  }

  #onControl(
    worker: PoolWorker,
    msg: FromWorkerControl,
    ready: () => void,
    failed: (err: Error) => void,
  ): void {
    if (msg.pool === 'ready') {
      worker.ready = true;
      worker.readyAt = Date.now();
      if (worker.load === 0) worker.handle.unref();
      this.emit('ready', worker);
      ready();
    } else if (msg.pool === 'fatal') {
      worker.error = fromWire(msg.error);
      failed(worker.error);
    } else {
      worker.handle.release(); // closed gracefully: nothing of it is needed any more
    }
  }

  #onExit(worker: PoolWorker, code: number | null, signal: string | null): void {
    live -= 1;
    this.#workers.delete(worker.id);
    if (this.#phase !== 'running' || worker.closing) return;
    const quick =
      !worker.ready || (worker.served === 0 && Date.now() - worker.readyAt < QUICK_DEATH_MS);
    this.#quickDeaths = quick ? this.#quickDeaths + 1 : 0;
    const gaveUp = this.#quickDeaths >= MAX_QUICK_DEATHS || this.#opts.replace === false;
    const info: WorkerExit = {
      id: worker.id,
      pid: worker.pid,
      threadId: worker.threadId,
      code,
      signal,
      error: worker.error,
      gaveUp: this.#quickDeaths >= MAX_QUICK_DEATHS,
    };
    this.emit('exit', info, worker);
    if (!gaveUp) {
      this.#spawn().catch((err: unknown) => debug('replacement worker failed: %s', oneLine(err)));
    } else if (info.gaveUp || this.#workers.size === 0) {
      this.emit('giveUp');
    }
  }

  /** The least-loaded ready worker; ties go round-robin so that idle workers all get work. */
  pick(): PoolWorker | undefined {
    const all = this.workers.filter((w) => w.ready);
    let best: PoolWorker | undefined;
    for (let k = 0; k < all.length; k++) {
      const w = all[(this.#rotate + k) % all.length]!;
      if (!best || w.load < best.load) best = w;
    }
    this.#rotate = all.length > 0 ? (this.#rotate + 1) % all.length : 0;
    return best;
  }

  /** A request starts on `worker`: it keeps the process alive while anything runs. */
  begin(worker: PoolWorker): void {
    worker.served += 1;
    if (worker.load++ === 0) worker.handle.ref();
  }

  /** A request on `worker` is over. */
  end(worker: PoolWorker): void {
    if (--worker.load === 0 && worker.ready) worker.handle.unref();
  }

  /**
   * Ask every worker to finish what it runs (at most `graceMs`) and stop; one still
   * there `EXIT_MARGIN_MS` after the grace is killed. Idempotent.
   */
  close(graceMs = Infinity): Promise<void> {
    this.#closing ??= this.#stop(graceMs);
    return this.#closing;
  }

  async #stop(graceMs: number): Promise<void> {
    this.#phase = 'closing';
    const workers = [...this.#workers.values()];
    const exited = workers.map(
      (w) => new Promise<void>((resolve) => w.handle.onExit(() => resolve())),
    );
    const timers = workers.map((w) => {
      w.closing = true;
      w.handle.ref(); // until it is gone, whatever it was doing
      if (!w.ready) {
        w.handle.kill();
        return undefined;
      }
      this.#tell(w, { pool: 'close', graceMs: Number.isFinite(graceMs) ? graceMs : null });
      if (!Number.isFinite(graceMs)) return undefined;
      return setTimeout(() => w.handle.kill(), graceMs + EXIT_MARGIN_MS);
    });
    await Promise.all(exited);
    for (const t of timers) if (t) clearTimeout(t);
  }

  /** The grace period of a close was cut short: workers stop what still runs. */
  endGrace(): void {
    for (const w of this.#workers.values()) this.#tell(w, { pool: 'close', graceMs: 0 });
  }

  #tell(worker: PoolWorker, msg: ToWorkerControl): void {
    try {
      worker.send(msg);
    } catch (err) {
      debug('worker %d: %s', worker.id, oneLine(err));
    }
  }
}
