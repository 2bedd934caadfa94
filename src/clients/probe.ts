/**
 * Python's `connect_ex` for Node, and port probes built on it: TCP connect
 * probes over ranges and lists, concurrent and bounded, with a per-port
 * timeout, retries until open (`wait`), self-connect detection, and UDP
 * probes that say `closed` only on an ICMP refusal.
 */
import { createSocket } from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Buffer } from 'node:buffer';
import { NetworkError, UsageError, errnoName } from '../net/errors.js';
import { parsePortSpec } from './ports.js';
import { resolveHost, type ResolvedAddress } from '../net/resolve.js';
import { errnoNumber } from '../net/errors.js';
import {
  attemptAll,
  stateOf,
  tcpProbe,
  type ConnectExOptions,
  type ConnectExResult,
  type ProbeResult,
} from './probe-core.js';

import type { FromProbeWorker, ProbeWorkerInit } from './probe-worker.js';
import { pause as sleepFor } from './pause.js';

export type { ConnectExOptions, ConnectExResult, PortState, ProbeResult } from './probe-core.js';

/** Default seconds a TCP probe waits for an answer. */
export const DEFAULT_PROBE_TIMEOUT = 3;
/** Default seconds a UDP probe waits for a refusal or a reply. */
export const DEFAULT_UDP_PROBE_TIMEOUT = 1;
/** Default number of probes in flight. */
export const DEFAULT_CONCURRENCY = 512;

/**
 * Python's `socket.connect_ex((host, port))`: try to connect, close at once,
 * and return 0 or the errno instead of throwing. Every address the host
 * resolves to is tried in turn until one accepts. Never waits longer than
 * `timeout` seconds per address (ETIMEDOUT). Rejects only when the host name
 * does not resolve.
 */
export async function connectEx(
  host: string,
  port: number,
  opts: ConnectExOptions = {},
): Promise<ConnectExResult> {
  const addresses = await resolveHost(host, opts.family, opts.lookup);
  return attemptAll(addresses, port, (opts.timeout ?? DEFAULT_PROBE_TIMEOUT) * 1000, opts);
}

/** Options of {@link probe}. */
export interface ProbeOptions extends ConnectExOptions {
  /** Probe UDP: closed only on an ICMP refusal, open on a reply, else open|filtered. */
  udp?: boolean;
  /** Probes in flight at once (default 512, kept below the open-file limit). */
  concurrency?: number;
  /** Retry each port until it is open or this many seconds have passed (wait-for-it). */
  wait?: number;
  /** With `wait`: keep retrying until every port is open (default: until one is). */
  all?: boolean;
  /** Payload of each UDP probe (default empty). */
  udpPayload?: Uint8Array;
  /** Called with each final result, in port order. */
  onResult?: (result: ProbeResult) => void;
  /** Called after every attempt, including the retries of `wait` that are not final. */
  onAttempt?: (result: ProbeResult, attempt: number) => void;
  /** Called after each final result with progress counts (any order). */
  onProgress?: (done: number, total: number, open: number) => void;
  /** Stop early: ports not yet probed are left out of the results. */
  signal?: AbortSignal;
  /**
   * Worker threads for large TCP scans (default: the CPU count, at most 4; 1 = this
   * thread only). Used from 2,048 ports up, never with `wait` or a source port.
   */
  threads?: number;
}

