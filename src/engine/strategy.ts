/**
 * The concurrency contract: one complete strategy object per mode (the socketserver
 * mix-ins, each overriding `process_request`), in strategies.ts, threading.ts and
 * forking.ts. No other module tests a mode by its name.
 */
import type { SocketAddress } from '../net/address.js';
import type { ConcurrencyMode } from './modes.js';
import type { ServerSpec } from './server-spec.js';
import type { ServerStats } from './server-types.js';

/** What a request moved, when it ran where the server cannot count it itself. */
export interface RequestOutcome {
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** The request failed, after moving these bytes (a pooled handler that wrote, then threw). */
  readonly error?: unknown;
}

/**
 * What the request queue and run (request-pump.ts, request-run.ts) and a strategy
 * may ask of their server: its hooks (they stay protected on it), counters and events.
 */
export interface ServerHooks<Req = unknown> {
  /** Pool size asked for (0: the CPU count). */
  readonly workers: number;
  readonly stats: ServerStats;
  /**
   * The handler is one of sockit's own: no containment scope (its promise hooks cost
   * on every promise); what escapes a built-in is sockit's own failure (exit 1).
   */
  readonly builtIn: boolean;
  /** May one more request start while `active` run? (the strategy decides) */
  canStart(active: number): boolean;
  /** Where the server is bound (once bound: port 0 resolved). */
  serverAddress(): SocketAddress;
  /** What workers need to build the same server in their thread or process. */
  spec(): ServerSpec;
  processRequest(request: Req, clientAddress: SocketAddress): void | Promise<void | RequestOutcome>;
  verifyRequest(request: Req, clientAddress: SocketAddress): boolean;
  /** Run one request in this thread (the server's `finishRequest()`). */
  finishRequest(request: Req, clientAddress: SocketAddress): void | Promise<void>;
  beginRequest(request: Req): void;
  /** A request's connection now lives in another process: keep counting it until it ends. */
  handedOff(request: Req): void;
  shutdownRequest(request: Req): void;
  abortRequest(request: Req): void;
  requestBytes(request: Req): RequestOutcome;
  isPeerFailure(err: unknown, request: Req): boolean;
  handleError(err: unknown, clientAddress: SocketAddress): void;
  /** Report an event on the server (`workerExit`, …). */
  emit(event: string, ...args: unknown[]): boolean;
  listenerCount(event: string): number;
  /** The pool gave up: the server cannot serve any more. */
  giveUp(): void;
}

/** A concurrency model. Every method is called by the server; none is optional. */
export interface ConcurrencyStrategy {
  readonly mode: ConcurrencyMode;
  /** Get ready before the server binds (workers started and ready). */
  start(host: ServerHooks): Promise<void>;
  /** May one more request start while `active` are running? */
  canStart(active: number): boolean;
  /** Run one request, here or elsewhere; resolves when it is over. */
  processRequest(
    request: unknown,
    clientAddress: SocketAddress,
  ): void | Promise<RequestOutcome | void>;
  /** Stop what the strategy started (the server has drained its requests already). */
  close(graceMs: number): Promise<void>;
  /** The grace period of the close was cut short: stop what still runs. */
  endGrace(): void;
}
