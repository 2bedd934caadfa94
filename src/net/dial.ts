/**
 * Dialing an upstream: where a relay goes (a {@link DialTarget}, parsed from a
 * `tcp://`, `tls://`, `unix://`, `udp://` or `unix-dgram://` URL) and the one
 * function that opens a stream connection to it ({@link dialStream}). A name is
 * resolved on every dial and the addresses it resolves to race, Happy Eyeballs
 * style, within one deadline; a `tls://` upstream is then verified (net/tls.ts, loaded only then)
 * within what is left of that deadline.
 */
import { connect, type Socket } from 'node:net';
import type { TlsClient, TlsClientOptions } from './tls.js';
import { ERR, NetworkError, UsageError, errorCode, oneLine, systemError } from './errors.js';
import {
  checkUnixPath,
  formatEndpoint,
  formatUrl,
  familyOf,
  inetAddress,
  parsePort,
  unbracket,
  type SocketAddress,
} from './address.js';
import { resolveHost, type Resolver } from './resolve.js';
import { raceAddresses, type RaceAttempt } from './happy-eyeballs.js';

/** A stream upstream: TCP or TLS over TCP by host and port, or a unix stream socket by path. */
export type StreamDialTarget =
  | { readonly kind: 'tcp' | 'tls'; readonly host: string; readonly port: number }
  | { readonly kind: 'unix'; readonly path: string };

/** A datagram upstream: UDP by host and port, or a unix datagram socket by path. */
export type DatagramDialTarget =
  | { readonly kind: 'udp'; readonly host: string; readonly port: number }
  | { readonly kind: 'unix-dgram'; readonly path: string };

/** Where a relay goes. */
export type DialTarget = StreamDialTarget | DatagramDialTarget;

/** The URL schemes {@link parseDialTarget} takes. */
export const DIAL_SCHEMES = ['tcp', 'udp', 'unix', 'unix-dgram', 'tls'] as const;

/** Is this target a stream (tcp, tls, unix) rather than datagrams? */
export function isStreamTarget(target: DialTarget): target is StreamDialTarget {
  return target.kind === 'tcp' || target.kind === 'tls' || target.kind === 'unix';
}

/**
 * Refuse a stream target for datagrams and a datagram target for a stream (no
 * framing is defined): a one-line UsageError.
 */
export function checkForwardTransport(target: DialTarget, datagram: boolean): void {
  if (isStreamTarget(target) !== datagram) return;
  const [from, to] = datagram ? ['datagrams', 'a stream'] : ['a stream', 'datagrams'];
  throw new UsageError(
    `cannot forward ${from} to ${formatTarget(target)} — that is ${to} (no framing is defined): forward tcp/unix to tcp://, tls:// or unix://, udp/unix --datagram to udp:// or unix-dgram://`,
  );
}

/** `tcp://host:port`, `tls://host:port`, `unix:///path`, …: the one form of a target in messages. */
export function formatTarget(target: DialTarget): string {
  if ('path' in target) return `${target.kind}://${target.path}`;
  const where = { host: target.host, port: target.port };
  return target.kind === 'tls' ? formatUrl('tcp', where, true) : formatUrl(target.kind, where);
}

/**
 * Parse `tcp://host:port`, `tls://host:port`, `udp://host:port`, `unix:///path` or
 * `unix-dgram:///path` (IPv6 hosts in brackets). Every problem is a one-line
 * UsageError.
 */
