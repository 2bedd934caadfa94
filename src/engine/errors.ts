/**
 * Error classes shared by every layer. Each carries a stable `code`
 * (`SOCKIT_ERR_*`) and the process exit code the CLI maps it to.
 */

/** Exit codes used across sockit. */
export const EXIT = { OK: 0, FAILURE: 1, USAGE: 2, SIGINT: 130, SIGTERM: 143 } as const;

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
  constructor(message: string, code = 'SOCKIT_ERR_USAGE') {
    super(message, code, EXIT.USAGE);
  }
}

/** Something sockit cannot do on this platform or in this combination (exit 2). */
export class UnsupportedError extends SockitError {
  constructor(message: string, code = 'SOCKIT_ERR_UNSUPPORTED') {
    super(message, code, EXIT.USAGE);
  }
}

/** The network or the system said no: refused, timed out, address in use (exit 1). */
export class NetworkError extends SockitError {
  /** The errno name of the underlying system error, when there is one (`ECONNREFUSED`). */
  readonly errno: string | undefined;

  constructor(message: string, cause?: unknown, code = 'SOCKIT_ERR_NETWORK') {
    super(message, code, EXIT.FAILURE, { cause });
    this.errno = errnoName(cause);
  }
}

/** Raised when a server is asked to listen twice. */
export class AlreadyListeningError extends SockitError {
  constructor() {
    super('server is already listening', 'SOCKIT_ERR_ALREADY_LISTENING', EXIT.USAGE);
  }
}

/** The `code` of a Node system error (`ECONNREFUSED`), or undefined. */
export function errnoName(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') {
    return err.code;
  }
  return undefined;
}

/** The message of anything thrown, on one line. */
export function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