/** The soft limit on open files, from /proc/self/limits (undefined when unknown). */
export function openFileLimit(): number | undefined {
  try {
    const text = readFileSync('/proc/self/limits', 'utf8');
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(text);
    if (!m) return undefined;
    return m[1] === 'unlimited' ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

/** A concurrency that never exhausts file descriptors: at most the limit minus headroom. */
export function boundedConcurrency(wanted: number = DEFAULT_CONCURRENCY): number {
  const limit = openFileLimit();
  const cap = limit === undefined ? wanted : Math.max(1, limit - 64);
  return Math.max(1, Math.min(Math.floor(wanted), cap));
}

interface UdpOutcome {
  code: string;
  replied: boolean;
}

function udpAttempt(
  a: ResolvedAddress,
  port: number,
  timeoutMs: number,
  payload: Uint8Array,
  opts: ConnectExOptions,
): Promise<UdpOutcome> {
  return new Promise((resolve) => {
    const socket = createSocket(a.family === 6 ? 'udp6' : 'udp4');
    let settled = false;
    const settle = (r: UdpOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      try {
        socket.close();
      } catch {
        // already closed
      }
      resolve(r);
    };
    const timer = setTimeout(() => settle({ code: '0', replied: false }), timeoutMs);
    // a connected UDP socket reports an ICMP port-unreachable as an ECONNREFUSED error
    socket.on('error', (err) => settle({ code: errnoName(err) ?? 'EIO', replied: false }));
    socket.on('message', () => settle({ code: '0', replied: true }));
    const go = (): void =>
      socket.connect(port, a.address, () => {
        socket.send(payload, (err) => {
          if (err) settle({ code: errnoName(err) ?? 'EIO', replied: false });
        });
      });
    if (opts.localAddress !== undefined || opts.localPort !== undefined) {
      socket.bind({ address: opts.localAddress, port: opts.localPort ?? 0 }, go);
    } else go();
  });
}

async function udpAll(
  addresses: readonly ResolvedAddress[],
  port: number,
  timeoutMs: number,
  payload: Uint8Array,
  opts: ConnectExOptions,
): Promise<{ code: string; replied: boolean; address: string }> {
  let last = { code: 'EADDRNOTAVAIL', replied: false, address: '' };
  for (const a of addresses) {
    const r = await udpAttempt(a, port, timeoutMs, payload, opts);
    last = { ...r, address: a.address };
    if (r.code !== 'ECONNREFUSED') return last;
  }
  return last;
}

/**
 * Probe `ports` (a list or a spec such as `"22,80,8000-8100"`) on `host`, like
 * `nc -z`. Runs up to `concurrency` probes at once, each bounded by `timeout`,
 * and resolves with one result per port in port order (`onResult` sees them in
 * that order as they become final). With `wait`, closed ports are retried until
 * they open or the time runs out. Rejects only when the host does not resolve.
 */
export async function probe(
  host: string,
  ports: readonly number[] | string,
  opts: ProbeOptions = {},
): Promise<ProbeResult[]> {
  const udp = opts.udp === true;
  const list =
    typeof ports === 'string'
      ? parsePortSpec(ports, { proto: udp ? 'udp' : 'tcp' })
      : checkPorts(ports);
  const deadline = opts.wait !== undefined ? Date.now() + opts.wait * 1000 : undefined;
  const addresses = await resolveUntil(host, opts, deadline);
  const timeoutMs =
    (opts.timeout ?? (udp ? DEFAULT_UDP_PROBE_TIMEOUT : DEFAULT_PROBE_TIMEOUT)) * 1000;
  const payload = opts.udpPayload ?? Buffer.alloc(0);
  const results: (ProbeResult | undefined)[] = new Array<ProbeResult | undefined>(list.length);
  let next = 0;
  let emitted = 0;
  let done = 0;
  let openCount = 0;
  const signal = opts.signal;
  // Without --all, the first open port ends every retry loop.
  const satisfied = (): boolean =>
    signal?.aborted === true || (!opts.all && openCount > 0 && deadline !== undefined);

  const once = async (port: number, budgetMs: number): Promise<ProbeResult> => {
    if (udp) {
      const r = await udpAll(addresses, port, budgetMs, payload, opts);
      const state = stateOf(r.code, true, r.replied);
      return {
        host,
        address: r.address,
        port,
        proto: 'udp',
        open: state === 'open',
        state,
        errno: r.code,
        errnum: errnoNumber(r.code),
      };
    }
    return tcpProbe(host, addresses, port, budgetMs, opts);
  };

  const probeOne = async (port: number): Promise<ProbeResult> => {
    let attempt = 0;
    for (;;) {
      const remaining = deadline === undefined ? timeoutMs : deadline - Date.now();
      const result = await once(port, Math.max(1, Math.min(timeoutMs, remaining)));
      opts.onAttempt?.(result, attempt);
      const success = result.state !== 'closed' && (udp || result.open);
      if (success || deadline === undefined || satisfied()) return result;
      const pause = Math.min(attempt < 20 ? 100 : 250, deadline - Date.now());
      if (pause <= 0) return result;
      await sleepFor(pause, signal);
      if (satisfied() || Date.now() >= deadline) return result;
      attempt += 1;
    }
  };

  const flush = (): void => {
    while (emitted < list.length) {
      const r = results[emitted];
      if (r === undefined) break;
      opts.onResult?.(r);
      emitted += 1;
    }
  };

  const record = (index: number, r: ProbeResult): void => {
    results[index] = r;
    done += 1;
    if (r.open || (udp && r.state !== 'closed')) openCount += 1;
  };

  const worker = async (): Promise<void> => {
    while (next < list.length && signal?.aborted !== true) {
      const index = next;
      next += 1;
      record(index, await probeOne(list[index]!));
      opts.onProgress?.(done, list.length, openCount);
      flush();
    }
  };

  const concurrency = Math.min(
    list.length,
    opts.localPort !== undefined ? 1 : boundedConcurrency(opts.concurrency ?? DEFAULT_CONCURRENCY),
  );
  const threads = threadCount(opts, list.length);
  const threaded =
    threads > 1 &&
    (await probeInThreads(host, addresses, list, timeoutMs, concurrency, threads, opts, (batch) => {
      for (const r of batch) record(indexOf(list, r.port), r);
      opts.onProgress?.(done, list.length, openCount);
      flush();
    }));
  if (!threaded) await Promise.all(Array.from({ length: concurrency }, worker));
  return results.filter((r): r is ProbeResult => r !== undefined);
}

/**
 * Resolve `host`; with a deadline (`wait`), a name that does not resolve yet (a
 * container that is still starting) is retried until the deadline.
 */
async function resolveUntil(
  host: string,
  opts: ProbeOptions,
  deadline: number | undefined,
): Promise<ResolvedAddress[]> {
  for (;;) {
    try {
      return await resolveHost(host, opts.family, opts.lookup);
    } catch (err) {
      const left = deadline === undefined ? 0 : deadline - Date.now();
      if (!(err instanceof NetworkError) || left <= 0 || opts.signal?.aborted) throw err;
      await sleepFor(Math.min(250, left), opts.signal);
    }
  }
}

function checkPorts(ports: readonly number[]): number[] {
  for (const p of ports) {
    if (!Number.isInteger(p) || p < 1 || p > 65535) {
      throw new UsageError(`invalid port ${p} — expected 1-65535`);
    }
  }
  return [...new Set(ports)].sort((a, b) => a - b);
}

/** Index of `port` in the sorted `list` (binary search). */
function indexOf(list: readonly number[], port: number): number {
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = list[mid]!;
    if (v === port) return mid;
    if (v < port) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** Ports from which a scan is split across threads. */
export const THREADED_SCAN_MIN_PORTS = 2048;

function threadCount(opts: ProbeOptions, ports: number): number {
  if (opts.udp || opts.wait !== undefined || opts.localPort !== undefined) return 1;
  if (ports < THREADED_SCAN_MIN_PORTS) return 1;
  const wanted = opts.threads ?? Math.min(availableParallelism(), 4);
  return Math.max(1, Math.min(Math.floor(wanted), 16));
}

const WORKER_URL = new URL('./probe-worker.js', import.meta.url);
const BLOCK = 1024;

/**
 * Run a TCP scan on `threads` worker threads, handing out blocks of ports in
 * order so results can be reported in order as they come. Resolves false when
 * the worker module is not there (running from sources), so the caller probes
 * on this thread instead.
 */
async function probeInThreads(
  host: string,
  addresses: readonly ResolvedAddress[],
  list: readonly number[],
  timeoutMs: number,
  concurrency: number,
  threads: number,
  opts: ProbeOptions,
  onBatch: (results: ProbeResult[]) => void,
): Promise<boolean> {
  if (WORKER_URL.protocol !== 'file:' || !existsSync(fileURLToPath(WORKER_URL))) return false;
  const { Worker } = await import('node:worker_threads');
  let next = 0;
  const take = (): { ports: number[]; end: boolean } => {
    const ports = list.slice(next, next + BLOCK);
    next += ports.length;
    return { ports, end: next >= list.length };
  };
  const per = Math.max(1, Math.floor(concurrency / threads));
  const workers: InstanceType<typeof Worker>[] = [];
  const signal = opts.signal;
  const stopAll = (): void => {
    for (const w of workers) void w.terminate();
  };
  signal?.addEventListener('abort', stopAll, { once: true });
  try {
    await Promise.all(
      Array.from({ length: threads }, () => {
        const init: ProbeWorkerInit = {
          host,
          addresses,
          timeoutMs,
          concurrency: per,
          opts: { useNet: opts.useNet, localAddress: opts.localAddress },
        };
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
