/**
 * Python's `connect_ex` for Node, and port probes built on it: TCP connect
 * probes over ranges and lists, concurrent and bounded, with a per-port
 * timeout, retries until open (`wait`), self-connect detection, and UDP
 * probes that say `closed` only on an ICMP refusal.
 */
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { Buffer } from 'node:buffer';
import { errnoName } from '../engine/errors.js';
import { parsePortSpec } from './ports.js';
import {
  errnoNumber,
  resolveHost,
  type IpFamily,
  type ResolvedAddress,
  type Resolver,
} from './resolve.js';
import { tcpAttempt, type AttemptResult } from './tcp-attempt.js';

/** Default seconds a TCP probe waits for an answer. */
export const DEFAULT_PROBE_TIMEOUT = 3;
/** Default seconds a UDP probe waits for a refusal or a reply. */
export const DEFAULT_UDP_PROBE_TIMEOUT = 1;
/** Default number of probes in flight. */
export const DEFAULT_CONCURRENCY = 512;

/** What `connectEx` gives back: Python's return value, with its name. */
export interface ConnectExResult {
  /** 0 when connected, else the positive errno number (`os.constants.errno`). */
  readonly errno: number;
  /** `'0'` when connected, else the errno name (`ECONNREFUSED`, `ETIMEDOUT`…). */
  readonly code: string;
  /** The address that answered last (the one connected to, when errno is 0). */
  readonly address: string;
  /** The socket connected to itself (local port = remote port on loopback): reported as ECONNREFUSED. */
  readonly selfConnect?: true;
}

/** Options of {@link connectEx}. */
export interface ConnectExOptions {
  /** Seconds to wait for an answer per address (default 3). */
  timeout?: number;
  /** Only IPv4 or only IPv6 addresses. */
  family?: IpFamily;
  /** Source address. */
  localAddress?: string;
  /** Source port. */
  localPort?: number;
  /** Use `net.connect` rather than the faster handle path (same answers). */
  useNet?: boolean;
  /** Resolve host names with this instead of the system resolver. */
  lookup?: Resolver;
}

function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

async function attemptAll(
  addresses: readonly ResolvedAddress[],
  port: number,
  timeoutMs: number,
  opts: ConnectExOptions,
): Promise<ConnectExResult> {
  let last: ConnectExResult = {
    errno: errnoNumber('EADDRNOTAVAIL'),
    code: 'EADDRNOTAVAIL',
    address: '',
  };
  for (const a of addresses) {
    const r: AttemptResult = await tcpAttempt({
      address: a.address,
      family: a.family,
      port,
      timeoutMs,
      localAddress: opts.localAddress,
      localPort: opts.localPort,
      useNet: opts.useNet,
    });
    if (r.code === '0') {
      // a probe on loopback can connect to itself when the kernel picks the target port as
      // the source port (TCP simultaneous open): nothing listens there, so it is closed
      if (r.localPort === port && isLoopback(a.address) && r.localAddress === a.address) {
        last = {
          errno: errnoNumber('ECONNREFUSED'),
          code: 'ECONNREFUSED',
          address: a.address,
          selfConnect: true,
        };
        continue;
      }
      return { errno: 0, code: '0', address: a.address };
    }
    last = { errno: errnoNumber(r.code), code: r.code, address: a.address };
  }
  return last;
}

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

/** State of a probed port, in nmap's words. */
export type PortState = 'open' | 'closed' | 'filtered' | 'open|filtered';

/** One probed port. */
export interface ProbeResult {
  /** The host as given. */
  readonly host: string;
  /** The address that answered (or was tried last). */
  readonly address: string;
  readonly port: number;
  readonly proto: 'tcp' | 'udp';
  /** True only when something accepted (TCP) or replied (UDP). */
  readonly open: boolean;
  readonly state: PortState;
  /** `'0'` or the errno name connect_ex would give. */
  readonly errno: string;
  /** 0 or the errno number. */
  readonly errnum: number;
  /** The probe connected to itself; reported closed. */
  readonly selfConnect?: true;
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

function stateOf(code: string, udp: boolean, replied: boolean): PortState {
  if (udp) {
    if (code === 'ECONNREFUSED') return 'closed';
    return replied ? 'open' : 'open|filtered';
  }
  if (code === '0') return 'open';
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET') return 'closed';
  return 'filtered';
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

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
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
    typeof ports === 'string' ? parsePortSpec(ports, { proto: udp ? 'udp' : 'tcp' }) : [...ports];
  const addresses = await resolveHost(host, opts.family, opts.lookup);
  const timeoutMs =
    (opts.timeout ?? (udp ? DEFAULT_UDP_PROBE_TIMEOUT : DEFAULT_PROBE_TIMEOUT)) * 1000;
  const payload = opts.udpPayload ?? Buffer.alloc(0);
  const deadline = opts.wait !== undefined ? Date.now() + opts.wait * 1000 : undefined;
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
    const r = await attemptAll(addresses, port, budgetMs, opts);
    const state = stateOf(r.code, false, false);
    return {
      host,
      address: r.address,
      port,
      proto: 'tcp',
      open: state === 'open',
      state,
      errno: r.code,
      errnum: r.errno,
      ...(r.selfConnect ? { selfConnect: true as const } : {}),
    };
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
      await delay(pause, signal);
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

  const worker = async (): Promise<void> => {
    while (next < list.length && signal?.aborted !== true) {
      const index = next;
      next += 1;
      const r = await probeOne(list[index]!);
      results[index] = r;
      done += 1;
      if (r.open || (udp && r.state !== 'closed')) openCount += 1;
      opts.onProgress?.(done, list.length, openCount);
      flush();
    }
  };

  const n = Math.min(list.length, boundedConcurrency(opts.concurrency ?? DEFAULT_CONCURRENCY));
  await Promise.all(Array.from({ length: n }, worker));
  return results.filter((r): r is ProbeResult => r !== undefined);
}
