/**
 * TLS on a stream server: a property of the transport, not a handler. The
 * listener stays a plain `net.Server` (access checks and connection limits run
 * on the raw socket before a byte is read); each admitted connection is then
 * handed to an unbound `tls.Server` (`emit('connection')`, Node's documented way
 * to inject a connection), whose handshake gives the `TLSSocket` the handler
 * reads and writes. In the forking mode the raw socket moves to a worker process
 * first and the handshake runs there, so the crypto scales with the workers.
 * The server's own side (which socket is served, queued or closed) stays the
 * stream server's (engine/stream-server.ts).
 */
import { Server as TlsListener, type TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import { X509Certificate } from 'node:crypto';
import type { SocketAddress } from './address.js';
import { UsageError, errnoName, oneLine } from './errors.js';
import { throwawayCertificate, throwawayNames } from './tls-cert.js';

/** Default seconds a client has to complete its handshake. */
export const DEFAULT_HANDSHAKE_TIMEOUT = 10;

/**
 * TLS options of a stream server. Plain data (PEM text, not file names): workers
 * rebuild the server from them. Without `cert` and `key`, the server makes a
 * throwaway self-signed certificate when it starts listening.
 */
export interface ServerTlsOptions {
  /** The certificate chain, PEM. */
  cert?: string;
  /** Its private key, PEM (encrypted keys need `passphrase`). */
  key?: string;
  /** The passphrase of an encrypted `key`. */
  passphrase?: string;
  /** Demand a client certificate signed by this CA (PEM): mutual TLS. */
  clientCa?: string;
  /** Seconds a client has to complete its handshake (default 10). */
  handshakeTimeout?: number;
  /** ALPN protocols offered, in order of preference (`['h2', 'http/1.1']`). */
  alpn?: string[];
  /** The names of a throwaway certificate (default: the bind host, localhost, 127.0.0.1, ::1). */
  names?: string[];
}

/** A handshake that failed: what the `tlsError` event of a server carries. */
export interface TlsHandshakeError {
  /** `ERR_SSL_…`, `ECONNRESET`, `ERR_TLS_HANDSHAKE_TIMEOUT`, or a client certificate's verify code. */
  readonly code: string;
  /** One line: what went wrong. */
  readonly message: string;
}

/** Why a client certificate was refused, by OpenSSL's verify code. */
const CLIENT_CERT_REASONS: Readonly<Record<string, string>> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'client certificate not signed by the client CA',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'client certificate not signed by the client CA',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed client certificate',
  SELF_SIGNED_CERT_IN_CHAIN: 'client certificate chain ends in an unknown CA',
  CERT_HAS_EXPIRED: 'client certificate has expired',
  CERT_NOT_YET_VALID: 'client certificate is not valid yet',
};

/** OpenSSL's short reason of a TLS error (`wrong version number`), else its message. */
export function tlsReason(err: unknown): string {
  const reason = (err as { reason?: unknown } | null)?.reason;
  return typeof reason === 'string' && reason !== '' ? reason : oneLine(err);
}

/** A failed handshake as one line, with the client certificate's verify error when there is one. */
function handshakeError(err: unknown, socket: TLSSocket | undefined): TlsHandshakeError {
  const verify = socket?.authorizationError;
  if (verify) {
    const code = String(verify);
    return {
      code,
      message: `${CLIENT_CERT_REASONS[code] ?? 'client certificate refused'} (${code})`,
    };
  }
  const code = errnoName(err) ?? 'EPROTO';
  const reason = tlsReason(err);
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return { code, message: 'handshake timed out' };
  if (/peer did not return a certificate/i.test(reason)) {
    return { code, message: 'no client certificate (mutual TLS demands one)' };
  }
  if (/wrong version number|http request|unknown protocol|packet length too long/i.test(reason)) {
    return { code, message: `not a TLS client (${reason})` };
  }
  if (code === 'ECONNRESET') return { code, message: 'the client closed during the handshake' };
  return { code, message: reason };
}

/** A bad certificate or key as one line. */
function badCredentials(err: unknown): UsageError {
  const code = errnoName(err);
  const why =
    code === 'ERR_OSSL_BAD_DECRYPT'
      ? 'wrong passphrase for the key'
      : code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH'
        ? 'the key does not belong to the certificate'
        : oneLine(err);
  return new UsageError(`invalid TLS certificate or key — ${why}`);
}

/** The TLS side of one stream server: its certificate, and the handshakes of its connections. */
export class ServerTls {
  /** The options with the certificate and key filled in (what workers are given). */
  readonly options: Readonly<ServerTlsOptions>;
  /** The server's certificate (the first of its chain). */
  readonly certificate: X509Certificate;
  readonly #listener: TlsListener;
  /** Handshakes under way, by the accepted socket. */
  readonly #pending = new Map<Socket, (secure: TLSSocket | undefined) => void>();
  readonly #onFailure: (error: TlsHandshakeError, clientAddress: SocketAddress) => void;
  readonly #peers = new WeakMap<Socket, SocketAddress>();

