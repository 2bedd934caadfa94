/**
 * What the two pooled modes share over one WorkerPool (which supervises): each
 * request tracked on its worker, so that a worker's death fails exactly its
 * requests; datagram jobs, whose replies leave from here; the worker events.
 */
import type { SocketAddress } from '../net/address.js';
import { oneLine } from '../net/errors.js';
import { fromWire } from '../net/wire.js';
import {
  WorkerPool,
  printWorkerOutput,
  type BackendKind,
  type PoolWorker,
  type WorkerExit,
} from '../net/worker-pool.js';
import type { ConcurrencyMode } from './modes.js';
import { DatagramConnection } from './datagram-connection.js';
import type { ConcurrencyStrategy, RequestOutcome, ServerHooks } from './strategy.js';
import { builtSibling } from '../net/built-module.js';
import type { AddressMessage, DatagramJob, FromWorker } from './worker-protocol.js';

/** A request running on a worker. */
interface Job {
  readonly worker: PoolWorker;
  readonly replies: Promise<void>[];
  readonly datagram?: DatagramConnection;
  settle(err: Error | undefined, outcome?: RequestOutcome): void;
}

/** Base of the `threading` and `forking` strategies. */
export abstract class PooledStrategy implements ConcurrencyStrategy {
  abstract readonly mode: ConcurrencyMode;
  /** Worker threads or child processes. */
  protected abstract readonly backend: BackendKind;
  /** The worker entry module (a sibling of this one). */
  protected abstract readonly entry: 'thread-worker' | 'fork-worker';
  protected host!: ServerHooks;
  protected pool!: WorkerPool;
  readonly #jobs = new Map<number, Job>();
  /** Workers told the bound address already (they start before the bind). */
  readonly #informed = new WeakSet<PoolWorker>();
  #nextId = 0;

  async start(host: ServerHooks): Promise<void> {
    this.host = host;
    this.pool = new WorkerPool({
      backend: this.backend,
      entry: builtSibling(this.entry, import.meta.url),
      size: host.workers,
      init: host.spec(),
    });
    const describe = (w: PoolWorker) => ({ id: w.id, pid: w.pid, threadId: w.threadId });
    this.pool.on('spawn', (w: PoolWorker) => host.emit('workerStart', describe(w)));
    this.pool.on('ready', (w: PoolWorker) => host.emit('workerReady', describe(w)));
    this.pool.on('output', (w: PoolWorker, line: string) => {
      if (!host.emit('workerOutput', describe(w), line)) printWorkerOutput(w, line);
    });
    this.pool.on('message', (_w: PoolWorker, msg: FromWorker) => this.#onMessage(msg));
    this.pool.on('exit', (info: WorkerExit, w: PoolWorker) => this.#onExit(info, w));
    this.pool.on('giveUp', () => host.giveUp());
    await this.pool.start();
  }

  canStart(): boolean {
    return true;
  }

  processRequest(request: unknown, clientAddress: SocketAddress): Promise<RequestOutcome | void> {
    const worker = this.pool.pick();
    if (!worker) return Promise.reject(new Error('no worker is left to run the handler'));
    if (!(request instanceof DatagramConnection)) {
      return this.runStream(worker, request, clientAddress);
    }
    const { data } = request;
    return this.track(
      worker,
      (id) => this.post(worker, { type: 'datagram', id, data, clientAddress }),
      request,
    );
  }

  /** Run a stream connection's handler on `worker`. */
  protected abstract runStream(
    worker: PoolWorker,
    connection: unknown,
    clientAddress: SocketAddress,
  ): Promise<RequestOutcome | void>;

  /** Send a job message (its data is the worker's to keep). */
  protected abstract post(worker: PoolWorker, msg: DatagramJob): void;

  /**
   * Track a request on `worker` until `start`'s job settles it (or the worker dies).
   * Resolves with what the job reports.
   */
  protected track(
    worker: PoolWorker,
    start: (id: number, settle: Job['settle']) => void,
    datagram?: DatagramConnection,
  ): Promise<RequestOutcome | void> {
    const id = ++this.#nextId;
    return new Promise((resolve, reject) => {
      const job: Job = {
        worker,
        replies: [],
        datagram,
        settle: (err, outcome) => {
          if (this.#jobs.get(id) !== job) return;
          this.#jobs.delete(id);
          this.pool.end(worker);
          // a request that failed after moving bytes keeps its counts
          if (!err) resolve(outcome);
          else if (outcome) resolve({ ...outcome, error: err });
          else reject(err);
        },
      };
      this.#jobs.set(id, job);
      this.pool.begin(worker);
      if (!this.#informed.has(worker)) {
        this.#informed.add(worker);
        worker.send({
          type: 'address',
          address: this.host.serverAddress(),
        } satisfies AddressMessage);
      }
      start(id, job.settle);
    });
  }

  /** A message from a worker: events, replies and ends of jobs. */
  #onMessage(msg: FromWorker): void {
    if (msg.type === 'event') {
      this.host.emit(msg.name, ...msg.args);
      return;
    }
    const job = this.#jobs.get(msg.id);
    if (!job) return;
    if (msg.type === 'reply') {
      const sent = job.datagram?.reply(msg.data);
      if (sent) {
        sent.catch(() => undefined); // reported through Promise.all below
        job.replies.push(sent);
      }
      return;
    }
    const error = msg.error ? fromWire(msg.error) : undefined;
    Promise.all(job.replies).then(
      () => job.settle(error, msg.outcome),
      (err: unknown) => job.settle(err as Error),
    );
  }

  #onExit(info: WorkerExit, worker: PoolWorker): void {
    const why = info.error ? oneLine(info.error) : (info.signal ?? `exit code ${info.code}`);
    const label = this.backend === 'thread' ? 'worker thread' : 'worker process';
    const err = new Error(`${label} ${info.threadId ?? info.pid ?? info.id} died — ${why}`);
    for (const job of [...this.#jobs.values()]) if (job.worker === worker) job.settle(err);
    this.host.emit('workerExit', info);
  }

  close(graceMs: number): Promise<void> {
    return this.pool ? this.pool.close(graceMs) : Promise.resolve();
  }

  endGrace(): void {
    this.pool?.endGrace();
  }
}
