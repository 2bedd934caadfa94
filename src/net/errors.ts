/**
 * The one catalogue of errors: the error classes every layer raises, their stable
 * `SOCKIT_ERR_*` codes, the exit codes the CLI maps them to, and the errno helpers
 * (names, numbers, one-line messages, bind failures). No other module spells a
 * `SOCKIT_ERR_*` literal: they all import {@link ERR}.
 */
import { constants } from 'node:os';
import { getSystemErrorName } from 'node:util';

/** Exit codes used across sockit. */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  SIGHUP: 129,
  SIGINT: 130,
  SIGTERM: 143,
} as const;

/** Every error code sockit raises, by name. */
export const ERR = {
  USAGE: 'SOCKIT_ERR_USAGE',
  UNSUPPORTED: 'SOCKIT_ERR_UNSUPPORTED',
  NETWORK: 'SOCKIT_ERR_NETWORK',
  ALREADY_LISTENING: 'SOCKIT_ERR_ALREADY_LISTENING',
  /** A bind failed (permission, no such directory…) for a reason other than the address being taken. */
  BIND: 'SOCKIT_ERR_BIND',
  /** The address is taken: EADDRINUSE, a live unix socket, a file in the way. */
  ADDRESS_IN_USE: 'SOCKIT_ERR_ADDRESS_IN_USE',
  PATH_TOO_LONG: 'SOCKIT_ERR_PATH_TOO_LONG',
  NO_DIRECTORY: 'SOCKIT_ERR_NO_DIRECTORY',
  BAD_HOST: 'SOCKIT_ERR_BAD_HOST',
  RESOLVE: 'SOCKIT_ERR_RESOLVE',
  CONNECT: 'SOCKIT_ERR_CONNECT',
  CONNECTION: 'SOCKIT_ERR_CONNECTION',
  INPUT: 'SOCKIT_ERR_INPUT',
  OUTPUT: 'SOCKIT_ERR_OUTPUT',
  DATAGRAM: 'SOCKIT_ERR_DATAGRAM',
  MSGSIZE: 'SOCKIT_ERR_MSGSIZE',
  REFUSED: 'SOCKIT_ERR_REFUSED',
  NO_REPLY: 'SOCKIT_ERR_NO_REPLY',
  HANDLER_MODULE: 'SOCKIT_ERR_HANDLER_MODULE',
  UNKNOWN_HANDLER: 'SOCKIT_ERR_UNKNOWN_HANDLER',
  /** A TLS peer's certificate was not accepted (expired, self-signed, unknown CA, wrong name, pin). */
  TLS_VERIFY: 'SOCKIT_ERR_TLS_VERIFY',
  /** A TLS handshake failed (not TLS, an alert, a timeout). */
  TLS_HANDSHAKE: 'SOCKIT_ERR_TLS_HANDSHAKE',
  /** An optional native addon (unix-dgram) is not installed, or did not load. */
  MISSING_ADDON: 'SOCKIT_ERR_MISSING_ADDON',
  /** A program for --exec/--sh-exec that cannot run (not found, not executable, bad quoting). */
  EXEC: 'SOCKIT_ERR_EXEC',
  /** A reply held in memory (send --hex, --json) passed the most that is held. */
  REPLY_TOO_LARGE: 'SOCKIT_ERR_REPLY_TOO_LARGE',
} as const;

/** One of the codes in {@link ERR}. */
export type ErrorCode = (typeof ERR)[keyof typeof ERR];

/** Base class of every error sockit raises on purpose. */
export class SockitError extends Error {
  /** Stable machine-readable code, `SOCKIT_ERR_*`. */
  readonly code: string;
  /** Exit status the CLI uses for this error. */
  readonly exitCode: number;

  constructor(message: string, code: string, exitCode: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.exitCode = exitCode;
    Error.captureStackTrace?.(this, new.target);
  }
}

/** Bad usage or bad input: a port out of range, an unknown handler, a bad CIDR (exit 2). */
export class UsageError extends SockitError {
  constructor(message: string, code: string = ERR.USAGE) {
    super(message, code, EXIT.USAGE);
  }
}

/** Something sockit cannot do on this platform or in this combination (exit 2). */
export class UnsupportedError extends SockitError {
  constructor(message: string, code: string = ERR.UNSUPPORTED) {
    super(message, code, EXIT.USAGE);
  }
}

