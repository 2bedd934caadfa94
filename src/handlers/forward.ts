/**
 * The forward handler (`--forward <url>`): each connection dials its own upstream
 * and the bytes are relayed both ways; each datagram goes upstream on its sender's
 * session. What it needs is the server option `forward` ({@link ForwardOptions}),
 * plain data, so that workers in the pooled modes read it as well.
 */
import { performance } from 'node:perf_hooks';
import type { SocketAddress } from '../net/address.js';
import {
  checkForwardTransport,
  connectNow,
  dialFailure,
  dialStream,
  directAddress,
  parseDialTarget,
  type DatagramDialTarget,
  type DialTarget,
  type Dialed,
  type StreamDialTarget,
} from '../net/dial.js';
import { NetworkError, UsageError, errorCode, oneLine, systemError } from '../net/errors.js';
import { rawRelay, type RawRelayResult } from '../net/raw-relay.js';
import type { TlsClientOptions, TlsFailure } from '../net/tls.js';
import { MODES } from '../engine/modes.js';
import type { BaseServer, BaseServerOptions } from '../engine/base-server.js';
import { DatagramServer } from '../engine/datagram-server.js';
import {
  DatagramConnection,
  StreamRequestHandler,
  type StreamRequest,
} from '../engine/request-handler.js';
import { resetStream } from '../net/reset.js';
import { relay, type Connecting, type RelayResult } from './relay.js';
import { DatagramSessions, type SessionReport } from './forward-datagram.js';

/** Seconds to wait for the upstream's connection by default. */
export const FORWARD_CONNECT_TIMEOUT = 10;
/** Seconds of silence that end a datagram session by default. */
export const FORWARD_SESSION_TIMEOUT = 60;

/** The server option the forward handler reads (`options.forward`). */
export interface ForwardOptions {
  /**
   * Where to: `tcp://host:port`, `tls://host:port`, `unix:///path`, `udp://host:port`,
   * `unix-dgram:///path`.
   */
  readonly target: string;
  /**
   * For a `tls://` target: how the upstream is verified (`ca`, `pin`, `servername`,
   * `insecure`…); without it, against the system CAs and the target's host name.
   */
  readonly tls?: TlsClientOptions;
  /** Seconds to wait for the upstream's connection (default 10). */
  readonly connectTimeout?: number;
  /** Datagrams: seconds of silence that end a sender's session (default 60). */
  readonly sessionTimeout?: number;
  /** Datagrams: sessions at most (senders beyond it are dropped). */
  readonly maxSessions?: number;
}

/** The server event the forward handler emits for each connection or session that ends. */
export const FORWARD_EVENT = 'forward';

/** What a {@link FORWARD_EVENT} carries (plain data: workers send it to the server that accepted). */
export interface ForwardRecord {
  readonly client: SocketAddress;
  /** The target as given (`tcp://db.internal:5432`). */
  readonly upstream: string;
  /** The address it reached, when it reached one. */
  readonly upstreamAddress?: SocketAddress;
  /** Bytes client → upstream, and upstream → client. */
  readonly bytesUp: number;
  readonly bytesDown: number;
  readonly durationMs: number;
  /**
   * `done`, `client-reset`, `upstream-reset`, `client-closed`, `upstream-closed`
   * (streams), `session-timeout`, `server-closed` (datagrams), `upstream-failed` (both).
   */
  readonly reason: string;
  /** The errno name behind a failure or a reset (ECONNREFUSED, ETIMEDOUT…). */
  readonly code?: string;
  /** A failure as one line. */
  readonly message?: string;
  /** Why a `tls://` upstream was refused (`self-signed`, `unknown-ca`…), when it was. */
  readonly tlsFailure?: TlsFailure;
}

/**
 * The server options for forwarding to `target`, to spread into a server's options:
 * `new TCPServer(addr, ForwardHandler, { ...forward('unix:///run/app.sock'), mode: 'threading' })`
 * (the pooled modes also need `handlerModule`, as for any handler).
 * Throws a UsageError for a bad target.
 */
export function forward(
  target: string,
  options: Omit<ForwardOptions, 'target'> = {},
): BaseServerOptions & { forward: ForwardOptions } {
  parseDialTarget(target);
  return { forward: { target, ...options } };
}

const targets = new Map<string, DialTarget>();
const sessions = new WeakMap<object, DatagramSessions>();

function optionsOf(server: BaseServer<unknown>): ForwardOptions {
  const opts = (server.options as { forward?: ForwardOptions }).forward;
  if (!opts?.target) throw new UsageError('the forward handler needs the server option forward');
  return opts;
}

function targetOf(url: string): DialTarget {
  let target = targets.get(url);
  if (!target) targets.set(url, (target = parseDialTarget(url)));
  return target;
}

/**
 * Forward every connection to its own upstream connection (relayed both ways,
 * half-close per direction, resets passed on), and every datagram to the
 * upstream on its sender's session, replies going back to that sender. An
 * upstream that cannot be reached resets the client; the {@link FORWARD_EVENT}
 * says why. Datagram sessions live in one process: the pooled modes forward
 * streams only.
 */