export function parseDialTarget(url: string): DialTarget {
  const m = /^([a-z][a-z0-9-]*):\/\/(.*)$/i.exec(url.trim());
  const bad = (why: string): UsageError =>
    new UsageError(
      `bad forward target '${url}' — ${why} (tcp://host:port, tls://host:port, udp://host:port, unix:///path, unix-dgram:///path)`,
    );
  if (!m) throw bad('expected scheme://…');
  const scheme = m[1]!.toLowerCase();
  const rest = m[2]!;
  if (scheme === 'unix' || scheme === 'unix-dgram') {
    if (!rest.startsWith('/')) throw bad('the path must be absolute');
    return { kind: scheme, path: checkUnixPath(rest) };
  }
  if (scheme !== 'tcp' && scheme !== 'tls' && scheme !== 'udp') {
    throw bad(`unknown scheme '${scheme}'`);
  }
  const hp = /^(\[[^\]]*\]|[^:/[\]]+):(\d+)$/.exec(rest);
  if (!hp) throw bad('expected host:port');
  const port = parsePort(hp[2]!);
  if (port === 0) throw bad('port 0 cannot be dialed');
  return { kind: scheme, host: unbracket(hp[1]!), port };
}

/** How {@link dialStream} dials. */
export interface DialOptions {
  /** Give up after this many milliseconds, across every address (ETIMEDOUT). */
  readonly timeoutMs: number;
  /** Another resolver than the system's (tests). */
  readonly resolver?: Resolver;
  /** For a `tls://` target: how to verify it (default: the system CAs and the host's name). */
  readonly tls?: TlsClientOptions | TlsClient;
}

/** A connected upstream and where it went. */
export interface Dialed {
  /** The connection: half-open allowed, so that each direction ends on its own. */
  readonly socket: Socket;
  /** The address it connected to (the resolved one, for TCP). */
  readonly address: SocketAddress;
}

/** The options of a `tls://` upstream given none: verified against the system CAs (made once). */
const VERIFY: TlsClientOptions = {};

/**
 * Open a stream connection to `target`: a unix path, or every address a host name
 * resolves to (resolved now, so that DNS changes are followed), raced Happy
 * Eyeballs style (net/happy-eyeballs.ts) within the one deadline. Rejects with a one-line NetworkError carrying the errno name of
 * the last failure (ECONNREFUSED, ETIMEDOUT, ENOENT, ENOTFOUND…). A `tls://`
 * upstream is then verified as `opts.tls` says, within the same deadline; a
 * refusal rejects with net/tls.ts's one-line TlsError (the reason, the fix).
 */
export function dialStream(target: StreamDialTarget, opts: DialOptions): Promise<Dialed> {
  const deadline = Date.now() + opts.timeoutMs;
  const dialed = dialPlain(target, opts, deadline);
  return target.kind === 'tls' ? dialed.then((d) => verified(d, target, opts, deadline)) : dialed;
}

/** A `tls://` upstream's connection, verified within what is left of the deadline. */
async function verified(
  dialed: Dialed,
  target: StreamDialTarget & { readonly host: string },
  opts: DialOptions,
  deadline: number,
): Promise<Dialed> {
  const { tlsConnect } = await import('./tls.js');
  const label = formatEndpoint(dialed.address);
  const timeoutMs = Math.max(1, deadline - Date.now());
  const how = { host: target.host, label, timeoutMs };
  return { ...dialed, socket: await tlsConnect(dialed.socket, opts.tls ?? VERIFY, how) };
}

/** {@link dialStream} up to the TCP or unix connection. */
async function dialPlain(
  target: StreamDialTarget,
  opts: DialOptions,
  deadline: number,
): Promise<Dialed> {
  const single = singleAddress(target);
  // one address (a path, an IP literal): one attempt, no resolving and no race
  if (single !== undefined) {
    return { socket: await attempt(single, opts.timeoutMs, target).result, address: single };
  }
  const { host, port } = target as { host: string; port: number };
  let candidates;
  try {
    candidates = await resolveHost(host, undefined, opts.resolver);
  } catch (err) {
    const cause = err instanceof NetworkError ? err.cause : err;
    const where = formatTarget(target);
    throw new NetworkError(`cannot reach ${where} — ${reason(cause)}`, cause, ERR.RESOLVE);
  }
  const outcome = await raceAddresses(candidates, Math.max(1, deadline - Date.now()), (a, leftMs) =>
    attempt(inetAddress(a.address, port, a.family), leftMs, target, opts.timeoutMs),
  );
  if (outcome.won) {
    return {
      socket: outcome.value,
      address: inetAddress(outcome.address.address, port, outcome.address.family),
    };
  }
  const last = outcome.failures[outcome.failures.length - 1];
  if (last instanceof NetworkError) throw last;
  throw dialFailure(target, undefined, opts.timeoutMs);
}

