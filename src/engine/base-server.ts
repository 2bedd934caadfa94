/**
 * BaseServer: Python's socketserver.BaseServer lifecycle on Node's event loop.
 *
 * Methods for the caller: `listen()` (bind + activate), `serveForever()`,
 * `handleRequest()`, `shutdown()`, `serverClose()`, `serverAddress`.
 * Methods that may be overridden: `serverBind()`, `serverActivate()`,
 * `verifyRequest()`, `processRequest()`, `finishRequest()`, `shutdownRequest()`,
 * `handleError()`, `handleTimeout()`, `serviceActions()`.
 */
import { EventEmitter } from 'node:events';
import type { SocketAddress, Transport } from '../net/address.js';
import { AlreadyListeningError, oneLine, UnsupportedError, UsageError } from '../net/errors.js';
import { formatEndpoint } from '../net/address.js';
import { isThenable, runHandler, type HandlerClass } from './request-handler.js';
import { debug } from '../net/debug.js';

import { CONCURRENCY_MODES, type ConcurrencyMode } from './modes.js';

export { CONCURRENCY_MODES, type ConcurrencyMode };

/** Server states: idle → listening → closing → closed. */
export type ServerState = 'idle' | 'listening' | 'closing' | 'closed';

/** Where worker threads or processes find the handler class (they cannot share the class object). */
export interface HandlerModule {
  /** Module URL or absolute path that exports the handler. */
  readonly url: string;
  /** Export name; `default` when omitted. */
  readonly exportName?: string;
}

/** Options shared by every server class. */
export interface BaseServerOptions {
  /** Concurrency model; `async` by default. */
  mode?: ConcurrencyMode;
  /** Pool size for `threading` and `forking` (default: CPU count). */
  workers?: number;
  /** Where workers import the handler from; required for `threading` and `forking`. */
  handlerModule?: HandlerModule;
  /** Seconds `handleRequest()` waits before calling `handleTimeout()`; null waits forever. */
  timeout?: number | null;
  /** Where the default `handleError()` writes its one line (default: stderr). */
  log?: (line: string) => void;
}

/** Counters a server keeps (read them for a summary). */
export interface ServerStats {
  /** Requests dispatched to a handler (connections on stream servers, datagrams on datagram servers). */
  requests: number;
  /** Requests refused by `verifyRequest()` or a connection limit. */
  rejected: number;
  /** Requests whose handler failed. */
  errors: number;
  /** Bytes received in finished requests. */
  bytesIn: number;
  /** Bytes sent in finished requests. */
  bytesOut: number;
}

/** What the `requestEnd` event carries. */
export interface RequestEndInfo {
  readonly clientAddress: SocketAddress;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly durationMs: number;
  readonly error?: unknown;
}

/**
 * The pluggable part of a concurrency model. `async` and `sequential` need none;
 * `threading` runs handler work elsewhere; `forking` replaces binding altogether.
 */
export interface ConcurrencyStrategy<Req> {
  /** Run one request's handler instead of running it in this thread. */
  finishRequest?(request: Req, clientAddress: SocketAddress): Promise<void>;
  /** Bind in worker processes instead of here; resolves with the shared bound address. */
  listen?(): Promise<SocketAddress>;
  /** Stop workers; those still busy after `graceMs` are stopped by force. */
  close(graceMs?: number): Promise<void>;
  /** The grace period of `serverClose()` was cut short: workers stop what still runs. */
  endGrace?(): void;
}

interface Pending<Req> {
  readonly request: Req;
  readonly clientAddress: SocketAddress;
}

/** After the grace period, how long destroyed requests get to end before they are abandoned. */
const ABANDON_MS = 200;

/** Connection-level errors that end a request without being a handler bug. */
const PEER_ERRORS = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ERR_STREAM_PREMATURE_CLOSE',
  'ERR_STREAM_DESTROYED',
]);

/** Is this error the peer going away rather than the handler failing? */
export function isPeerError(err: unknown): boolean {
  return (
    typeof err === 'object' &&
    err !== null &&
    PEER_ERRORS.has(String((err as { code?: unknown }).code))
  );
}

