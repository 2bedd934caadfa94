/**
 * Large TCP scans on worker threads: the ports are handed out in blocks, in
 * order, so that results can still be reported in port order as they come.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { ResolvedAddress } from '../net/resolve.js';
import type { ConnectExOptions, ProbeResult } from './probe-core.js';
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

/** Ports from which a scan is split across threads. */
export const THREADED_SCAN_MIN_PORTS = 2048;

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

const WORKER_URL = new URL('./probe-worker.js', import.meta.url);
const BLOCK = 1024;

/**
 * Run a TCP scan on `threads` worker threads, handing out blocks of ports in
 * order so results can be reported in order as they come. Resolves false when
 * the worker module is not there (running from sources), so the caller probes
 * on this thread instead.
 */
export async function probeInThreads(
  scan: ThreadedScan,
  concurrency: number,
  threads: number,
  opts: ThreadOptions,
  onBatch: (results: ProbeResult[]) => void,
): Promise<boolean> {
  if (WORKER_URL.protocol !== 'file:' || !existsSync(fileURLToPath(WORKER_URL))) return false;
  const { Worker } = await import('node:worker_threads');
  const { host, addresses, list, timeoutMs } = scan;
  let next = 0;
  const take = (): { ports: number[]; end: boolean } => {
    const ports = list.slice(next, next + BLOCK);
    next += ports.length;
    return { ports, end: next >= list.length };
  };
  const init: ProbeWorkerInit = {
    host,
    addresses,
    timeoutMs,
    concurrency: Math.max(1, Math.floor(concurrency / threads)),
    opts: { useNet: opts.useNet, localAddress: opts.localAddress },
  };
  const workers: InstanceType<typeof Worker>[] = [];
  const signal = opts.signal;
  const stopAll = (): void => {
    for (const w of workers) void w.terminate();
  };
  signal?.addEventListener('abort', stopAll, { once: true });
  try {
    await Promise.all(
      Array.from({ length: threads }, () => {
        const w = new Worker(WORKER_URL, { workerData: init });
        workers.push(w);
        return new Promise<void>((resolve, reject) => {
          let finished = false;
          w.on('message', (m: FromProbeWorker) => {
            if (m.results.length > 0) onBatch(m.results);
            if (m.done) {
              finished = true;
              resolve();
            } else if (m.want) {
              w.postMessage(signal?.aborted ? { ports: [], end: true } : take());
            }
          });
          w.once('error', reject);
          w.once('exit', () =>
            finished || signal?.aborted ? resolve() : reject(new Error('probe worker exited')),
          );
          w.postMessage(take());
        });
      }),
    );
  } finally {
    signal?.removeEventListener('abort', stopAll);
    stopAll();
  }
  return true;
}
