/**
 * The client side of TLS, for every client command, the probes and a forwarding
 * handler's `tls://` upstream: the handshake on a connected socket, verified by
 * default. Node verifies the chain and the name (`checkServerIdentity`, which
 * knows IP SANs); sockit decides once the handshake is done and before a single
 * byte of the caller's flows: a `pin` accepts exactly the certificate with that
 * SHA-256 fingerprint in place of the CA and name checks (never "verification
 * off"; its dates still count), `insecure` accepts anything. A refusal is one
 * line that says why and which option would fix it.
 */
import { X509Certificate } from 'node:crypto';
import { isIP, type Socket } from 'node:net';
import {
  connect as nodeTlsConnect,
  createSecureContext,
  type SecureContext,
  type TLSSocket,
} from 'node:tls';
import { ERR, NetworkError, UsageError, errnoName, oneLine, systemError } from './errors.js';
import { parsePin, trustedCertificates } from './tls-trust.js';
import { certificateSummary, peerX509, type CertificateSummary } from './tls-info.js';

/** Default seconds a TLS handshake may take. */
export const DEFAULT_TLS_HANDSHAKE_TIMEOUT = 10;

/** TLS options of a client. Verification is on unless `insecure`. */
export interface TlsClientOptions {
  /** More CA certificates to trust, PEM (added to the system's). */
  ca?: string | readonly string[];
  /**
   * Accept exactly the certificate with this SHA-256 fingerprint (`sha256:AB:CD:…`
   * or 64 hex digits after `sha256:`), in place of the CA and name checks.
   */
  pin?: string;
  /** Accept any certificate: no verification at all (say so to the user). */
  insecure?: boolean;
  /** The name sent as SNI and checked against the certificate (default: the host, when it is a name). */
  servername?: string;
  /** ALPN protocols offered, in order of preference. */
  alpn?: readonly string[];
  /** A client certificate (PEM), for servers that demand one. */
  cert?: string;
  /** Its key (PEM). */
  key?: string;
  /** The passphrase of an encrypted `key`. */
  passphrase?: string;
  /** Seconds the handshake may take (default 10). */
  handshakeTimeout?: number;
}

/** Why a TLS connection was refused. */
export type TlsFailure =
  | 'expired'
  | 'not-yet-valid'
  | 'self-signed'
  | 'unknown-ca'
  | 'wrong-name'
  | 'pin-mismatch'
  | 'unverified'
  | 'not-tls'
  | 'handshake';

/** A TLS connection that failed: the handshake, or the verification of the peer. */
export class TlsError extends NetworkError {
  /** What went wrong, as a word. */
  readonly reason: TlsFailure;
  /** OpenSSL's or Node's code (`CERT_HAS_EXPIRED`, `ERR_SSL_WRONG_VERSION_NUMBER`…). */
  readonly tlsCode: string;
  /** The peer's certificate, when the handshake got that far. */
  readonly certificate: CertificateSummary | undefined;

  constructor(
    message: string,
    reason: TlsFailure,
    tlsCode: string,
    certificate?: CertificateSummary,
    cause?: unknown,
  ) {
    const verify = reason !== 'not-tls' && reason !== 'handshake';
    super(message, cause ?? systemError(tlsCode), verify ? ERR.TLS_VERIFY : ERR.TLS_HANDSHAKE);
    this.reason = reason;
    this.tlsCode = tlsCode;
    this.certificate = certificate;
  }
}

/** Client options made ready once (the trust store parsed, the pin checked): reuse it for many connections. */
export class TlsClient {
  readonly options: Readonly<TlsClientOptions>;
  readonly #context: SecureContext;
  readonly #pin: string | undefined;

