/**
 * BaseServer: Python's socketserver.BaseServer lifecycle on Node's event loop: the
 * methods for the caller first, the hooks that may be overridden at the end. How
 * requests run is the strategy of the mode (strategy.ts).
 */
import { settleMallocHeap } from '../net/heap.js';
import { EventEmitter } from 'node:events';
import { formatEndpoint, type SocketAddress, type Transport } from '../net/address.js';
import { AlreadyListeningError, UsageError, isPeerError, oneLine } from '../net/errors.js';
import { debug } from '../net/debug.js';
import { enter, leave } from '../net/containment.js';
import { toAccessList, type AccessList } from '../net/access.js';
import { CONCURRENCY_MODES, type ConcurrencyMode } from './modes.js';
import { RequestPump } from './request-pump.js';
import { runHandler, type HandlerClass } from './request-handler.js';
import { RequestRunner } from './request-run.js';
import type { BaseServerOptions, ServerState, ServerStats } from './server-types.js';
import { isBuiltInHandler, specOf, type ModuleRef, type ServerSpec } from './server-spec.js';
import { checkMode, createStrategy } from './strategies.js';
import type { ConcurrencyStrategy, RequestOutcome, ServerHooks } from './strategy.js';

export { CONCURRENCY_MODES, type ConcurrencyMode };
export * from './server-types.js';
export type { ModuleRef, RequestOutcome, ServerSpec };

/**
 * Base class for servers. Subclasses bind a transport and feed requests in with
 * `admit()` and `enqueueRequest()`. Requests wait (stream sockets paused) until
 * `serveForever()` or `handleRequest()` takes them, as connections wait in a backlog.
 *
 * Events: `listening` (address), `request` (clientAddress, request), `requestEnd`
 * ({@link RequestEndInfo}), `requestError` (error, clientAddress), `rejected`
 * (clientAddress, reason), `timeout`, `close`; in the pooled modes `workerStart`,
 * `workerReady`, `workerExit`, `workerOutput` (worker, line of its stderr) and `giveUp`.
 */
export abstract class BaseServer<Req = unknown> extends EventEmitter {
  /** The transport, for banners and logs. */
  abstract readonly transport: Transport;
  /** The handler class instantiated for each request. */
  readonly RequestHandlerClass: HandlerClass<Req>;
  /** Concurrency model. */
  readonly mode: ConcurrencyMode;
  /** Pool size for `threading`/`forking` (0: the CPU count). */
  readonly workers: number;
  /** Where workers import the handler from. */
  readonly handlerModule: ModuleRef | undefined;
  /** Where workers import the server class from (built-in classes know their own). */
  readonly serverModule: ModuleRef | undefined;
  /** Seconds `handleRequest()` waits; null waits forever. */
  timeout: number | null;
  /** Peer filter for the default `verifyRequest()`. */
  accessList: AccessList | undefined;
  /** Counters for summaries. */
  readonly stats: ServerStats = { requests: 0, rejected: 0, errors: 0, bytesIn: 0, bytesOut: 0 };
  /** Where `handleError()` writes when nobody listens for `requestError`. */
  log: (line: string) => void;
  /** The options as given (workers build the same server from them). */
  readonly options: Readonly<BaseServerOptions>;

