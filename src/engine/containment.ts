/**
 * Containment of handler failures that happen outside the handler's own promise:
 * a timer that throws, a promise that rejects with nobody awaiting it. Each
 * request runs in an AsyncLocalStorage scope; while a server serves, process-level
 * `uncaughtException` and `unhandledRejection` listeners look the scope up and
 * report the failure as that request's, so the server lives on. A failure outside
 * every scope is sockit's own: it goes to {@link onUncontained} (the CLI prints one
 * line and exits 1), or, with nobody registered, is thrown as Node would.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { EventEmitter } from 'node:events';
import { debug } from '../net/debug.js';
import { oneLine } from '../net/errors.js';

/** What a request's scope does with a failure that escaped its handler. */
export interface RequestScope {
  fail(err: unknown): void;
}

const storage = new AsyncLocalStorage<RequestScope>();
let users = 0;
let uncontained: ((err: unknown) => void) | undefined;

function onFailure(err: unknown): void {
  const scope = storage.getStore();
  if (scope) {
    debug('contained a failure of a handler: %s', oneLine(err));
    scope.fail(err);
    return;
  }
  if (uncontained) {
    uncontained(err);
    return;
  }
  // Nobody decides: fail as Node would have without these listeners.
  release();
  process.nextTick(() => {
    throw err;
  });
}

function release(): void {
  process.off('uncaughtException', onFailure);
  process.off('unhandledRejection', onFailure);
}

/** A server starts serving: contain its handlers' escaped failures until {@link leave}. */
export function enter(): void {
  if (users++ === 0) {
    process.on('uncaughtException', onFailure);
    process.on('unhandledRejection', onFailure);
  }
}

/** A server stopped serving. */
export function leave(): void {
  if (users > 0 && --users === 0) release();
}

/** Run `fn` (a request's handler) in `scope`: what escapes it later is reported there. */
export function contain<T>(scope: RequestScope, fn: () => T): T {
  return storage.run(scope, fn);
}

/**
 * Run every listener of `emitter` (a request's socket) in `scope`: a socket's events
 * come from its handle, which was made before the request had a scope, so a
 * listener's throw — or a timer it starts — would otherwise be nobody's.
 */
export function containEmitter(emitter: EventEmitter, scope: RequestScope): void {
  const emit = emitter.emit;
  emitter.emit = function (this: EventEmitter, ...args: unknown[]): boolean {
    try {
      return storage.run(scope, Reflect.apply, emit, this, args) as boolean;
    } catch (err) {
      scope.fail(err);
      return true;
    }
  } as EventEmitter['emit'];
}

/** Who handles a failure outside every request (sockit's own bug): the CLI registers here. */
export function onUncontained(fn: ((err: unknown) => void) | undefined): void {
  uncontained = fn;
}