  constructor(options: TlsClientOptions) {
    this.options = options;
    this.#pin = options.pin === undefined ? undefined : parsePin(options.pin);
    const extra = typeof options.ca === 'string' ? [options.ca] : [...(options.ca ?? [])];
    const verifyByCa = !options.insecure && this.#pin === undefined;
    try {
      this.#context = createSecureContext({
        ca: verifyByCa || extra.length > 0 ? trustedCertificates(extra) : undefined,
        cert: options.cert,
        key: options.key,
        passphrase: options.passphrase,
      });
    } catch (err) {
      throw new UsageError(`invalid TLS certificate, key or CA — ${oneLine(err)}`);
    }
  }

  /**
   * The TLS handshake on a connected socket, then the verification. `host` is the
   * name or address the user gave (checked against the certificate, and sent as SNI
   * when it is a name); `label` names the peer in messages. Resolves with the TLS
   * socket once the peer is accepted; rejects with a {@link TlsError} (the socket
   * destroyed) otherwise.
   */
  secure(
    socket: Socket,
    host: string | undefined,
    label: string,
    how: { signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<TLSSocket> {
    const o = this.options;
    const servername = o.servername ?? (host !== undefined && isIP(host) === 0 ? host : undefined);
    const secure = nodeTlsConnect({
      socket,
      host,
      servername,
      secureContext: this.#context,
      ALPNProtocols: o.alpn ? [...o.alpn] : undefined,
      rejectUnauthorized: false, // decided below, before the caller's first byte
    });
    const ms = how.timeoutMs ?? (o.handshakeTimeout ?? DEFAULT_TLS_HANDSHAKE_TIMEOUT) * 1000;
    const signal = how.signal;
    return new Promise<TLSSocket>((resolve, reject) => {
      const fail = (err: NetworkError): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        secure.off('secureConnect', onSecure);
        secure.on('error', () => undefined);
        secure.destroy();
        reject(err);
      };
      const onSecure = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        secure.off('error', onError);
        const refusal = this.#verify(secure, servername ?? host ?? 'localhost', label);
        if (refusal) fail(refusal);
        else resolve(secure);
      };
      const onError = (err: Error): void => fail(handshakeFailure(err, label));
      const onAbort = (): void => {
        const err = systemError('ABORT_ERR', 'TLS handshake aborted');
        fail(new NetworkError(err.message, err, ERR.CONNECT));
      };
      const timer = setTimeout(() => {
        const message = `TLS handshake with ${label} timed out after ${ms / 1000}s (ETIMEDOUT)`;
        fail(new TlsError(message, 'handshake', 'ETIMEDOUT'));
      }, ms);
      secure.once('secureConnect', onSecure);
      secure.once('error', onError);
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Undefined when the peer is accepted, else why not. */
  #verify(secure: TLSSocket, name: string, label: string): TlsError | undefined {
    if (this.options.insecure) return undefined;
    const x509 = peerX509(secure);
    if (!x509) return new TlsError(`TLS: ${label} sent no certificate`, 'unverified', 'NO_CERT');
    const cert = certificateSummary(x509);
    const dates = datesProblem(x509, label, cert);
    if (this.#pin !== undefined) {
      if (x509.fingerprint256 !== this.#pin) {
        const message = `TLS: the certificate of ${label} is sha256:${x509.fingerprint256}, not the --pin sha256:${this.#pin}`;
        return new TlsError(message, 'pin-mismatch', 'PIN_MISMATCH', cert);
      }
      return dates;
    }
    if (dates) return dates;
    if (secure.authorized) return undefined;
    return verifyFailure(String(secure.authorizationError), name, label, cert);
  }
}

/** How {@link tlsConnect} runs one handshake. */
export interface TlsConnectHow {
  /** The host dialed, name or address: checked against the certificate, sent as SNI when a name. */
  readonly host?: string;
  /** The peer in messages (`127.0.0.1:443`, a path; default: `host`, else `the server`). */
  readonly label?: string;
  /** Ends the handshake early (an ABORT_ERR). */
  readonly signal?: AbortSignal;
  /** Milliseconds the handshake may take (default: the options' `handshakeTimeout`, else 10 s). */
  readonly timeoutMs?: number;
}

/** Clients made from options objects, so that each object's trust store is parsed once. */
const madeClients = new WeakMap<TlsClientOptions, TlsClient>();

/**
 * The {@link TlsClient} of `options`: made once per options object and kept (a handler
 * that dials per request passes the same object every time), or `options` itself
 * when it is one. Bad options throw a UsageError here.
 */
export function tlsClientFor(options: TlsClientOptions | TlsClient): TlsClient {
  if (options instanceof TlsClient) return options;
  let client = madeClients.get(options);
  if (!client) {
    client = new TlsClient(options);
    madeClients.set(options, client);
  }
  return client;
}

/**
 * Client-side TLS dialing, for every client and a forwarding handler's `tls://`
 * upstream: the handshake on a connected stream socket (TCP or unix), verified
 * unless `options.insecure` (system CAs plus `ca`, or exactly the `pin`, with
 * `servername` as SNI and the name checked). Resolves with the TLS socket (its
 * half-close as the given socket's); rejects with a one-line {@link TlsError}
 * that names the fix, the socket destroyed.
 */
export function tlsConnect(
  socket: Socket,
  options: TlsClientOptions | TlsClient,
  how: TlsConnectHow = {},
): Promise<TLSSocket> {
  const label = how.label ?? how.host ?? 'the server';
  return tlsClientFor(options).secure(socket, how.host, label, how);
}

/**
 * The server's verdict on us after a TLS 1.3 handshake: the client's side is done
 * before the server has judged the client (its certificate, under mutual TLS), and
 * the server answers with session tickets when it accepts, an alert when it does
 * not. Resolves with the refusal, or undefined on a ticket, a close, or `graceMs` of
 * silence (a server that sends no tickets); at once for TLS 1.2, where the server
 * speaks last. For probes, which send nothing that would bring the refusal.
 */
export function serverVerdict(
  secure: TLSSocket,
  label: string,
  graceMs: number,
): Promise<TlsError | undefined> {
  if (secure.getProtocol() !== 'TLSv1.3') return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const done = (verdict: TlsError | undefined): void => {
      clearTimeout(timer);
      secure.off('session', accepted).off('close', accepted).off('error', refused);
      resolve(verdict);
    };
    const accepted = (): void => done(undefined);
    const refused = (err: Error): void => done(handshakeFailure(err, label));
    const timer = setTimeout(accepted, graceMs);
    secure.once('session', accepted).once('close', accepted).once('error', refused);
  });
}

