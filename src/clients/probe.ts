/**
 * Python's `connect_ex` for Node, and port probes built on it: TCP connect
 * probes over ranges and lists, concurrent and bounded, with a per-port
 * timeout, retries until open (`wait`), self-connect detection, and UDP
 * probes that say `closed` only on an ICMP refusal.
 */
import { Buffer } from 'node:buffer';
import { NetworkError, UsageError, errnoNumber } from '../net/errors.js';
import { ascendingOnce, parsePortSpec } from './ports.js';
import { openFileLimit } from '../net/limits.js';

export { openFileLimit };
import { resolveHost, type ResolvedAddress } from '../net/resolve.js';
import {
  THREADED_SCAN_MIN_PORTS,
  attemptAll,
  tcpProbe,
  type ConnectExOptions,
  type ConnectExResult,
  type ProbeResult,
} from './probe-core.js';
import type { udpProbe as UdpProbe } from './udp-probe.js';
import { pause } from './pause.js';
import type { TlsClient, TlsClientOptions } from '../net/tls.js';
import { tlsClientOf } from './tls-client.js';
import type { tlsProbe as TlsProbe } from './tls-probe.js';

export type {
  ConnectExOptions,
  ConnectExResult,
  PortState,
  ProbeResult,
  TlsProbeInfo,
} from './probe-core.js';
export { THREADED_SCAN_MIN_PORTS };

/** Default seconds a TCP probe waits for an answer. */
export const DEFAULT_PROBE_TIMEOUT = 3;
/** Default seconds a UDP probe waits for a refusal or a reply. */
export const DEFAULT_UDP_PROBE_TIMEOUT = 1;
/** Default number of probes in flight. */
export const DEFAULT_CONCURRENCY = 512;

/**
 * Python's `socket.connect_ex((host, port))`: try to connect, close at once,
 * and return 0 or the errno instead of throwing. The addresses the host resolves
 * to race Happy Eyeballs style (the next starts 250 ms later or when the one
 * before fails) until one accepts, all within `timeout` seconds (ETIMEDOUT).
 * Rejects only when the host name does not resolve.
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
   * thread only). Used from 2,048 ports up, never with `wait`, a source port or TLS.
   */
  threads?: number;
  /**
   * TLS probes: a port is open only when the handshake succeeds and the peer is
   * accepted (verified unless `insecure`); each result tells what it found (`tls`).
   */
  tls?: TlsClientOptions | TlsClient;
}

/** A concurrency that never exhausts file descriptors: at most the limit minus headroom. */
export function boundedConcurrency(wanted: number = DEFAULT_CONCURRENCY): number {
  const limit = openFileLimit();
  const cap = limit === undefined ? wanted : Math.max(1, limit - 64);
  return Math.max(1, Math.min(Math.floor(wanted), cap));
}

/** One probe run over a list of ports: the retries of `wait`, the results in port order. */
class PortScan {
  readonly #host: string;
  readonly #addresses: readonly ResolvedAddress[];
  readonly #list: readonly number[];
  readonly #opts: ProbeOptions;
  readonly #udp: boolean;
  readonly #deadline: number | undefined;
  readonly #timeoutMs: number;
  readonly #payload: Uint8Array;
  #tls: { readonly client: TlsClient; readonly probe: typeof TlsProbe } | undefined;
  // the UDP, TLS and threaded probes load only for the scans that use them
  #udpProbe: typeof UdpProbe | undefined;
  readonly #results: (ProbeResult | undefined)[];
  #next = 0;
  #emitted = 0;
  #done = 0;
  #openCount = 0;

