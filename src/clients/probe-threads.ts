/**
 * Large TCP scans on worker threads: the ports are handed out in blocks, in
 * order, so that results can still be reported in port order as they come.
 */
import { availableParallelism } from 'node:os';
import type { ResolvedAddress } from '../net/resolve.js';
import {
  THREADED_SCAN_MIN_PORTS,
  burstResult,
  type ConnectExOptions,
  type ProbeResult,
} from './probe-core.js';
import type { PoolWorker } from '../net/worker-pool.js';
import { builtSibling } from '../net/built-module.js';
import type { FromProbeWorker, ProbeWorkerInit } from './probe-worker.js';

/** What decides whether and how a scan uses threads (a part of `probe()`'s options). */
export interface ThreadOptions extends Pick<
  ConnectExOptions,
  'useNet' | 'localAddress' | 'localPort'
> {
  readonly udp?: boolean;
  readonly wait?: number;
  readonly threads?: number;
  readonly signal?: AbortSignal;
}

/** How many threads a scan of `ports` ports uses (1: none). */
export function threadCount(opts: ThreadOptions, ports: number): number {
  if (opts.udp || opts.wait !== undefined || opts.localPort !== undefined) return 1;
  if (ports < THREADED_SCAN_MIN_PORTS) return 1;
  const wanted = opts.threads ?? Math.min(availableParallelism(), 4);
  return Math.max(1, Math.min(Math.floor(wanted), 16));
}

/** What the threads of a scan share. */
export interface ThreadedScan {
  readonly host: string;
  readonly addresses: readonly ResolvedAddress[];
  readonly list: readonly number[];
  readonly timeoutMs: number;
}

const BLOCK = 1024;

/** Hands out blocks of ports in order, and knows when every thread is done. */
class PortDealer {
  #next = 0;
  #done = 0;
  constructor(
    readonly list: readonly number[],
    readonly threads: number,
  ) {}

  /** The next block (none once aborted). */
  take(aborted: boolean): { ports: number[]; end: boolean } {
    if (aborted) return { ports: [], end: true };
    const ports = this.list.slice(this.#next, this.#next + BLOCK);
    this.#next += ports.length;
    return { ports, end: this.#next >= this.list.length };
  }

  /** A thread has finished; true when it was the last. */
  finished(): boolean {
    return ++this.#done >= this.threads;
  }
}

function burstResults(scan: ThreadedScan, ports: number[], status: number[]): ProbeResult[] {
  const address = scan.addresses[0]?.address ?? '';
  return ports.map((port, i) => burstResult(scan.host, address, port, status[i]!));
}

/**
 * Run a TCP scan on `threads` worker threads of a worker pool, handing out blocks
 * of ports in order so results can be reported in order as they come.
 */
export async function probeInThreads(
  scan: ThreadedScan,
  concurrency: number,
  threads: number,
  opts: ThreadOptions,
  onBatch: (results: ProbeResult[]) => void,
): Promise<boolean> {
  const { WorkerPool } = await import('../net/worker-pool.js');
  const entry = builtSibling('probe-worker', import.meta.url);
  const init: ProbeWorkerInit = {
    host: scan.host,
    addresses: scan.addresses,
    timeoutMs: scan.timeoutMs,
    concurrency: Math.max(1, Math.floor(concurrency / threads)),
    opts: { useNet: opts.useNet, localAddress: opts.localAddress },
  };
  const pool = new WorkerPool({
    backend: 'thread',
    entry,
    size: threads,
    init,
    replace: false,
  });
  const dealer = new PortDealer(scan.list, threads);
  const signal = opts.signal;
  let onAbort: (() => void) | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      onAbort = resolve; // stop waiting: the pool is closed below
      signal?.addEventListener('abort', onAbort, { once: true });
      pool.on('message', (w: PoolWorker, m: FromProbeWorker) => {
        if (m.results.length > 0) onBatch(m.results);
        if (m.ports.length > 0) onBatch(burstResults(scan, m.ports, m.status));
        if (m.done) pool.end(w);
        if (m.done && dealer.finished()) resolve();
        else if (m.want) w.send(dealer.take(signal?.aborted === true));
      });
      pool.on('exit', () => reject(new Error('probe worker exited')));
      pool.start().then(() => {
        for (const w of pool.workers) {
          pool.begin(w); // a scanning thread keeps the process alive
          w.send(dealer.take(signal?.aborted === true));
        }
      }, reject);
    });
  } finally {
    if (onAbort) signal?.removeEventListener('abort', onAbort);
    await pool.close(0);
  }
  return true;
}