/** Expired or not yet valid, checked here so that a pinned certificate's dates count too. */
function datesProblem(
  x509: X509Certificate,
  label: string,
  cert: CertificateSummary,
): TlsError | undefined {
  const now = Date.now();
  if (new Date(x509.validTo).getTime() < now) {
    const message = `TLS: the certificate of ${label} expired on ${cert.validTo} (CERT_HAS_EXPIRED) — it must be renewed on the server; only --insecure would accept it`;
    return new TlsError(message, 'expired', 'CERT_HAS_EXPIRED', cert);
  }
  if (new Date(x509.validFrom).getTime() > now) {
    const from = new Date(x509.validFrom).toISOString();
    const message = `TLS: the certificate of ${label} is not valid before ${from} (CERT_NOT_YET_VALID) — check the clocks; only --insecure would accept it`;
    return new TlsError(message, 'not-yet-valid', 'CERT_NOT_YET_VALID', cert);
  }
  return undefined;
}

const SELF_SIGNED = new Set(['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN']);
const UNKNOWN_CA = new Set([
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);

/** A certificate Node did not accept, as one line with the option that would fix it. */
function verifyFailure(
  code: string,
  name: string,
  label: string,
  cert: CertificateSummary,
): TlsError {
  const of = `the certificate of ${label}`;
  const pin = `--pin sha256:${cert.fingerprint256}`;
  if (SELF_SIGNED.has(code)) {
    const message = `TLS: ${of} is self-signed (${code}) — pin it with ${pin} if that is the fingerprint the server printed, or trust it with --ca <file>`;
    return new TlsError(message, 'self-signed', code, cert);
  }
  if (UNKNOWN_CA.has(code)) {
    const issuer = cert.issuerCN ? `'${cert.issuerCN}'` : 'its issuer';
    const message = `TLS: ${of} is signed by an unknown CA, ${issuer} (${code}) — trust that CA with --ca <file>`;
    return new TlsError(message, 'unknown-ca', code, cert);
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const names = cert.san.length > 0 ? cert.san.join(', ') : `CN=${cert.subjectCN}`;
    const message = `TLS: ${of} is not for '${name}' but for ${names} (${code}) — connect by one of those names, or name it with --servername <name>`;
    return new TlsError(message, 'wrong-name', code, cert);
  }
  const message = `TLS: ${of} was not accepted (${code}) — trust its CA with --ca <file>, or pin it with ${pin}`;
  return new TlsError(message, 'unverified', code, cert);
}

/** A handshake that failed before any certificate was judged. */
function handshakeFailure(err: unknown, label: string): TlsError {
  const code = errnoName(err) ?? 'EPROTO';
  const reason = (err as { reason?: string }).reason ?? oneLine(err);
  if (
    /wrong version number|packet length too long|unknown protocol|record layer failure/i.test(
      reason,
    )
  ) {
    const message = `TLS: ${label} does not speak TLS (${reason}) — a plain TCP port? drop --tls`;
    return new TlsError(message, 'not-tls', code, undefined, err);
  }
  if (/certificate required/i.test(reason)) {
    const message = `TLS: ${label} demands a client certificate (${reason}) — give --cert and --key`;
    return new TlsError(message, 'handshake', code, undefined, err);
  }
  if (/alert (unknown ca|bad certificate|certificate unknown|decrypt error)/i.test(reason)) {
    const message = `TLS: ${label} refused our client certificate (${reason}) — give one its CA signed (--cert, --key)`;
    return new TlsError(message, 'handshake', code, undefined, err);
  }
  if (code === 'ECONNRESET') {
    const message = `TLS: ${label} closed the connection during the handshake (ECONNRESET) — not a TLS server, or it refused us`;
    return new TlsError(message, 'handshake', code, undefined, err);
  }
  return new TlsError(
    `TLS handshake with ${label} failed — ${reason}`,
    'handshake',
    code,
    undefined,
    err,
  );
}
