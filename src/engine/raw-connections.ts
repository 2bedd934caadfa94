/**
 * A stream server's fast path: connections a built-in handler serves whole on Node's
 * raw stream handle (net/raw-stream.ts), with no `net.Socket`, no handler object and
 * no request run. The server takes it only where nothing could tell the difference
 * (see `StreamServer`); the connections still count (stats, `--max-conns`, the drain
 * on close).
 */
import { takeConnections, type RawHandle, type RawStream } from '../net/raw-stream.js';
import type { Server } from 'node:net';
import type { AccessList } from '../net/access.js';
import type { Transport } from '../net/address.js';
import type { ServerStats } from './server-types.js';

/** What the fast path needs of its stream server. */
export interface RawHost {
  readonly server: {
    readonly stats: ServerStats;
    readonly transport: Transport;
    readonly connections: number;
    readonly maxConnections: number | undefined;
    readonly idleTimeout: number | undefined;
    readonly accessList: AccessList | undefined;
    listenerCount(event: string): number;
  };
  /** Would a request start at once, admitted by address (`mayShortcut()`)? */
  mayStart(): boolean;
  /** Track requests running until `done` settles (`trackRequests()`). */
  track(done: Promise<void>): void;
  /** A connection was taken (the open-file check). */
  opened(): void;
}

/** Serves one connection on its raw handle; `done` is called once it is closed. */
export type RawServe = (handle: RawHandle, done: (stream: RawStream) => void) => RawStream;

/**
 * A stream handler class that can serve whole connections on their raw handles: a
 * static `rawServe(server)` on the class itself (a subclass does not inherit the
 * offer) gives the way to serve for this server, or undefined where the handler must run.
 */
export interface RawServing {
  rawServe?(server: { readonly options: object }): RawServe | undefined;
}

/** The raw-served offer of a handler class, when the class itself makes one. */
export function rawServeOf(
  Handler: object,
  server: { readonly options: object },
): RawServe | undefined {
  if (!Object.hasOwn(Handler, 'rawServe')) return undefined;
  return (Handler as RawServing).rawServe?.(server);
}

/** The connections of one server served on their raw handles. */
export class RawConnections {
  readonly #serve: RawServe;
  readonly #host: RawHost;
  readonly #stats: ServerStats;
  readonly #open = new Set<RawStream>();
  /** Settles once every connection is closed (tracked by the server as one request). */
  #allClosed: (() => void) | undefined;
  #whenClosed: Promise<void> = Promise.resolve();
  /** The `done` of every connection: no closure per connection. */
  readonly #done = (stream: RawStream): void => {
    this.#open.delete(stream);
    this.#stats.bytesIn += stream.bytesIn;
    this.#stats.bytesOut += stream.bytesOut;
    if (this.#open.size === 0) {
      this.#allClosed?.();
      this.#allClosed = undefined;
    }
  };

  /**
   * Each time the first connection opens, the host tracks a promise that settles once
   * every connection is closed: the server drains them with its requests.
   */
  constructor(serve: RawServe, host: RawHost) {
    this.#serve = serve;
    this.#host = host;
    this.#stats = host.server.stats;
  }

  /** Connections open. */
  get size(): number {
    return this.#open.size;
  }

  /** Open connections the server's request count misses (it tracks them all as one). */
  get uncounted(): number {
    return this.#allClosed !== undefined ? this.#open.size - 1 : 0;
  }

  /**
   * The fast path on `listener`, when `serve` is given and this Node's handles allow
   * it (`takeConnections()`); else undefined, and every connection takes the usual path.
   */
  static over(
    listener: Server,
    serve: RawServe | undefined,
    host: RawHost,
  ): RawConnections | undefined {
    if (!serve) return undefined;
    const raw = new RawConnections(serve, host);
    return takeConnections(listener, (handle) => raw.take(handle)) ? raw : undefined;
  }

  /**
   * Serve an accepted handle where nothing could tell it from a request: one that
   * would start at once and go unseen (no `request`/`requestEnd` listener, no idle
   * timer). False leaves it to the usual path, which also reports the refusals
   * (`--max-conns`, the access list).
   */
  take(handle: RawHandle): boolean {
    const server = this.#host.server;
    if (!this.#host.mayStart() || server.idleTimeout! > 0) return false;
    if (server.listenerCount('request') + server.listenerCount('requestEnd') > 0) return false;
    if (server.maxConnections !== undefined && server.connections >= server.maxConnections) {
      return false;
    }
    if (server.accessList && server.transport !== 'unix') {
      const peer: { address?: string } = {};
      if (handle.getpeername?.(peer) !== 0 || !server.accessList.check(peer.address ?? '')) {
        return false;
      }
    }
    handle.setNoDelay?.(true);
    const stream = this.#serve(handle, this.#done);
    if (!stream.start()) return true; // closed: `done` reports it
    if (this.#open.size === 0) {
      this.#whenClosed = new Promise<void>((resolve) => (this.#allClosed = resolve));
      this.#host.track(this.#whenClosed);
    }
    this.#open.add(stream);
    this.#stats.requests += 1;
    this.#host.opened();
    return true;
  }

  /** Close every connection at once; resolves once they are closed. */
  closeAll(): Promise<void> {
    for (const stream of this.#open) stream.close();
    return this.#whenClosed;
  }
}