/** The network or the system said no: refused, timed out, address in use (exit 1). */
export class NetworkError extends SockitError {
  /** The errno name of the underlying system error, when there is one (`ECONNREFUSED`). */
  readonly errno: string | undefined;

  constructor(message: string, cause?: unknown, code: string = ERR.NETWORK) {
    super(message, code, EXIT.FAILURE, { cause });
    this.errno = errorCode(cause);
  }
}

/**
 * This installation lacks a part it needs: an optional native addon that was not
 * built (no C++ toolchain at install time) or does not load (exit 1).
 */
export class MissingAddonError extends SockitError {
  constructor(message: string, cause?: unknown) {
    super(message, ERR.MISSING_ADDON, EXIT.FAILURE, { cause });
  }
}

/** Raised when a server is asked to listen twice. */
export class AlreadyListeningError extends SockitError {
  constructor() {
    super('server is already listening', ERR.ALREADY_LISTENING, EXIT.USAGE);
  }
}

/** The `code` of a Node system error (`ECONNREFUSED`), or undefined. */
export function errnoName(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') {
    return err.code;
  }
  return undefined;
}

/** Connection-level errors that end a request without being a handler bug. */
const PEER_ERRORS = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ERR_STREAM_PREMATURE_CLOSE',
  'ERR_STREAM_DESTROYED',
]);

/** Is this error the peer going away (a reset, a broken pipe) rather than the code failing? */
export function isPeerError(err: unknown): boolean {
  return PEER_ERRORS.has(errnoName(err) ?? '');
}

/**
 * The errno name of a system error (`ECONNREFUSED`), also when a native addon
 * reports it as a negative number (`code: -2` → `ENOENT`).
 */
export function errorCode(err: unknown): string | undefined {
  const named = errnoName(err);
  if (named) return named;
  if (typeof err !== 'object' || err === null) return undefined;
  const n = (err as { code?: unknown; errno?: unknown }).code ?? (err as { errno?: unknown }).errno;
  if (typeof n === 'number' && n < 0) {
    try {
      return getSystemErrorName(n);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** The errno name of a negative libuv status (`ECONNREFUSED`), or `E<n>` when Node has none. */
export function statusName(status: number): string {
  return errorCode({ errno: status }) ?? `E${-status}`;
}

/** The positive errno number of an errno name (`ECONNREFUSED` → 111), 0 for `'0'`, -1 if unknown. */
export function errnoNumber(name: string): number {
  if (name === '0' || name === 'OK') return 0;
  const n = (constants.errno as Record<string, number | undefined>)[name];
  return n ?? -1;
}

/**
 * The message of anything thrown, on one line. Unlike `instanceof Error`, this
 * also reads errors made in another realm (a vm context, a test runner).
 */
export function oneLine(err: unknown): string {
  const tls = opensslReason(err);
  if (tls !== undefined) return tls;
  const text =
    typeof err === 'object' && err !== null && 'message' in err
      ? String((err as { message: unknown }).message)
      : String(err);
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/**
 * An OpenSSL error (a TLS alert, a bad record) as its short reason and code:
 * `tlsv13 alert certificate required (ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED)`,
 * with what to do when the peer wants a client certificate; undefined for others.
 */
function opensslReason(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { reason, code, library } = err as { reason?: unknown; code?: unknown; library?: unknown };
  if (typeof reason !== 'string' || typeof library !== 'string' || typeof code !== 'string') {
    return undefined;
  }
  const hint = /CERTIFICATE_REQUIRED$/.test(code)
    ? ' — the peer demands a client certificate (--cert, --key)'
    : '';
  return `${reason} (${code})${hint}`;
}

/** A system error with this errno name, for causes that have none of their own. */
export function systemError(code: string, message = code): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

/** How a failed bind reads, by errno name. */
const BIND_REASONS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address in use',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'address not available on this machine',
  ENOENT: 'no such directory',
  ENOTDIR: 'a path component is not a directory',
};

/**
 * A failed bind as one line: `cannot listen on 127.0.0.1:80 — permission denied (EACCES)`.
 * `where` is the endpoint as the banner would show it; `verb` what was being done.
 */
export function bindError(err: unknown, where: string, verb = 'listen on'): NetworkError {
  const code = errorCode(err) ?? 'EUNKNOWN';
  return new NetworkError(
    `cannot ${verb} ${where} — ${BIND_REASONS[code] ?? code} (${code})`,
    err,
    code === 'EADDRINUSE' ? ERR.ADDRESS_IN_USE : ERR.BIND,
  );
}