export class ForwardHandler extends StreamRequestHandler {
  override handle(): void | Promise<void> {
    const request = this.request;
    if (request instanceof DatagramConnection) {
      // every datagram after a server's first: straight to its sessions
      const all = sessions.get(this.server);
      if (all !== undefined) return all.send(request);
    }
    const opts = optionsOf(this.server as BaseServer<unknown>);
    const target = targetOf(opts.target);
    const conn = this.connection;
    const datagram = conn instanceof DatagramConnection;
    checkForwardTransport(target, datagram);
    if (datagram) return this.#sessions(target as DatagramDialTarget, opts).send(conn);
    return this.#relay(conn, target as StreamDialTarget, opts);
  }

  #report(record: Omit<ForwardRecord, 'upstream'>, opts: ForwardOptions): void {
    this.server.emit(FORWARD_EVENT, { upstream: opts.target, ...record });
  }

  #sessions(target: DatagramDialTarget, opts: ForwardOptions): DatagramSessions {
    const server = this.server as BaseServer<unknown>;
    if (MODES[server.mode].pooled) {
      throw new UsageError(
        `datagram forwarding keeps one upstream socket per sender in one process — use --mode async or sequential, not ${server.mode}`,
      );
    }
    let all = sessions.get(server);
    if (!all) {
      all = new DatagramSessions(target, {
        timeoutMs: (opts.sessionTimeout ?? FORWARD_SESSION_TIMEOUT) * 1000,
        max: opts.maxSessions,
        report: (r: SessionReport) => {
          const { end, ...rest } = r;
          this.#report({ ...rest, reason: end }, opts);
        },
        refused: (client) => server.emit('rejected', client, 'max-conns'),
      });
      sessions.set(server, all);
      const done = all;
      // later datagrams of a sender with a session skip the request path
      if (server instanceof DatagramServer)
        server.setShortcut((d, from) => done.forwardNow(d, from));
      server.once('close', () => done.closeAll());
    }
    return all;
  }

  #relay(client: StreamRequest, target: StreamDialTarget, opts: ForwardOptions): Promise<void> {
    const started = performance.now();
    const timeoutMs = (opts.connectTimeout ?? FORWARD_CONNECT_TIMEOUT) * 1000;
    const direct = directAddress(target);
    // one address and no TLS: relay at handle level when Node's handles allow it
    const raw = direct && rawRelay(client, direct, timeoutMs);
    if (raw) {
      const dialed = { address: direct! };
      return raw.then((r) => this.#relayed(rawResult(r, target, timeoutMs), dialed, started));
    }
    // else connect now and relay at once, the client's first bytes waiting in the
    // connecting upstream (no resolving, no race, no extra loop turn)
    const now = connectNow(target);
    if (now !== undefined) {
      const connecting: Connecting = {
        timeoutMs,
        failure: (err) => dialFailure(target, err, timeoutMs),
      };
      return relay(client, now.socket, connecting).then((r) => this.#relayed(r, now, started));
    }
    return dialStream(target, { timeoutMs, tls: opts.tls }).then(
      (dialed) => relay(client, dialed.socket).then((r) => this.#relayed(r, dialed, started)),
      (err: unknown) => {
        resetStream(client);
        this.#relayed(
          { bytesUp: 0, bytesDown: 0, end: 'upstream-failed', failure: err },
          undefined,
          started,
        );
      },
    );
  }

  /** Report a relay that ended (or an upstream that never connected). */
  #relayed(
    result: RelayResult,
    dialed: Pick<Dialed, 'address'> | undefined,
    started: number,
  ): void {
    const opts = optionsOf(this.server as BaseServer<unknown>);
    const durationMs = performance.now() - started;
    if (result.end === 'upstream-failed') {
      const failure = { durationMs, ...failureOf(result.failure) };
      this.#report({ client: this.clientAddress, bytesUp: 0, bytesDown: 0, ...failure }, opts);
      return;
    }
    this.#report(
      {
        client: this.clientAddress,
        upstreamAddress: dialed?.address,
        bytesUp: result.bytesUp,
        bytesDown: result.bytesDown,
        durationMs,
        reason: result.end,
        ...(result.code ? { code: result.code } : {}),
      },
      opts,
    );
  }
}

/** A handle-level relay's result as the stream relay's (a failure as dialing words it). */
function rawResult(r: RawRelayResult, target: StreamDialTarget, timeoutMs: number): RelayResult {
  if (r.end !== 'upstream-failed') return r;
  const err = r.code === 'ETIMEDOUT' ? undefined : systemError(r.code ?? 'EIO');
  return { ...r, failure: dialFailure(target, err, timeoutMs) };
}

/** An upstream that could not be reached or was refused, as a record's fields. */
function failureOf(
  err: unknown,
): Pick<ForwardRecord, 'reason' | 'code' | 'message' | 'tlsFailure'> {
  // a TlsError by its fields: `instanceof` would load the TLS modules for every forward
  const tls = err as { reason?: TlsFailure; tlsCode?: string };
  const tlsFailure = typeof tls.tlsCode === 'string' ? tls.reason : undefined;
  const code = tlsFailure ? tls.tlsCode : err instanceof NetworkError ? err.errno : errorCode(err);
  return {
    reason: 'upstream-failed',
    code: code ?? 'EUNKNOWN',
    message: oneLine(err),
    ...(tlsFailure ? { tlsFailure } : {}),
  };
}
