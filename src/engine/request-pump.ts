/**
 * The queue between a server's transport and its handlers: requests wait here
 * (as connections wait in a listen backlog) until `serveForever()` or
 * `handleRequest()` takes them and the strategy lets one more start; running
 * requests are tracked so that `serverClose()` can drain them, with a grace period.
 */
import type { SocketAddress } from '../net/address.js';
import { UsageError } from '../net/errors.js';
import { settledWithin } from '../net/timing.js';
import { isThenable } from './request-handler.js';
import type { RequestRunner } from './request-run.js';
import type { ServerHooks } from './strategy.js';

/** After the grace period, how long destroyed requests get to end before they are abandoned. */
const ABANDON_MS = 200;

/** A request waiting for a handler. */
export interface Pending<Req> {
  readonly request: Req;
  readonly clientAddress: SocketAddress;
}

/** A `serveForever()` in progress. */
export interface Serving {
  /** Has `shutdown()` been asked for? */
  stopped: boolean;
  /** Resolved when `shutdown()` is asked for. */
  readonly stop: Later;
  /** Resolved once `serveForever()` has returned. */
  readonly returned: Later;
}

type Later = { readonly promise: Promise<void>; readonly resolve: () => void };

function later(): Later {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** The request queue of one server; see the module comment. */
export class RequestPump<Req> {
  readonly #hooks: ServerHooks<Req>;
  readonly #runner: RequestRunner<Req>;
  readonly #pending: Pending<Req>[] = [];
  readonly #active = new Set<Promise<void>>();
  #waiter: ((item: Pending<Req> | undefined) => void) | undefined;
  #serving: Serving | undefined;
  #graceOver = later();
  #graceEnded = false;

  constructor(hooks: ServerHooks<Req>, runner: RequestRunner<Req>) {
    this.#hooks = hooks;
    this.#runner = runner;
  }

  /** Requests running. */
  get active(): number {
    return this.#active.size;
  }

  /** Requests waiting. */
  get pending(): number {
    return this.#pending.length;
  }

  /**
   * Would a request offered now start at once, under `serveForever()`? (None waits,
   * no `handleRequest()` counts it, the strategy has room.)
   */
  get startsNow(): boolean {
    const serving = this.#serving;
    return (
      serving !== undefined &&
      !serving.stopped &&
      this.#waiter === undefined &&
      this.#pending.length === 0 &&
      this.#hooks.canStart(this.active)
    );
  }

  /** A new request: run it now if it may start, else queue it (false). */
  offer(item: Pending<Req>): boolean {
    if (this.#waiter) {
      this.#waiter(item);
      return true;
    }
    if (this.#serving && this.#pending.length === 0 && this.#hooks.canStart(this.active)) {
      void this.run(item);
      return true;
    }
    this.#pending.push(item);
    return false;
  }

  /** A queued request left (its peer went away). */
  remove(request: Req): void {
    const i = this.#pending.findIndex((p) => p.request === request);
    if (i >= 0) this.#pending.splice(i, 1);
  }

  /** The next request, waiting at most `timeoutSeconds` (null: forever); undefined when none came. */
  take(timeoutSeconds: number | null): Promise<Pending<Req> | undefined> {
    if (this.#waiter) return Promise.reject(new UsageError('handleRequest() is already waiting'));
    const item = this.#pending.shift();
    if (item) return Promise.resolve(item);
    return new Promise((resolve) => {
      const timer =
        timeoutSeconds === null
          ? undefined
          : setTimeout(() => this.#waiter?.(undefined), timeoutSeconds * 1000);
      this.#waiter = (got) => {
        clearTimeout(timer);
        this.#waiter = undefined;
        resolve(got);
      };
    });
  }

  /** Run one request, tracked until it ends; the queue moves on when it does. */
  run(item: Pending<Req>): void | Promise<void> {
    const result = this.#runner.dispatch(item);
    if (!isThenable(result)) return;
    return this.track(result);
  }

  /** A running request (or requests run elsewhere), tracked until `done` settles. */
  track(done: Promise<void>): Promise<void> {
    // one closure and one promise per request: this runs for every datagram
    const ended = (): void => {
      this.#active.delete(done);
      this.pumpAll();
    };
    this.#active.add(done);
    return done.then(ended, ended);
  }

  /** Start as many queued requests as may start. */
  pumpAll(): void {
    while (this.#serving && this.#pending.length > 0 && this.#hooks.canStart(this.active)) {
      void this.run(this.#pending.shift()!);
    }
  }

  /** `serveForever()` begins; throws if one already runs. */
  startServing(): Serving {
    if (this.#serving) throw new UsageError('serveForever() is already running');
    return (this.#serving = { stopped: false, stop: later(), returned: later() });
  }

  /** `serveForever()` has returned: `shutdown()` may resolve. */
  servingReturned(serving: Serving): void {
    if (this.#serving === serving) this.#serving = undefined;
    serving.returned.resolve();
  }

  /** Ask `serveForever()` to return; resolves once it has. */
  stopServing(): Promise<void> {
    const serving = this.#serving;
    if (!serving) return Promise.resolve();
    serving.stopped = true;
    serving.stop.resolve();
    return serving.returned.promise;
  }

  /** End every queued request, and a `handleRequest()` waiting for one. */
  dropPending(): void {
    this.#waiter?.(undefined);
    for (const { request } of this.#pending.splice(0)) this.#hooks.abortRequest(request);
  }

  /** Wait for running requests, at most `graceMs`; true when all of them ended. */
  async drain(graceMs: number): Promise<boolean> {
    if (this.#active.size === 0) return true;
    await settledWithin([...this.#active], this.#graceEnded ? 0 : graceMs, this.#graceOver.promise);
    return this.#active.size === 0;
  }

  /** The grace period is cut short (a second Ctrl-C). */
  endGrace(): void {
    this.#graceEnded = true;
    this.#graceOver.resolve();
  }

  /**
   * After the requests were destroyed, give their handlers a moment to end; one
   * waiting on something else entirely is abandoned rather than keep the close waiting.
   */
  async abandonAfterAbort(): Promise<void> {
    if (this.#active.size === 0) return;
    await settledWithin([...this.#active], ABANDON_MS);
    this.#active.clear();
  }
}
