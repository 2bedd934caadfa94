/**
 * Concurrency strategies for `threading` (a worker_threads pool, see
 * thread-pool.ts) and `forking` (a pre-forked pool of processes sharing the
 * listening socket, see fork-pool.ts), and what their workers share: loading the
 * handler from a {@link HandlerModule}, finding the worker entry files, and
 * carrying errors across threads and processes.
 *
 * This module stays light: the worker entries import it, and the pools are only
 * loaded when a server asks for their mode (`async` and `sequential` never load
 * any of this).
 */
import { existsSync } from 'node:fs';
import { register } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BaseServer, ConcurrencyStrategy, HandlerModule } from './base-server.js';
import { ERR, NetworkError, UnsupportedError, UsageError, oneLine } from '../net/errors.js';
import {
  BaseRequestHandler,
  functionHandler,
  isSubclassOf,
  type HandlerClass,
  type HandlerFunction,
} from './request-handler.js';

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

/** The library's own index: what the bare specifier `sockit` means in a user's handler module. */
const SOCKIT_INDEX_URL = new URL('../index.js', import.meta.url).href;

let hookRegistered = false;

/**
 * Make a bare `'sockit'` import in a user's handler module resolve to this
 * package, as the CLI does in the main thread (hooks do not reach workers on
 * Node 20). Skipped for modules inside this package, which need no hook.
 */
function registerSockitSpecifier(url: string): void {
  if (hookRegistered || !url.startsWith('file:') || SOCKIT_INDEX_URL.endsWith('.ts')) return;
  if (url.startsWith(new URL('../', import.meta.url).href)) return;
  hookRegistered = true;
  const hook = `export async function resolve(specifier, context, next) {
  if (specifier === 'sockit') return { url: ${JSON.stringify(SOCKIT_INDEX_URL)}, shortCircuit: true };
  return next(specifier, context);
}`;
  register(`data:text/javascript,${encodeURIComponent(hook)}`);
}

/**
 * Import a handler module and return its handler class; a plain function
 * export is wrapped with {@link functionHandler}. Every problem is a UsageError.
 */
export async function loadHandlerClass(mod: HandlerModule): Promise<HandlerClass<unknown>> {
  const url = /^[a-z][a-z0-9+.-]+:/i.test(mod.url) ? mod.url : pathToFileURL(mod.url).href;
  const exportName = mod.exportName ?? 'default';
  registerSockitSpecifier(url);
  let ns: Record<string, unknown>;
  try {
    ns = (await import(url)) as Record<string, unknown>;
  } catch (err) {
    throw new UsageError(`cannot load handler module ${url} — ${oneLine(err)}`, ERR.HANDLER_MODULE);
  }
  const value = ns[exportName];
  if (typeof value !== 'function') {
    throw new UsageError(
      `handler module ${url} has no export '${exportName}' that is a handler class or function`,
      ERR.HANDLER_MODULE,
    );
  }
  if (
    isSubclassOf(value, BaseRequestHandler) ||
    /^class\b/.test(Function.prototype.toString.call(value))
  ) {
    return value as HandlerClass<unknown>;
  }
  const fn = value as HandlerFunction;
  return functionHandler(fn, fn.name || exportName) as unknown as HandlerClass<unknown>;
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