  constructor(
    host: string,
    addresses: readonly ResolvedAddress[],
    list: readonly number[],
    opts: ProbeOptions,
    deadline: number | undefined,
  ) {
    this.#host = host;
    this.#addresses = addresses;
    this.#list = list;
    this.#opts = opts;
    this.#udp = opts.udp === true;
    this.#deadline = deadline;
    const timeout = opts.timeout ?? (this.#udp ? DEFAULT_UDP_PROBE_TIMEOUT : DEFAULT_PROBE_TIMEOUT);
    this.#timeoutMs = timeout * 1000;
    this.#payload = opts.udpPayload ?? Buffer.alloc(0);
    this.#results = new Array<ProbeResult | undefined>(list.length);
  }

  async run(): Promise<ProbeResult[]> {
    const opts = this.#opts;
    const client = this.#udp ? undefined : await tlsClientOf(opts);
    if (client) this.#tls = { client, probe: (await import('./tls-probe.js')).tlsProbe };
    if (this.#udp) this.#udpProbe = (await import('./udp-probe.js')).udpProbe;
    const list = this.#list;
    // one port is one probe at a time: no need to read the open-file limit
    const concurrency =
      list.length <= 1 || opts.localPort !== undefined
        ? Math.min(list.length, 1)
        : Math.min(list.length, boundedConcurrency(opts.concurrency ?? DEFAULT_CONCURRENCY));
    const threaded =
      !this.#tls && list.length >= THREADED_SCAN_MIN_PORTS && (await this.#inThreads(concurrency));
    if (!threaded) await Promise.all(Array.from({ length: concurrency }, () => this.#worker()));
    return this.#results.filter((r): r is ProbeResult => r !== undefined);
  }

  /** A large scan split across threads; false when it takes one thread only. */
  async #inThreads(concurrency: number): Promise<boolean> {
    const { probeInThreads, threadCount } = await import('./probe-threads.js');
    const opts = this.#opts;
    const threads = threadCount(opts, this.#list.length);
    if (threads <= 1) return false;
    const scan = {
      host: this.#host,
      addresses: this.#addresses,
      list: this.#list,
      timeoutMs: this.#timeoutMs,
    };
    return probeInThreads(scan, concurrency, threads, opts, this.#onBatch);
  }

  /** Without `all`, the first open port ends every retry loop of `wait`. */
  #satisfied(): boolean {
    const { signal, all } = this.#opts;
    return (
      signal?.aborted === true || (!all && this.#openCount > 0 && this.#deadline !== undefined)
    );
  }

  #probeOnce(port: number, budgetMs: number): Promise<ProbeResult> {
    if (this.#udpProbe) {
      return this.#udpProbe(this.#host, this.#addresses, port, budgetMs, this.#payload, this.#opts);
    }
    if (this.#tls) {
      const { client, probe } = this.#tls;
      return probe(this.#host, this.#addresses, port, budgetMs, this.#opts, client);
    }
    return tcpProbe(this.#host, this.#addresses, port, budgetMs, this.#opts);
  }

  /** Probe a port; with `wait`, again and again until it opens or the time is up. */
  async #probePort(port: number): Promise<ProbeResult> {
    const deadline = this.#deadline;
    for (let attempt = 0; ; attempt += 1) {
      const remaining = deadline === undefined ? this.#timeoutMs : deadline - Date.now();
      const result = await this.#probeOnce(port, Math.max(1, Math.min(this.#timeoutMs, remaining)));
      this.#opts.onAttempt?.(result, attempt);
      const success = result.state !== 'closed' && (this.#udp || result.open);
      if (success || deadline === undefined || this.#satisfied()) return result;
      const wait = Math.min(attempt < 20 ? 100 : 250, deadline - Date.now());
      if (wait <= 0) return result;
      await pause(wait, this.#opts.signal);
      if (this.#satisfied() || Date.now() >= deadline) return result;
    }
  }

  /** Take ports in order until none are left; report each result. */
  async #worker(): Promise<void> {
    const list = this.#list;
    while (this.#next < list.length && this.#opts.signal?.aborted !== true) {
      const index = this.#next;
      this.#next += 1;
      this.#record(index, await this.#probePort(list[index]!));
      this.#reportProgress();
    }
  }

  readonly #onBatch = (batch: readonly ProbeResult[]): void => {
    for (const r of batch) this.#record(indexOf(this.#list, r.port), r);
    this.#reportProgress();
  };

  #record(index: number, r: ProbeResult): void {
    this.#results[index] = r;
    this.#done += 1;
    if (r.open || (this.#udp && r.state !== 'closed')) this.#openCount += 1;
  }

  /** Progress counts, then every result that is now final in port order. */
  #reportProgress(): void {
    const { onProgress, onResult } = this.#opts;
    const list = this.#list;
    onProgress?.(this.#done, list.length, this.#openCount);
    while (this.#emitted < list.length) {
      const r = this.#results[this.#emitted];
      if (r === undefined) break;
      onResult?.(r);
      this.#emitted += 1;
    }
  }
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
  const proto = opts.udp === true ? 'udp' : 'tcp';
  const list = typeof ports === 'string' ? parsePortSpec(ports, { proto }) : checkPorts(ports);
  const deadline = opts.wait !== undefined ? Date.now() + opts.wait * 1000 : undefined;
  const addresses = await resolveUntil(host, opts, deadline);
  return new PortScan(host, addresses, list, opts, deadline).run();
}

/** Options of {@link probeUnix}. */
export interface UnixProbeOptions {
  /** Seconds to wait for an answer per attempt (default 3). */
  timeout?: number;
  /** Retry until the socket accepts or this many seconds have passed (wait-for-it). */
  wait?: number;
  /** Stop retrying. */
  signal?: AbortSignal;
  /** Open only when a TLS handshake succeeds and the peer is accepted. */
  tls?: TlsClientOptions | TlsClient;
}

/** What {@link probeUnix} reports: connect_ex's answer for a unix stream socket. */
export interface UnixProbeResult {
  readonly path: string;
  /** True only when something accepted the connection. */
  readonly open: boolean;
  readonly state: 'open' | 'closed';
  /** `'0'` or the errno name connect_ex would give (`ENOENT`, `ECONNREFUSED`…). */
  readonly errno: string;
  /** 0 or the errno number. */
  readonly errnum: number;
}

async function connectExUnix(path: string, opts: UnixProbeOptions): Promise<string> {
  try {
    const timeout = opts.timeout ?? DEFAULT_PROBE_TIMEOUT;
    const { openConnection } = await import('./stream-client.js');
    (await openConnection({ path }, { timeout, signal: opts.signal, tls: opts.tls })).destroy();
    return '0';
  } catch (err) {
    return (err as { errno?: string }).errno ?? 'EIO';
  }
}

/**
 * `connect_ex` on a unix stream socket (`connect -z --unix`): connect and close
 * at once. With `wait`, a refusal is retried every 100 ms until the socket
 * accepts, the time is up or `signal` aborts. Never rejects.
 */
export async function probeUnix(
  path: string,
  opts: UnixProbeOptions = {},
): Promise<UnixProbeResult> {
  const deadline = opts.wait !== undefined ? Date.now() + opts.wait * 1000 : undefined;
  opts = { ...opts, tls: await tlsClientOf(opts) }; // made once for every retry
  let code = await connectExUnix(path, opts);
  while (code !== '0' && deadline !== undefined && Date.now() < deadline && !opts.signal?.aborted) {
    await pause(Math.min(100, Math.max(0, deadline - Date.now())), opts.signal);
    code = await connectExUnix(path, opts);
  }
  const open = code === '0';
  return { path, open, state: open ? 'open' : 'closed', errno: code, errnum: errnoNumber(code) };
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
      await pause(Math.min(250, left), opts.signal);
    }
  }
}

function checkPorts(ports: readonly number[]): number[] {
  for (const p of ports) {
    if (!Number.isInteger(p) || p < 1 || p > 65535) {
      throw new UsageError(`invalid port ${p} — expected 1-65535`);
    }
  }
  return ascendingOnce(ports);
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