/**
 * Base class for servers. Subclasses bind a transport and feed requests in with
 * `enqueueRequest()`. Requests wait (stream sockets paused) until `serveForever()`
 * or `handleRequest()` takes them, as connections wait in a backlog.
 *
 * Events: `listening` (address), `request` (clientAddress), `requestEnd`
 * ({@link RequestEndInfo}), `requestError` (error, clientAddress), `rejected`
 * (clientAddress, reason), `timeout`, `close`.
 */
export abstract class BaseServer<Req = unknown> extends EventEmitter {
  /** The transport, for banners and logs. */
  abstract readonly transport: Transport;
  /** The handler class instantiated for each request. */
  readonly RequestHandlerClass: HandlerClass<Req>;
  /** Concurrency model. */
  readonly mode: ConcurrencyMode;
  /** Pool size for `threading`/`forking`. */
  readonly workers: number;
  /** Where workers import the handler from. */
  readonly handlerModule: HandlerModule | undefined;
  /** Seconds `handleRequest()` waits; null waits forever. */
  timeout: number | null;
  /** Counters for summaries. */
  readonly stats: ServerStats = { requests: 0, rejected: 0, errors: 0, bytesIn: 0, bytesOut: 0 };
  /** Where `handleError()` writes by default. */
  log: (line: string) => void;

  #address: SocketAddress;
  #state: ServerState = 'idle';
  #listening: Promise<SocketAddress> | undefined;
  #closing: Promise<void> | undefined;
  readonly #pending: Pending<Req>[] = [];
  readonly #active = new Set<Promise<void>>();
  #waiter: ((item: Pending<Req> | null) => void) | undefined;
  #serving: { stop: () => void; done: Promise<void> } | undefined;
  #strategy: ConcurrencyStrategy<Req> | undefined;

  constructor(
    serverAddress: SocketAddress,
    RequestHandlerClass: HandlerClass<Req>,
    options: BaseServerOptions = {},
  ) {
    super();
    if (typeof RequestHandlerClass !== 'function') {
      throw new TypeError('The RequestHandlerClass argument must be a handler class.');
    }
    this.#address = serverAddress;
    this.RequestHandlerClass = RequestHandlerClass;
    this.mode = options.mode ?? 'async';
    if (!CONCURRENCY_MODES.includes(this.mode)) {
      throw new UsageError(
        `unknown mode '${String(this.mode)}' — expected one of ${CONCURRENCY_MODES.join(', ')}`,
      );
    }
    this.workers = options.workers ?? 0;
    this.handlerModule = options.handlerModule;
    this.timeout = options.timeout ?? null;
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
  }

  /** The address the server is bound to (the real one once bound: port 0 resolved). */
  get serverAddress(): SocketAddress {
    return this.#address;
  }

  /** idle, listening, closing or closed. */
  get state(): ServerState {
    return this.#state;
  }

  /** Requests currently being handled. */
  get activeRequests(): number {
    return this.#active.size;
  }

  /** Requests accepted but not yet handed to a handler. */
  get pendingRequests(): number {
    return this.#pending.length;
  }

  // ---- Methods for the caller -------------------------------------------------