  /**
   * The TLS side of a server bound at `bindHost`: its options with a certificate
   * ({@link withCertificate}); bad credentials are a UsageError. See the constructor for `onFailure`.
   */
  static async create(
    options: ServerTlsOptions,
    bindHost: string | undefined,
    onFailure: (error: TlsHandshakeError, clientAddress: SocketAddress) => void,
  ): Promise<ServerTls> {
    return new ServerTls(await withCertificate(options, bindHost), onFailure);
  }

  /** `onFailure` hears of every handshake that fails (the `tlsError` event of the server). */
  constructor(
    options: ServerTlsOptions,
    onFailure: (error: TlsHandshakeError, clientAddress: SocketAddress) => void,
  ) {
    if (!options.cert || !options.key) {
      throw new UsageError('a TLS server needs a certificate and its key (or none of both)');
    }
    this.options = options;
    const seconds = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
    try {
      this.certificate = new X509Certificate(options.cert);
      this.#listener = new TlsListener({
        cert: options.cert,
        key: options.key,
        passphrase: options.passphrase,
        ca: options.clientCa,
        requestCert: options.clientCa !== undefined,
        rejectUnauthorized: options.clientCa !== undefined,
        handshakeTimeout: Math.max(1, Math.round(seconds * 1000)),
        ALPNProtocols: options.alpn,
        allowHalfOpen: true,
      });
    } catch (err) {
      throw badCredentials(err);
    }
    this.#onFailure = onFailure;
    this.#listener.on('secureConnection', (secure: TLSSocket) => {
      secure.allowHalfOpen = true; // half-close per direction, as on plain streams (see handshake())
      secure.on('error', noop); // as on the accepted socket: a late reset must crash nothing
      this.#settle(secure, secure);
    });
    this.#listener.on('tlsClientError', (err: Error, secure: TLSSocket) => {
      secure.destroy();
      const peer = this.#peers.get(rawOf(secure));
      if (peer) this.#onFailure(handshakeError(err, secure), peer);
      this.#settle(secure, undefined);
    });
  }

  /**
   * Run the server side of the handshake on an accepted connection (nothing else
   * may read it). Resolves with the TLS socket to serve (errors it emits are the
   * reader's and writer's to see), or undefined when the handshake failed or was
   * cut short: the connection is closed then, and `onFailure` was told why.
   */
  handshake(raw: Socket, clientAddress: SocketAddress): Promise<TLSSocket | undefined> {
    return new Promise((resolve) => {
      this.#pending.set(raw, resolve);
      this.#peers.set(raw, clientAddress);
      // The TLS socket takes allowHalfOpen from the accepted one; half-open during the
      // handshake, a client gone before its last flight (a probe, a client refused by
      // mutual TLS) would only be noticed by the handshake timeout. Half-close comes back
      // once the handshake is done.
      raw.allowHalfOpen = false;
      this.#listener.emit('connection', raw);
    });
  }

  /** Close every connection whose handshake is still under way (the server is closing). */
  abortHandshakes(): void {
    for (const [raw, resolve] of this.#pending) {
      raw.destroy();
      resolve(undefined);
    }
    this.#pending.clear();
  }

  #settle(secure: TLSSocket, result: TLSSocket | undefined): void {
    const raw = rawOf(secure);
    const resolve = this.#pending.get(raw);
    this.#pending.delete(raw);
    resolve?.(result);
  }
}

function noop(): void {}

/**
 * The accepted socket a server-side TLSSocket wraps. Node keeps it as `_parent`
 * (set by the TLSSocket constructor for a `net.Socket`, since Node 0.11); the
 * server's bookkeeping is keyed by the accepted socket.
 */
function rawOf(secure: TLSSocket): Socket {
  return (secure as unknown as { _parent?: Socket })._parent ?? secure;
}

/**
 * The TLS options with a certificate: as given, or with a throwaway one made for
 * `names` (default: `bindHost`, localhost, 127.0.0.1, ::1).
 */
export async function withCertificate(
  options: ServerTlsOptions,
  bindHost?: string,
): Promise<ServerTlsOptions> {
  if (options.cert && options.key) return options;
  if (options.cert || options.key) {
    throw new UsageError('a TLS certificate needs its key, and a key its certificate');
  }
  const pair = await throwawayCertificate(options.names ?? throwawayNames(bindHost));
  return { ...options, cert: pair.cert, key: pair.key, passphrase: undefined };
}
