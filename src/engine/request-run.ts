/**
 * One request, from dispatch to its end: counted, announced, run the way the
 * server's mode says, contained (a failure that escapes the handler — a timer, a
 * promise nobody awaits — fails the request while it runs and is reported after),
 * ended gracefully or at once, and reported with what it moved.
 */
import type { SocketAddress } from '../net/address.js';
import { formatEndpoint } from '../net/address.js';
import { oneLine } from '../net/errors.js';
import { debug } from '../net/debug.js';
import { EventEmitter } from 'node:events';
import { contain, containEmitter } from '../net/containment.js';
import { isThenable } from './request-handler.js';
import type { Pending } from './request-pump.js';
import type { RequestOutcome, ServerHooks } from './strategy.js';

/** Runs a server's requests; see the module comment. */
export class RequestRunner<Req> {
  readonly #hooks: ServerHooks<Req>;

  constructor(hooks: ServerHooks<Req>) {
    this.#hooks = hooks;
  }

  /** Run one request; a promise while it runs (a synchronous handler costs none). */
  dispatch(item: Pending<Req>): void | Promise<void> {
    const { request, clientAddress } = item;
    const hooks = this.#hooks;
    hooks.stats.requests += 1;
    hooks.emit('request', clientAddress, request);
    hooks.beginRequest(request);
    // timing costs a call per request: only when someone listens for requestEnd
    const started = hooks.listenerCount('requestEnd') > 0 ? performance.now() : 0;
    let result: void | RequestOutcome | Promise<void | RequestOutcome>;
    try {
      result = this.#contained(item, hooks.processRequest);
    } catch (err) {
      this.#settle(item, started, err);
      return;
    }
    if (!isThenable(result)) {
      const outcome = result as void | RequestOutcome;
      this.#settle(item, started, outcome?.error, outcome);
      return;
    }
    return result.then(
      (outcome: void | RequestOutcome) => this.#settle(item, started, outcome?.error, outcome),
      (err: unknown) => this.#settle(item, started, err ?? new Error('request failed')),
    );
  }

  /** A request handed over by a pool, in the worker: see `BaseServer.runRequest()`. */
  async runInWorker(request: Req, clientAddress: SocketAddress): Promise<RequestOutcome> {
    const hooks = this.#hooks;
    hooks.beginRequest(request);
    try {
      await this.#contained({ request, clientAddress }, hooks.finishRequest);
      hooks.shutdownRequest(request);
    } catch (err) {
      hooks.abortRequest(request);
      throw err;
    }
    return hooks.requestBytes(request);
  }

  /** Access before capacity: `verifyRequest()` as the request arrives; a refusal ends it. */
  admit(request: Req, clientAddress: SocketAddress): boolean {
    let allowed: boolean;
    try {
      allowed = this.#hooks.verifyRequest(request, clientAddress);
    } catch (err) {
      this.report(err, clientAddress);
      allowed = false;
    }
    if (!allowed) this.refuse(request, clientAddress, 'verifyRequest');
    return allowed;
  }

  /** Count, report and end a request refused for `reason`. */
  refuse(request: Req, clientAddress: SocketAddress, reason: string): void {
    this.#hooks.stats.rejected += 1;
    this.#hooks.emit('rejected', clientAddress, reason);
    this.#hooks.abortRequest(request);
  }

  /** Run `fn` (not a request: `serviceActions()`); what it throws goes to `handleError()`. */
  contained(fn: () => void, where: SocketAddress): void {
    try {
      fn();
    } catch (err) {
      this.#hooks.handleError(err, where);
    }
  }

  /** A failure that is no request's end: counted and given to `handleError()`. */
  report(err: unknown, clientAddress: SocketAddress): void {
    this.#hooks.stats.errors += 1;
    try {
      this.#hooks.handleError(err, clientAddress);
    } catch (inner) {
      debug('handleError threw: %s', oneLine(inner));
    }
  }

  #settle(item: Pending<Req>, started: number, error?: unknown, outcome?: void | RequestOutcome) {
    const { request, clientAddress } = item;
    const hooks = this.#hooks;
    if (error === undefined) hooks.shutdownRequest(request);
    else this.#failed(error, request, clientAddress);
    const { bytesIn, bytesOut } = outcome ?? hooks.requestBytes(request);
    hooks.stats.bytesIn += bytesIn;
    hooks.stats.bytesOut += bytesOut;
    if (hooks.listenerCount('requestEnd') === 0) return;
    const info = { clientAddress, bytesIn, bytesOut, durationMs: performance.now() - started };
    hooks.emit('requestEnd', error === undefined ? info : { ...info, error });
  }

  #failed(err: unknown, request: Req, clientAddress: SocketAddress): void {
    if (this.#hooks.isPeerFailure(err, request)) {
      debug('request from %s ended: %s', formatEndpoint(clientAddress), oneLine(err));
    } else {
      this.report(err, clientAddress);
    }
    this.#hooks.abortRequest(request);
  }

  /** Run the hook `fn` on the request in a containment scope, with the request's own events. */
  #contained<T>({ request, clientAddress }: Pending<Req>, fn: (r: Req, a: SocketAddress) => T): T {
    if (this.#hooks.builtIn) return fn(request, clientAddress);
    let failNow: ((err: unknown) => void) | undefined;
    const scope = {
      fail: (err: unknown) => (failNow ? failNow(err) : this.report(err, clientAddress)),
    };
    if (request instanceof EventEmitter) containEmitter(request, scope);
    const result = contain(scope, () => fn(request, clientAddress));
    if (!isThenable(result)) return result;
    return new Promise((resolve, reject) => {
      failNow = reject;
      result.then(resolve, reject).finally(() => (failNow = undefined));
    }) as T;
  }
}