  /**
   * Bind and activate (Python does this in the constructor). Resolves with the real
   * bound address; rejects with the system error (EADDRINUSE, EACCES…). Do not override.
   */
  listen(): Promise<SocketAddress> {
    if (this.#listening) return Promise.reject(new AlreadyListeningError());
    if (this.#state !== 'idle') return Promise.reject(new UsageError('server is closed'));
    this.#listening = (async () => {
      this.#strategy = await this.createStrategy();
      const address = this.#strategy?.listen
        ? await this.#strategy.listen()
        : await this.#bindHere();
      this.#address = address;
      this.#state = 'listening';
      debug('listening on %s', formatEndpoint(address));
      this.emit('listening', address);
      return address;
    })();
    this.#listening.catch(() => {
      this.#state = 'closed';
    });
    return this.#listening;
  }

  async #bindHere(): Promise<SocketAddress> {
    const address = await this.serverBind();
    await this.serverActivate();
    return address;
  }

  /**
   * Handle requests until `shutdown()` is called; calls `serviceActions()` every
   * `pollInterval` seconds. Binds first if needed. Do not override.
   */
  async serveForever(pollInterval = 0.5): Promise<void> {
    if (this.#serving) throw new UsageError('serveForever() is already running');
    // Registered before binding, so that a shutdown() called right away is not lost;
    // `done` resolves once serveForever() has returned.
    let stopping = false;
    let wake!: () => void;
    const stopped = new Promise<void>((resolve) => (wake = resolve));
    let returned!: () => void;
    const done = new Promise<void>((resolve) => (returned = resolve));
    const stop = (): void => {
      stopping = true;
      wake();
    };
    const serving = { stop, done };
    this.#serving = serving;
    let timer: NodeJS.Timeout | undefined;
    try {
      await this.#ensureListening();
      if (stopping) return;
      timer = setInterval(() => this.#serviceActions(), Math.max(1, pollInterval * 1000));
      timer.unref();
      this.#pump();
      await stopped;
    } catch (err) {
      if (!stopping) throw err; // closed before it started serving: a plain return
    } finally {
      clearInterval(timer);
      if (this.#serving === serving) this.#serving = undefined;
      returned();
    }
  }

  /**
   * Handle one request: wait for it (at most `timeout` seconds, then call
   * `handleTimeout()`), run it to completion and return. Do not override.
   */
  async handleRequest(): Promise<void> {
    // forked workers accept on their own: this process never sees a request to take
    if (this.mode === 'forking') {
      throw new UnsupportedError('handleRequest() needs a single process — not with mode forking');
    }
    await this.#ensureListening();
    if (this.#waiter) throw new UsageError('handleRequest() is already waiting');
    let item = this.#pending.shift();
    if (!item) {
      item =
        (await new Promise<Pending<Req> | null>((resolve) => {
          let timer: NodeJS.Timeout | undefined;
          this.#waiter = (got) => {
            if (timer) clearTimeout(timer);
            this.#waiter = undefined;
            resolve(got);
          };
          if (this.timeout !== null && this.#state === 'listening') {
            timer = setTimeout(() => this.#waiter?.(null), this.timeout * 1000);
          }
        })) ?? undefined;
    }
    if (!item) {
      if (this.#state === 'listening') this.handleTimeout();
      return;
    }
    await this.#dispatch(item);
  }

  /**
   * Stop `serveForever()`; resolves once it has returned. Requests in flight go on;
   * new ones wait. Idempotent. Do not override.
   */
  shutdown(): Promise<void> {
    const serving = this.#serving;
    if (!serving) return Promise.resolve();
    serving.stop();
    return serving.done;
  }

  /**
   * Stop listening, drop requests nobody took, let running requests finish (at most
   * `graceMs`, then destroy them; a handler that still does not return is abandoned)
   * and release the address. Idempotent: later calls get the same promise; a later
   * call with `graceMs: 0` ends the grace period at once. May be extended through
   * `serverCleanup()`.
   */
  serverClose(options: { graceMs?: number } = {}): Promise<void> {
    // a later call with graceMs 0 cuts a running grace period short (a second Ctrl-C)
    if (this.#closing && options.graceMs === 0) this.#endGrace();
    this.#closing ??= this.#close(options.graceMs ?? Infinity);
    return this.#closing;
  }

  #graceOver = false;
  #onGraceOver: (() => void) | undefined;

  #endGrace(): void {
    this.#graceOver = true;
    this.#onGraceOver?.();
    this.#strategy?.endGrace?.();
  }

  async #close(graceMs: number): Promise<void> {
    const wasListening = this.#listening !== undefined;
    if (wasListening) await this.#listening?.catch(() => undefined);
    this.#state = 'closing';
    await this.shutdown();
    this.#waiter?.(null);
    for (const { request } of this.#pending.splice(0)) this.abortRequest(request);
    if (wasListening) await this.closeListener();
    if (this.#active.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => {
        this.#onGraceOver = resolve;
        if (this.#graceOver) resolve();
        else if (Number.isFinite(graceMs)) timer = setTimeout(resolve, Math.max(0, graceMs));
      });
      await Promise.race([Promise.allSettled([...this.#active]), grace]);
      if (timer) clearTimeout(timer);
      this.#onGraceOver = undefined;
      if (this.#active.size > 0) {
        this.abortAll();
        // Destroyed requests end their handlers within a few ticks; a handler waiting on
        // something else entirely is abandoned rather than keep serverClose() waiting.
        let abandon: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.allSettled([...this.#active]),
          new Promise<void>((resolve) => (abandon = setTimeout(resolve, ABANDON_MS))),
        ]);
        clearTimeout(abandon);
        this.#active.clear();
      }
    }
    await this.#strategy?.close(graceMs);
    await this.serverCleanup();
    this.#state = 'closed';
    this.emit('close');
  }

  // ---- Feeding requests in (for subclasses) -----------------------------------

  /** A transport hands a new request to the server. Do not override. */
  protected enqueueRequest(request: Req, clientAddress: SocketAddress): void {
    if (this.#state !== 'listening') {
      this.abortRequest(request);
      return;
    }
    const item = { request, clientAddress };
    if (this.#waiter) {
      this.#waiter(item);
    } else if (this.#serving && this.#pending.length === 0 && this.#canStart()) {
      void this.#dispatch(item);
    } else {
      this.#pending.push(item);
      this.onQueued(request);
    }
  }

  /** A queued request left before being handled (the peer closed). Do not override. */
  protected dequeueRequest(request: Req): void {
    const i = this.#pending.findIndex((p) => p.request === request);
    if (i >= 0) this.#pending.splice(i, 1);
  }

  #canStart(): boolean {
    return this.mode !== 'sequential' || this.#active.size === 0;
  }

  #pump(): void {
    while (this.#serving && this.#pending.length > 0 && this.#canStart()) {
      void this.#dispatch(this.#pending.shift()!);
    }
  }

  #dispatch(item: Pending<Req>): Promise<void> {
    const { request, clientAddress } = item;
    let allowed: boolean;
    try {
      allowed = this.verifyRequest(request, clientAddress);
    } catch (err) {
      this.handleError(err, clientAddress);
      allowed = false;
    }
    if (!allowed) {
      this.stats.rejected += 1;
      this.emit('rejected', clientAddress, 'verifyRequest');
      this.abortRequest(request);
      return Promise.resolve();
    }
    this.stats.requests += 1;
    this.emit('request', clientAddress, request);
    // timing costs a call per request: only when someone listens for requestEnd
    const started = this.listenerCount('requestEnd') > 0 ? performance.now() : 0;
    const end = (error?: unknown): void => {
      const { bytesIn, bytesOut } = this.requestBytes(request);
      this.stats.bytesIn += bytesIn;
      this.stats.bytesOut += bytesOut;
      if (this.listenerCount('requestEnd') > 0) {
        const info: RequestEndInfo = {
          clientAddress,
          bytesIn,
          bytesOut,
          durationMs: performance.now() - started,
        };
        this.emit('requestEnd', error === undefined ? info : { ...info, error });
      }
    };
    let result: void | Promise<void>;
    try {
      result = this.processRequest(request, clientAddress);
    } catch (err) {
      this.#failed(err, request, clientAddress);
      end(err);
      this.#pump();
      return Promise.resolve();
    }
    if (!isThenable(result)) {
      this.shutdownRequest(request);
      end();
      return Promise.resolve();
    }
    const tracked: Promise<void> = result.then(
      () => {
        this.#active.delete(tracked);
        this.shutdownRequest(request);
        end();
        this.#pump();
      },
      (err: unknown) => {
        this.#active.delete(tracked);
        this.#failed(err, request, clientAddress);
        end(err);
        this.#pump();
      },
    );
    this.#active.add(tracked);
    return tracked;
  }

  #failed(err: unknown, request: Req, clientAddress: SocketAddress): void {
    if (this.isPeerFailure(err, request)) {
      debug('request from %s ended: %s', formatEndpoint(clientAddress), oneLine(err));
    } else {
      this.stats.errors += 1;
      try {
        this.handleError(err, clientAddress);
      } catch (inner) {
        debug('handleError threw: %s', oneLine(inner));
      }
    }
    this.abortRequest(request);
  }

  async #ensureListening(): Promise<void> {
    if (this.#state === 'idle' && !this.#listening) await this.listen();
    else await this.#listening;
    if (this.#state !== 'listening') throw new UsageError('server is closed');
  }

  #serviceActions(): void {
    try {
      this.serviceActions();
    } catch (err) {
      this.handleError(err, this.#address);
    }
  }

  // ---- Hooks ------------------------------------------------------------------

  /** Build the concurrency strategy for `mode` (threading/forking). May be overridden. */
  protected async createStrategy(): Promise<ConcurrencyStrategy<Req> | undefined> {
    if (this.mode !== 'threading' && this.mode !== 'forking') return undefined;
    const { createStrategy } = await import('./concurrency.js');
    const strategy = await createStrategy(this as unknown as BaseServer<unknown>, this.mode);
    return strategy as unknown as ConcurrencyStrategy<Req>;
  }

  /** Bind the socket (and, on stream servers, listen: Node does both in one call). Must be overridden. */
  protected abstract serverBind(): Promise<SocketAddress>;

  /** Called after `serverBind()`. May be overridden. */
  protected serverActivate(): void | Promise<void> {}

  /** Stop accepting new requests and release the listening socket. Must be overridden. */
  protected abstract closeListener(): Promise<void>;

  /** Release what binding left behind (a unix socket file). May be overridden. */
  protected serverCleanup(): void | Promise<void> {}

  /**
   * Return false to refuse a request before any handler sees it (the request is
   * closed unserved). The default accepts everything. May be overridden.
   */
  protected verifyRequest(_request: Req, _clientAddress: SocketAddress): boolean {
    return true;
  }

  /**
   * Run one request: by default `finishRequest()`; the engine then calls
   * `shutdownRequest()` (or `abortRequest()` after an error). May be overridden.
   */
  protected processRequest(request: Req, clientAddress: SocketAddress): void | Promise<void> {
    return this.finishRequest(request, clientAddress);
  }

  /**
   * Instantiate the handler class and run setup → handle → finish; under
   * `threading` the work goes to the worker pool instead. May be overridden.
   */
  protected finishRequest(request: Req, clientAddress: SocketAddress): void | Promise<void> {
    if (this.#strategy?.finishRequest) return this.#strategy.finishRequest(request, clientAddress);
    return runHandler(new this.RequestHandlerClass(request, clientAddress, this));
  }

  /** End a request that was handled (graceful close). Must be overridden. */
  protected abstract shutdownRequest(request: Req): void;

  /** End a request at once (refused, failed, or cut by `serverClose`). Must be overridden. */
  protected abstract abortRequest(request: Req): void;

  /** Destroy every request still running (grace period over). May be overridden. */
  protected abortAll(): void {}

  /** A request was queued; stream servers keep it paused. May be overridden. */
  protected onQueued(_request: Req): void {}

  /** Bytes in and out of a finished request, for stats. Must be overridden. */
  protected abstract requestBytes(request: Req): { bytesIn: number; bytesOut: number };

  /**
   * Called when a handler fails. The default emits `requestError` when someone
   * listens, else writes one line through `log`; the server keeps serving. May be overridden.
   */
  protected handleError(err: unknown, clientAddress: SocketAddress): void {
    if (this.listenerCount('requestError') > 0) {
      this.emit('requestError', err, clientAddress);
    } else {
      const name = this.RequestHandlerClass.name || 'handler';
      this.log(
        `sockit: handler '${name}' failed for ${formatEndpoint(clientAddress)}: ${oneLine(err)}`,
      );
    }
  }

  /**
   * Did this request fail because the peer went away (a reset, a broken pipe) rather
   * than because the handler failed? Such failures end the request without
   * `handleError()`. May be overridden.
   */
  protected isPeerFailure(err: unknown, _request: Req): boolean {
    return isPeerError(err);
  }

  /** Called by `handleRequest()` when `timeout` passes with no request. May be overridden. */
  protected handleTimeout(): void {
    this.emit('timeout');
  }

  /** Called every poll interval while `serveForever()` runs. May be overridden. */
  protected serviceActions(): void {}
}