  #address: SocketAddress;
  #state: ServerState = 'idle';
  #listening: Promise<SocketAddress> | undefined;
  #closing: Promise<void> | undefined;
  #strategy: ConcurrencyStrategy | undefined;
  readonly #pump: RequestPump<Req>;
  readonly #runner: RequestRunner<Req>;

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
    this.options = options;
    this.mode = checkMode(options.mode ?? 'async');
    this.workers = options.workers ?? 0;
    this.handlerModule = options.handlerModule;
    this.serverModule = options.serverModule;
    this.timeout = options.timeout ?? null;
    this.accessList = toAccessList(options.accessList);
    this.log = options.log ?? ((line) => debug('%s', line));
    const hooks = this.#hooks();
    this.#runner = new RequestRunner<Req>(hooks);
    this.#pump = new RequestPump<Req>(hooks, this.#runner);
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
    return this.#pump.active;
  }

  /** Requests accepted but not yet handed to a handler. */
  get pendingRequests(): number {
    return this.#pump.pending;
  }

  // ---- Methods for the caller -------------------------------------------------

  /**
   * Bind and activate (Python does this in the constructor); in the pooled modes the
   * workers start first, so that a request arriving at once is served. Resolves with
   * the real bound address; rejects with the system error. Do not override.
   */
  listen(): Promise<SocketAddress> {
    if (this.#listening) return Promise.reject(new AlreadyListeningError());
    if (this.#state !== 'idle') return Promise.reject(new UsageError('server is closed'));
    this.#listening = (async () => {
      settleMallocHeap();
      await this.serverPrepare();
      this.#strategy = await createStrategy(this.mode);
      await this.#strategy.start(this.#hooks());
      this.#address = await this.serverBind();
      await this.serverActivate();
      this.#state = 'listening';
      debug('listening on %s', formatEndpoint(this.#address));
      this.emit('listening', this.#address);
      return this.#address;
    })();
    this.#listening.catch(() => {
      this.#state = 'closed';
      void this.#strategy?.close(0);
    });
    return this.#listening;
  }

  /**
   * Handle requests until `shutdown()` is called; calls `serviceActions()` every
   * `pollInterval` seconds. Binds first if needed. Do not override.
   */
  async serveForever(pollInterval = 0.5): Promise<void> {
    const serving = this.#pump.startServing(); // before binding: a shutdown() right away is not lost
    let timer: NodeJS.Timeout | undefined;
    enter();
    try {
      await this.#ensureListening();
      if (serving.stopped) return;
      const act = (): void => this.#runner.contained(() => this.serviceActions(), this.#address);
      timer = setInterval(act, Math.max(1, pollInterval * 1000));
      timer.unref();
      this.#pump.pumpAll();
      await serving.stop.promise;
    } catch (err) {
      if (!serving.stopped) throw err; // closed before it started serving: a plain return
    } finally {
      clearInterval(timer);
      leave();
      this.#pump.servingReturned(serving);
    }
  }

  /**
   * Handle one request: wait for it (at most `timeout` seconds, then call
   * `handleTimeout()`), run it to completion and return. Do not override.
   */
  async handleRequest(): Promise<void> {
    await this.#ensureListening();
    const item = await this.#pump.take(this.#state === 'listening' ? this.timeout : null);
    if (!item) {
      if (this.#state === 'listening') this.handleTimeout();
      return;
    }
    enter();
    try {
      await this.#pump.run(item);
    } finally {
      leave();
    }
  }

  /**
   * Stop `serveForever()`; resolves once it has returned. Requests in flight go on;
   * new ones wait. Idempotent. Do not override.
   */
  shutdown(): Promise<void> {
    return this.#pump.stopServing();
  }

  /**
   * Stop listening, drop requests nobody took, let running requests finish (at most
   * `graceMs`, then destroy them; a handler that still does not return is abandoned)
   * and release the address. Idempotent; a later call with `graceMs: 0` ends the
   * grace period at once. May be extended through `serverCleanup()`.
   */
  serverClose(options: { graceMs?: number } = {}): Promise<void> {
    if (this.#closing && options.graceMs === 0) {
      this.#pump.endGrace();
      this.#strategy?.endGrace();
    }
    this.#closing ??= this.#close(options.graceMs ?? Infinity);
    return this.#closing;
  }

  async #close(graceMs: number): Promise<void> {
    const wasListening = this.#listening !== undefined;
    if (wasListening) await this.#listening?.catch(() => undefined);
    this.#state = 'closing';
    await this.shutdown();
    this.#pump.dropPending();
    if (wasListening) await this.closeListener();
    if (!(await this.#pump.drain(graceMs))) this.abortAll();
    await this.#pump.abandonAfterAbort();
    await this.#strategy?.close(graceMs);
    await this.serverCleanup();
    this.#state = 'closed';
    this.emit('close');
  }

  /**
   * Run one request handed over by a worker pool in this worker, contained:
   * `finishRequest()`, then `shutdownRequest()`, or `abortRequest()` after a failure
   * (then thrown). Resolves with the bytes it moved. Do not override.
   */
  runRequest(request: Req, clientAddress: SocketAddress): Promise<RequestOutcome> {
    return this.#runner.runInWorker(request, clientAddress);
  }

  /** A worker's copy takes the address its owner bound (workers start first). Do not call otherwise. */
  adopt(address: SocketAddress): void {
    this.#address = address;
  }

  /** What workers need to build this server; throws a UsageError when they could not. */
  spec(): ServerSpec {
    return specOf(this, this.#address);
  }

  /**
   * Access before capacity: `verifyRequest()` on a request as it arrives; a refused
   * one is counted, reported (`rejected`) and ended, never a request. Do not override.
   */
  protected admit(request: Req, clientAddress: SocketAddress): boolean {
    return this.#runner.admit(request, clientAddress);
  }

  /** Count, report and end a request refused for `reason`. Do not override. */
  protected refuse(request: Req, clientAddress: SocketAddress, reason: string): void {
    this.#runner.refuse(request, clientAddress, reason);
  }

  /**
   * A transport hands an admitted request to the server: one arriving before the server is
   * ready waits until it is; once it is closing, the request is ended. Do not override.
   */
  protected enqueueRequest(request: Req, clientAddress: SocketAddress): void {
    if (this.#state === 'closing' || this.#state === 'closed') {
      this.abortRequest(request);
      return;
    }
    if (!this.#pump.offer({ request, clientAddress })) this.onQueued(request);
  }

  /** May a handler skip the request path (`DatagramServer.setShortcut()`)? While a request would
   * run at once (`serveForever()`, none queued) and be admitted by address. Do not override. */
  protected mayShortcut(): boolean {
    const byAddress = this.verifyRequest === BaseServer.prototype.verifyRequest;
    return byAddress && this.#state === 'listening' && this.#pump.startsNow;
  }

  /** Requests served off the request path until `done` settles (drained). Do not override. */
  protected trackRequests(done: Promise<void>): void {
    void this.#pump.track(done);
  }

  /** A queued request left before being handled (the peer closed). Do not override. */
  protected dequeueRequest(request: Req): void {
    this.#pump.remove(request);
  }

  async #ensureListening(): Promise<void> {
    if (this.#state === 'idle' && !this.#listening) await this.listen();
    else await this.#listening;
    if (this.#state !== 'listening') throw new UsageError('server is closed');
  }

  /** What a request run and the strategy call (the hooks stay protected). */
  #hooks(): ServerHooks<Req> {
    return {
      stats: this.stats,
      builtIn: isBuiltInHandler(this.handlerModule),
      canStart: (active) => this.#strategy?.canStart(active) ?? true,
      workers: this.workers,
      serverAddress: () => this.#address,
      spec: () => this.spec(),
      processRequest: (r, a) => this.processRequest(r, a),
      finishRequest: (r, a) => this.finishRequest(r, a),
      verifyRequest: (r, a) => this.verifyRequest(r, a),
      beginRequest: (r) => this.beginRequest(r),
      handedOff: (r) => this.handOff(r),
      shutdownRequest: (r) => this.shutdownRequest(r),
      abortRequest: (r) => this.abortRequest(r),
      requestBytes: (r) => this.requestBytes(r),
      isPeerFailure: (e, r) => this.isPeerFailure(e, r),
      handleError: (e, a) => this.handleError(e, a),
      emit: (event, ...args) => this.emit(event, ...args),
      listenerCount: (event) => this.listenerCount(event),
      giveUp: () => {
        this.emit('giveUp');
        void this.serverClose();
      },
    };
  }

  // ---- Hooks ------------------------------------------------------------------

  /** First in `listen()`, before workers start and the bind (a TLS certificate is made). May be overridden. */
  protected serverPrepare(): void | Promise<void> {}

  /** Bind the socket (and, on stream servers, listen: Node does both in one call). Must be overridden. */
  protected abstract serverBind(): Promise<SocketAddress>;

  /** Called after `serverBind()`. May be overridden. */
  protected serverActivate(): void | Promise<void> {}

  /** Stop accepting and release the listening socket. Must be overridden. */
  protected abstract closeListener(): Promise<void>;

  /** Release what binding left behind (a unix socket file). May be overridden. */
  protected serverCleanup(): void | Promise<void> {}

  /**
   * False refuses a request as it arrives, before any slot or handler. Checks the
   * access list, when there is one (unix peers pass). May be overridden.
   */
  protected verifyRequest(_request: Req, clientAddress: SocketAddress): boolean {
    if (!this.accessList || clientAddress.family === 'unix') return true;
    return this.accessList.check(clientAddress.address);
  }

  /** Run one request the way the mode says (here, or on a worker). May be overridden. */
  protected processRequest(
    request: Req,
    clientAddress: SocketAddress,
  ): void | Promise<void | RequestOutcome> {
    return this.#strategy!.processRequest(request, clientAddress);
  }

  /** Instantiate the handler class and run setup → handle → finish. May be overridden. */
  protected finishRequest(request: Req, clientAddress: SocketAddress): void | Promise<void> {
    return runHandler(new this.RequestHandlerClass(request, clientAddress, this));
  }

  /** A request's connection was handed to a worker process (forking). May be overridden. */
  protected handOff(_request: Req): void {}

  /** A request leaves the queue for a handler (stream servers start its idle timer). May be overridden. */
  protected beginRequest(_request: Req): void {}

  /** End a request that was handled (graceful close). Must be overridden. */
  protected abstract shutdownRequest(request: Req): void;

  /** End a request at once (refused, failed, or cut by `serverClose`). Must be overridden. */
  protected abstract abortRequest(request: Req): void;

  /** Destroy every request still running (grace period over). May be overridden. */
  protected abortAll(): void {}

  /** A request was queued; stream servers keep it paused. May be overridden. */
  protected onQueued(_request: Req): void {}

  /** Bytes in and out of a finished request, for stats. Must be overridden. */
  protected abstract requestBytes(request: Req): RequestOutcome;

  /** A handler failed: `requestError` if listened for, else one line to `log`. May be overridden. */
  protected handleError(err: unknown, clientAddress: SocketAddress): void {
    if (this.emit('requestError', err, clientAddress)) return;
    const name = this.RequestHandlerClass.name || 'handler';
    this.log(
      `sockit: handler '${name}' failed for ${formatEndpoint(clientAddress)}: ${oneLine(err)}`,
    );
  }

  /** Did the peer end it (a reset), not the handler (no `handleError()`)? May be overridden. */
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
