/**
 * Errors as they cross a thread or process boundary: flattened to plain data on
 * one side, rebuilt on the other with sockit's own classes and codes kept.
 */
import { NetworkError, UnsupportedError, UsageError, oneLine } from './errors.js';

/** An error as it crosses a thread or process boundary. */
export interface WireError {
  readonly name: string;
  readonly message: string;
  /** `code` of the error (an errno name, or one of sockit's own). */
  readonly code?: string;
  /** errno name of a NetworkError's cause. */
  readonly errno?: string;
}

/** Flatten an error for postMessage / IPC. */
export function toWire(err: unknown): WireError {
  const e = err as { name?: unknown; code?: unknown };
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const errno = err instanceof NetworkError ? err.errno : undefined;
  const name = err instanceof Error ? err.name : 'Error';
  return { name, message: oneLine(err), ...(code ? { code } : {}), ...(errno ? { errno } : {}) };
}

/** Rebuild an error sent with {@link toWire}: sockit's own classes keep their class and code. */
export function fromWire(w: WireError): Error {
  switch (w.name) {
    case 'NetworkError':
      return new NetworkError(w.message, w.errno ? { code: w.errno } : undefined, w.code);
    case 'UsageError':
      return new UsageError(w.message, w.code);
    case 'UnsupportedError':
      return new UnsupportedError(w.message, w.code);
  }
  const err = new Error(w.message) as Error & { code?: string };
  if (w.name && w.name !== 'Error') err.name = w.name;
  if (w.code) err.code = w.code;
  return err;
}
