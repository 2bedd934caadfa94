/**
 * Concurrency strategies for `threading` (a worker_threads pool, see
 * thread-pool.ts) and `forking` (a pre-forked pool of processes sharing the
 * listening socket, see fork-pool.ts), and what their workers share: finding the
 * worker entry files and carrying errors across threads and processes (they load
 * the handler with handler-module.ts).
 *
 * This module stays light: the worker entries import it, and the pools are only
 * loaded when a server asks for their mode (`async` and `sequential` never load
 * any of this).
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { BaseServer, ConcurrencyStrategy } from './base-server.js';
import { NetworkError, UnsupportedError, UsageError, oneLine } from '../net/errors.js';

/** Build the strategy for a server's mode. */
export async function createStrategy(
  server: BaseServer<unknown>,
  mode: 'threading' | 'forking',
): Promise<ConcurrencyStrategy<unknown>> {
  if (!server.handlerModule) {
    throw new UsageError(
      `mode '${mode}' needs the server's handlerModule option — workers import the handler from a module, they cannot share the class object`,
    );
  }
  if (mode === 'threading') {
    const { ThreadingStrategy } = await import('./thread-pool.js');
    return ThreadingStrategy.start(server);
  }
  const { ForkingStrategy } = await import('./fork-pool.js');
  return ForkingStrategy.create(server);
}

/** Pool size for a server: its `workers` option, or the number of CPUs. */
export function poolSize(server: BaseServer<unknown>): number {
  const n = Math.floor(server.workers);
  return n > 0 ? n : availableParallelism();
}

/**
 * The compiled worker entry `name.js` next to this module. When the engine runs
 * from its TypeScript sources (ts-jest, ts-node), workers cannot load `.ts`
 * files, so the built copy in `dist/engine/` is used instead.
 */
export function workerEntry(name: 'thread-worker' | 'fork-worker'): URL {
  const here = new URL(`./${name}.js`, import.meta.url);
  if (!import.meta.url.endsWith('.ts')) return here;
  const built = new URL(`../../dist/engine/${name}.js`, import.meta.url);
  if (existsSync(fileURLToPath(built))) return built;
  throw new UnsupportedError(
    `worker entry ${name}.js not found — the engine runs from sources; run 'npm run build' first`,
  );
}

/** An error as it crosses a thread or process boundary. */
export interface WireError {
  readonly name: string;
  readonly message: string;
  /** `code` of the error (`ECONNRESET`, `ERR.BIND`…). */
  readonly code?: string;
  /** errno name of a NetworkError's cause. */
  readonly errno?: string;
}

/** Flatten an error for postMessage / IPC. */
export function toWire(err: unknown): WireError {
  const e = err as { name?: unknown; code?: unknown; errno?: unknown };
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
