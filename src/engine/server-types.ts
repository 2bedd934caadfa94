/**
 * The shapes a server shares with its callers: options, counters, the
 * `requestEnd` event, states, and which failures are the peer's doing (net/errors.ts).
 */
import type { SocketAddress } from '../net/address.js';
import type { AccessListLike } from '../net/access.js';
import type { ConcurrencyMode } from './modes.js';
import type { ModuleRef } from './server-spec.js';

/** Where workers find a class they cannot share with this thread (a handler, a server). */
export type HandlerModule = ModuleRef;

/** Server states: idle → listening → closing → closed. */
export type ServerState = 'idle' | 'listening' | 'closing' | 'closed';

/** Options shared by every server class. */
export interface BaseServerOptions {
  /** Concurrency model; `async` by default. */
  mode?: ConcurrencyMode;
  /** Pool size for `threading` and `forking` (default: CPU count). */
  workers?: number;
  /** Where workers import the handler from; required for `threading` and `forking`. */
  handlerModule?: ModuleRef;
  /** Where workers import the server class from: needed for a subclass in the pooled modes. */
  serverModule?: ModuleRef;
  /** Seconds `handleRequest()` waits before calling `handleTimeout()`; null waits forever. */
  timeout?: number | null;
  /** Peer filter applied by the default `verifyRequest()` (inet peers only). */
  accessList?: AccessListLike;
  /** Where the default `handleError()` writes its one line (default: NODE_DEBUG=sockit). */
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

export { isPeerError } from '../net/errors.js';

/** Options of the servers on a unix socket path. */
export interface UnixSocketOptions {
  /** File mode of the socket (default 0600). */
  socketMode?: number;
}