/** The one address of a unix target or of an IP literal; undefined for a name. */
function singleAddress(target: StreamDialTarget): SocketAddress | undefined {
  if (target.kind === 'unix') return { family: 'unix', path: target.path };
  return familyOf(target.host) === undefined ? undefined : inetAddress(target.host, target.port);
}

/** The errno name of a failure, or its message when it has none. */
function reason(err: unknown): string {
  return errorCode(err) ?? oneLine(err);
}

/**
 * The one-line NetworkError of a connection to `target` that failed with `err`, or,
 * without one, that did not connect within `timeoutMs` (ETIMEDOUT): what
 * {@link dialStream} rejects with, for a connection opened by {@link connectNow}.
 */
export function dialFailure(
  target: StreamDialTarget,
  err: Error | undefined,
  timeoutMs: number,
): NetworkError {
  const cause = err ?? systemError('ETIMEDOUT', `no connection within ${timeoutMs} ms`);
  return new NetworkError(
    `cannot reach ${formatTarget(target)} — ${reason(cause)}`,
    cause,
    ERR.CONNECT,
  );
}

/**
 * A connection to a target that has one address and speaks no TLS (a unix path, an IP
 * literal), opened now, with no promise, listener or timer of its own: the socket is
 * still connecting, and its failure is an `error` event ({@link dialFailure} words it as
 * {@link dialStream} would). Undefined for a host name or a `tls://` target: dial those.
 */
export function connectNow(target: StreamDialTarget): Dialed | undefined {
  const address = directAddress(target);
  return address === undefined ? undefined : { socket: openSocket(address), address };
}

/**
 * The one address of a target that needs no resolving and speaks no TLS (a unix
 * path, an IP literal): what {@link connectNow} connects to. Undefined for a host
 * name or a `tls://` target.
 */
export function directAddress(target: StreamDialTarget): SocketAddress | undefined {
  return target.kind === 'tls' ? undefined : singleAddress(target);
}

/** A connection to one address, half-open allowed (TCP: no Nagle delay). */
function openSocket(to: SocketAddress): Socket {
  return to.family === 'unix'
    ? connect({ path: to.path, allowHalfOpen: true })
    : connect({ host: to.address, port: to.port, allowHalfOpen: true, noDelay: true });
}

/**
 * One connection attempt to one address, within `ms` (`totalMs`: the whole
 * timeout, for the message). Once it connects, nothing of it is left on the
 * socket: no listener, no timer.
 */
function attempt(
  to: SocketAddress,
  ms: number,
  target: StreamDialTarget,
  totalMs = ms,
): RaceAttempt<Socket> {
  const socket = openSocket(to);
  const result = new Promise<Socket>((resolve, reject) => {
    const settle = (err?: NetworkError): void => {
      clearTimeout(timer);
      socket.off('error', onError).off('connect', onConnect).off('close', onClose);
      if (err === undefined) return resolve(socket);
      socket.destroy();
      reject(err);
    };
    const onError = (err: Error): void => settle(dialFailure(target, err, totalMs));
    const onConnect = (): void => settle();
    // called off (another address won): destroy() is quiet, so settle here
    const onClose = (): void => settle(dialFailure(target, undefined, totalMs));
    const timer = setTimeout(onClose, ms);
    socket.on('error', onError).on('connect', onConnect).on('close', onClose);
  });
  return { result, cancel: () => socket.destroy() };
}
