/**
 * The TCP side of probes, shared by the main thread and the probe worker
 * threads: one port, every address, the connect_ex answer and its nmap state.
 */
import { type IpFamily, type ResolvedAddress, type Resolver } from '../net/resolve.js';
import { errnoNumber, statusName } from '../net/errors.js';
import { BURST_SELF, BURST_TIMEOUT } from './attempt-burst.js';
import {
  isSelfConnect,
  startTcpAttempt,
  tcpAttempt,
  type AttemptOptions,
  type AttemptResult,
} from './tcp-attempt.js';
import { raceAddresses } from '../net/happy-eyeballs.js';
import type { TlsFailure } from '../net/tls.js';
import type { CertificateSummary } from '../net/tls-info.js';

/**
 * Ports from which a scan is split across threads (probe-threads.ts, loaded only
 * then: a probe of a few ports never reads the worker code).
 */
export const THREADED_SCAN_MIN_PORTS = 2048;

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
  /** Seconds to wait for an answer, across every address of the name (default 3). */
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

/**
 * Try the addresses until one accepts (a self-connect does not count): one
 * address is attempted alone, several race Happy Eyeballs style (the next
 * starts 250 ms later or when the one before fails), all within `timeoutMs`.
 */
export async function attemptAll(
  addresses: readonly ResolvedAddress[],
  port: number,
  timeoutMs: number,
  opts: ConnectExOptions,
): Promise<ConnectExResult> {
  if (addresses.length === 0) {
    return { errno: errnoNumber('EADDRNOTAVAIL'), code: 'EADDRNOTAVAIL', address: '' };
  }
  if (addresses.length === 1) {
    const a = addresses[0]!;
    return answer(a.address, port, await tcpAttempt(attemptOptions(a, port, timeoutMs, opts)));
  }
  const outcome = await raceAddresses(
    addresses,
    timeoutMs,
    (a, leftMs) => {
      const attempt = startTcpAttempt(attemptOptions(a, port, leftMs, opts));
      const result = attempt.result.then((r) => answer(a.address, port, r));
      return { result, cancel: () => attempt.cancel() };
    },
    { won: (r) => r.errno === 0 },
  );
  if (outcome.won) return outcome.value;
  // every address failed: the answer of the last one tried, as connect_ex would give
  return outcome.failures[outcome.failures.length - 1] as ConnectExResult;
}

function attemptOptions(
  a: ResolvedAddress,
  port: number,
  timeoutMs: number,
  opts: ConnectExOptions,
): AttemptOptions {
  const { localAddress, localPort, useNet } = opts;
  return { address: a.address, family: a.family, port, timeoutMs, localAddress, localPort, useNet };
}

/** The connect_ex answer of one attempt to `address`. */
function answer(address: string, port: number, r: AttemptResult): ConnectExResult {
  if (r.code !== '0') return { errno: errnoNumber(r.code), code: r.code, address };
  // nothing listens where a probe connected to itself: the port is closed
  if (isSelfConnect(address, port, r.localAddress, r.localPort)) {
    return {
      errno: errnoNumber('ECONNREFUSED'),
      code: 'ECONNREFUSED',
      address,
      selfConnect: true,
    };
  }
  return { errno: 0, code: '0', address };
}

/**
 * State of a probed port, in nmap's words; `tls-failed` (TLS probes): it accepted
 * the TCP connection, but the handshake failed or the peer was not accepted.
 */
export type PortState = 'open' | 'closed' | 'filtered' | 'open|filtered' | 'tls-failed';

/** What a TLS probe found out about a port that accepted the TCP connection. */
export interface TlsProbeInfo {
  /** `TLSv1.3`… (absent when the handshake failed). */
  readonly protocol?: string;
  /** The cipher's standard name (`TLS_AES_256_GCM_SHA384`). */
  readonly cipher?: string;
  /** The protocol ALPN chose, or false. */
  readonly alpn?: string | false;
  /** The peer's certificate, when the handshake got that far. */
  readonly certificate?: CertificateSummary;
  /** Why the port is not open for TLS: a word, OpenSSL's code and one line. */
  readonly failure?: {
    readonly reason: TlsFailure;
    readonly code: string;
    readonly message: string;
  };
}

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
  /** TLS probes: what the handshake found, once the TCP connection was accepted. */
  readonly tls?: TlsProbeInfo;
}

/** The nmap-style state of an answer. */
export function stateOf(code: string, udp: boolean, replied: boolean): PortState {
  if (udp) {
    if (code === 'ECONNREFUSED') return 'closed';
    return replied ? 'open' : 'open|filtered';
  }
  if (code === '0') return 'open';
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET') return 'closed';
  return 'filtered';
}

/** What one probe of a port found out, before it becomes a {@link ProbeResult}. */
export interface ProbeAnswer {
  /** `'0'` or the errno name. */
  readonly code: string;
  /** The address that answered (or was tried last). */
  readonly address: string;
  /** UDP: a datagram came back. */
  readonly replied?: boolean;
  /** TCP: the probe connected to itself. */
  readonly selfConnect?: true;
}

/** A probe's answer as `probe()` reports it. */
export function probeResult(
  host: string,
  port: number,
  proto: 'tcp' | 'udp',
  answer: ProbeAnswer,
): ProbeResult {
  const state = stateOf(answer.code, proto === 'udp', answer.replied === true);
  return {
    host,
    address: answer.address,
    port,
    proto,
    open: state === 'open',
    state,
    errno: answer.code,
    errnum: errnoNumber(answer.code),
    ...(answer.selfConnect ? { selfConnect: true as const } : {}),
  };
}

/** Probe one TCP port on every address; the result as `probe()` reports it. */
export async function tcpProbe(
  host: string,
  addresses: readonly ResolvedAddress[],
  port: number,
  timeoutMs: number,
  opts: ConnectExOptions,
): Promise<ProbeResult> {
  return probeResult(host, port, 'tcp', await attemptAll(addresses, port, timeoutMs, opts));
}

const burstAnswers = new Map<number, ProbeAnswer>();

/** The result of a port a scan burst (`AttemptBurst`) probed on `address`, from its status. */
export function burstResult(host: string, address: string, port: number, status: number) {
  let a = burstAnswers.get(status);
  if (a?.address !== address) {
    if (status === 0) a = { code: '0', address };
    else if (status === BURST_TIMEOUT) a = { code: 'ETIMEDOUT', address };
    else if (status === BURST_SELF) a = { code: 'ECONNREFUSED', address, selfConnect: true };
    else a = { code: statusName(status), address };
    burstAnswers.set(status, a);
  }
  return probeResult(host, port, 'tcp', a);
}
