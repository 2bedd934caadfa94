/**
 * Stream servers: TCPServer, TLSServer and UnixStreamServer over `net.Server`,
 * with half-close (`allowHalfOpen`), paused sockets while queued, a large
 * backlog, a connection cap that refuses loudly, an idle timeout, and TLS as a
 * property of the transport (the `tls` option; net/tls-accept.ts).
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { X509Certificate } from 'node:crypto';
import { inetAddress, remoteAddress, type SocketAddress, type Transport } from '../net/address.js';
import { UnsupportedError, isPeerError, systemError } from '../net/errors.js';
import type { Tap } from '../net/tap.js';
import { MODES } from './modes.js';
import { listenStream, type ListenOptions } from '../net/listen.js';
import { nearFileLimit, openFileLimit } from '../net/limits.js';
import { closeEvery, endAndLinger } from '../net/stream-end.js';
import { BaseServer, type BaseServerOptions } from './base-server.js';
import type { UnixSocketOptions } from './server-types.js';
import type { ModuleRef, ServerSpec } from './server-spec.js';
import type { RequestOutcome } from './strategy.js';
import { moduleRef } from '../net/built-module.js';
import type { HandlerClass, StreamRequest } from './request-handler.js';
import { checkBindablePath } from '../net/unix-path.js';
// type-only: the TLS modules load when a server speaks TLS (see #tlsReady)
import type { ServerTls, ServerTlsOptions, TlsHandshakeError } from '../net/tls-accept.js';
import type { RunningJob } from './worker-main.js';
import { RawConnections, rawServeOf } from './raw-connections.js';

/** Default listen backlog: the kernel caps it at net.core.somaxconn (4096 on current Linux). */
export const DEFAULT_BACKLOG = 4096;

/** How long a handled connection may linger for the peer's FIN before it is destroyed. */
const LINGER_MS = 2000;

/** Options for stream servers. */
export interface StreamServerOptions extends BaseServerOptions {
  /** Listen backlog (socketserver's `request_queue_size`). */
  requestQueueSize?: number;
  /** Refuse connections beyond this many open at once (each refusal emits `rejected`). */
  maxConnections?: number;
  /** Seconds of silence after which a connection is closed. */
  idleTimeout?: number;
  /** Speak TLS on every connection (without `cert`/`key`: a throwaway certificate). */
  tls?: ServerTlsOptions;
}

/**
 * Base class of TCP and unix stream servers. With the `tls` option, events
 * `secureConnection` (TLS socket, clientAddress: a handshake done, before the
 * request is queued) and `tlsError` (a `TlsHandshakeError`, clientAddress: a
 * handshake failed; the connection is closed, no handler runs).
 */
export abstract class StreamServer extends BaseServer<StreamRequest> {
  /** Listen backlog (`request_queue_size`). */
  requestQueueSize: number;
  /** Connection cap; undefined means none. */
  maxConnections: number | undefined;
  /** Idle timeout in seconds; undefined means none. */
  idleTimeout: number | undefined;
  /**
   * Records every connection's bytes (set before `listen()`; none by default). Not in
   * the modes whose connections live in worker processes: the tap would not see them.
   */
  tap: Tap | undefined;
  /** The `net.Server` once bound. */
  protected listener: Server | undefined;
  readonly #sockets = new Set<Socket>();
  /** Connections handed to a worker process (forking): open until their request ends. */
  readonly #away = new Set<StreamRequest>();
  /** Connections served on their raw handles (the fast path), when this server has one. */
  #raw: RawConnections | undefined;
  /** The open-file limit: near it, the kernel's accept fails and libuv drops clients unseen. */
  #fileLimit: number | undefined;
  /** Lets the address go after the close (a unix socket file). */
  #release: (() => Promise<void>) | undefined;
  /** The TLS side, once it has its certificate. */
  #tls: ServerTls | undefined;
  /** The TLS side being made (before the bind, or in a worker process for its first connection). */
  #ready: Promise<ServerTls> | undefined;
  /** The 'close' listener of every connection (`this` is the socket): no closure per connection. */
  readonly #closed = ((server: StreamServer) =>
    function closed(this: Socket): void {
      server.#sockets.delete(this);
      server.dequeueRequest(this);
    })(this);

  constructor(
    address: SocketAddress,
    Handler: HandlerClass<StreamRequest>,
    options: StreamServerOptions = {},
  ) {
    super(address, Handler, options);
    this.requestQueueSize = options.requestQueueSize ?? DEFAULT_BACKLOG;
    this.maxConnections = options.maxConnections;
    this.idleTimeout = options.idleTimeout;
  }

  /** Whether connections speak TLS. */
  get secure(): boolean {
    return (this.options as StreamServerOptions).tls !== undefined;
  }

  /** The TLS certificate (its `fingerprint256` is what clients pin), once there is one. */
  get certificate(): X509Certificate | undefined {
    return this.#tls?.certificate;
  }

  /**
   * The TLS side, made once: the certificate given, or a throwaway one made for the
   * bind host. Bad credentials fail here, before the bind (a UsageError).
   */
  #tlsReady(tls: ServerTlsOptions): Promise<ServerTls> {
    const at = this.serverAddress;
    const onFailure = (err: TlsHandshakeError, addr: SocketAddress): void => {
      // handshakes cut short by serverClose() are not the clients' failures
      if (this.state !== 'closing' && this.state !== 'closed') this.emit('tlsError', err, addr);
    };
    this.#ready ??= import('../net/tls-accept.js')
      .then(({ ServerTls }) =>
        ServerTls.create(tls, 'address' in at ? at.address : undefined, onFailure),
      )
      .then((made) => (this.#tls = made));
    return this.#ready;
  }

  /** A TLS server gets its certificate before the workers start (they all get the same). */
  protected override async serverPrepare(): Promise<void> {
    const tls = (this.options as StreamServerOptions).tls;
    if (tls) await this.#tlsReady(tls);
  }

  /** What workers rebuild: the TLS options with the certificate in use. */
  override spec(): ServerSpec {
    const spec = super.spec();
    if (!this.#tls) return spec;
    return { ...spec, options: { ...spec.options, tls: { ...this.#tls.options } } };
  }

  /** Connections open right now (served, queued or lingering). */
  get connections(): number {
    return this.#sockets.size + this.#away.size + (this.#raw?.size ?? 0);
  }

  /** Requests being handled (each connection served on its raw handle counts as one). */
  override get activeRequests(): number {
    return super.activeRequests + (this.#raw?.uncounted ?? 0);
  }

  /** How this transport listens. May be extended. */
  protected listenOptions(): ListenOptions {
    return { backlog: this.requestQueueSize };
  }

  /** Create the `net.Server` and listen. May be overridden. */
  protected async serverBind(): Promise<SocketAddress> {
    if (this.tap && !MODES[this.mode].connectionsHere) {
      throw new UnsupportedError(
        `a traffic tap cannot see connections served in worker processes (--mode ${this.mode}) — use threading or async`,
      );
    }
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (s) =>
      this.#accept(s),
    );
    this.listener = server;
    const listening = await listenStream(server, this.serverAddress, this.listenOptions());
    this.#release = listening.release;
    // accept errors are the listener's, not a handler's: `acceptError`, never fatal
    server.on('error', (err) => this.emit('acceptError', err));
    this.#fileLimit = openFileLimit();
    this.#raw = this.#rawPath(server);
    return listening.address;
  }

  // The fast path (raw-connections.ts): on the built-in classes only (a subclass may have
  // changed a hook), with no TLS and no tap, connections served in this process and thread.
  #rawPath(server: Server): RawConnections | undefined {
    const proto: unknown = Object.getPrototypeOf(this);
    if (proto !== TCPServer.prototype && proto !== UnixStreamServer.prototype) return undefined;
    if (this.secure || this.tap || MODES[this.mode].pooled) return undefined;
    return RawConnections.over(server, rawServeOf(this.RequestHandlerClass, this), {
      server: this,
      mayStart: () => this.mayShortcut(),
      track: (done) => this.trackRequests(done),
      opened: () => this.#checkFileLimit(),
    });
  }

  /** Peer address of an accepted socket (unix peers are unnamed). */
  protected peerAddress(socket: Socket): SocketAddress {
    return remoteAddress(socket);
  }

  #accept(socket: Socket): void {
    const addr = this.peerAddress(socket);
    // A socket error after the handler is done (a late RST) must not crash anything.
    socket.on('error', noop);
    if (!this.admit(socket, addr)) return;
    if (this.maxConnections !== undefined && this.connections >= this.maxConnections) {
      this.refuse(socket, addr, 'max-conns');
      return;
    }
    // pauseOnConnect keeps the kernel from reading while the request waits, but it also
    // leaves the stream in explicit paused mode, where a handler's on('data') would never
    // fire. Back to "no mode": the first consumer starts the flow, as on any socket.
    (socket as { readableFlowing: boolean | null }).readableFlowing = null;
    this.tap?.attach(socket, addr, this.transport);
    this.#sockets.add(socket);
    this.#checkFileLimit();
    socket.on('close', this.#closed);
    // forking: the socket moves to a worker process, where the TLS handshake runs
    if (this.#tls && MODES[this.mode].connectionsHere) void this.#handshake(socket, addr);
    else this.enqueueRequest(socket, addr);
  }

  #checkFileLimit(): void {
    if (!nearFileLimit(this.connections, this.#fileLimit)) return;
    const err = systemError(
      'EMFILE',
      `near the open-file limit (ulimit -n ${this.#fileLimit}): ${this.connections} connections open, new ones may be dropped unseen`,
    );
    this.emit('acceptError', err);
  }

  /** The TLS handshake of an accepted socket; then the TLS socket is the request. */
  async #handshake(raw: Socket, addr: SocketAddress): Promise<void> {
    const secure = await this.#tls!.handshake(raw, addr);
    if (!secure) return;
    this.#sockets.delete(raw);
    this.#sockets.add(secure);
    secure.on('close', this.#closed);
    this.emit('secureConnection', secure, addr);
    this.enqueueRequest(secure, addr);
  }

  /**
   * Serve a connection handed over by the process that accepted it (forking): its
   * TLS handshake, when the server speaks TLS, runs here, then its request. A failed
   * handshake is a `tlsError` and ends the request with no handler run. Do not override.
   */
  serveHandedOver(socket: Socket, clientAddress: SocketAddress): RunningJob {
    const tls = (this.options as StreamServerOptions).tls;
    if (!tls)
      return { done: this.runRequest(socket, clientAddress), abort: () => socket.destroy() };
    let current: Socket = socket;
    const done = this.#tlsReady(tls)
      .then((t) => t.handshake(socket, clientAddress))
      .then((secure) => {
        if (!secure) return { bytesIn: socket.bytesRead, bytesOut: socket.bytesWritten };
        current = secure;
        return this.runRequest(secure, clientAddress);
      });
    return { done, abort: () => current.destroy() };
  }

  /** The idle timer runs once a handler has the connection, not while it waits its turn. */
  protected override beginRequest(socket: StreamRequest): void {
    if (this.idleTimeout === undefined || this.idleTimeout <= 0) return;
    if (typeof (socket as Partial<Socket>).setTimeout !== 'function') return;
    (socket as Socket).setTimeout(this.idleTimeout * 1000, () => {
      this.emit('idleTimeout', this.peerAddress(socket as Socket));
      socket.destroy();
    });
  }

  /** Forking: the connection lives on in a worker process until its request ends. */
  protected override handOff(socket: StreamRequest): void {
    this.#sockets.delete(socket as Socket);
    this.#away.add(socket);
  }

  /**
   * Half-close after the handler: flush, send FIN, then wait (briefly) for the
   * peer's FIN, discarding what it still sends, before closing. May be overridden.
   */
  protected shutdownRequest(socket: StreamRequest): void {
    this.#away.delete(socket);
    endAndLinger(socket, LINGER_MS);
  }

  /** A reset or broken pipe counts as the peer's doing only if the connection did end. */
  protected override isPeerFailure(err: unknown, socket: StreamRequest): boolean {
    return socket.destroyed && isPeerError(err);
  }

  /** Close at once. */
  protected abortRequest(socket: StreamRequest): void {
    this.#away.delete(socket);
    socket.destroy();
  }

  /** Destroy every open connection. */
  protected override abortAll(): void {
    for (const s of this.#sockets) s.destroy();
    void this.#raw?.closeAll();
  }

  protected requestBytes(socket: StreamRequest): RequestOutcome {
    const s = socket as Partial<Socket>;
    return { bytesIn: s.bytesRead ?? 0, bytesOut: s.bytesWritten ?? 0 };
  }

  protected async closeListener(): Promise<void> {
    // close() stops accepting at once; its callback would wait for every connection,
    // which the base class drains (and, after the grace period, destroys) itself.
    if (this.listener?.listening) this.listener.close();
  }

  /**
   * After the drain, connections whose handler is done may still linger for the
   * peer's FIN. Those still flushing get up to `LINGER_MS`; then every one left is
   * closed, so that `serverClose()` leaves no connection open (Python closes right
   * after the handler). May be extended.
   */
  protected override async serverCleanup(): Promise<void> {
    this.#tls?.abortHandshakes(); // nothing of theirs to flush
    await closeEvery(this.#sockets, LINGER_MS);
    await this.#raw?.closeAll(); // none left after a drain; these were cut by a zero grace
    await this.#release?.();
  }
}

function noop(): void {}

/** Options for TCP servers. */
export interface TCPServerOptions extends StreamServerOptions {
  /** Accept IPv6 only on `::` (no IPv4-mapped peers). */
  ipv6Only?: boolean;
}

/**
 * A TCP server (Python's `TCPServer`). Node always sets SO_REUSEADDR on TCP
 * listeners, so `allowReuseAddress` is informational here.
 */
export class TCPServer extends StreamServer {
  /** Where workers import this class from. */
  static readonly module: ModuleRef = moduleRef(import.meta.url, 'TCPServer');

  readonly transport: Transport = 'tcp';
  /** Node sets SO_REUSEADDR on every TCP listener; this cannot be turned off. */
  readonly allowReuseAddress = true;
  /** Accept IPv6 only on `::`. */
  readonly ipv6Only: boolean;

  constructor(
    serverAddress: { host: string; port: number },
    Handler: HandlerClass<StreamRequest>,
    options: TCPServerOptions = {},
  ) {
    super(inetAddress(serverAddress.host, serverAddress.port), Handler, options);
    this.ipv6Only = options.ipv6Only ?? false;
  }

  protected override listenOptions(): ListenOptions {
    return { ...super.listenOptions(), ipv6Only: this.ipv6Only };
  }
}

/** Options for TLS servers: those of a TCP server; `tls` defaults to `{}` (a throwaway certificate). */
export type TLSServerOptions = TCPServerOptions;

/**
 * A TCP server speaking TLS on every connection (Node's `tls.Server` under the
 * socketserver model): the `tls` option of every stream server, with a throwaway
 * certificate when it is given none. A handler reads `this.request.getPeerCertificate()`
 * and friends.
 */
export class TLSServer extends TCPServer {
  /** Where workers import this class from. */
  static override readonly module: ModuleRef = moduleRef(import.meta.url, 'TLSServer');

  constructor(
    serverAddress: { host: string; port: number },
    Handler: HandlerClass<StreamRequest>,
    options: TLSServerOptions = {},
  ) {
    super(serverAddress, Handler, { ...options, tls: options.tls ?? {} });
  }
}

/** Options for unix stream servers. */
export interface UnixServerOptions extends StreamServerOptions, UnixSocketOptions {}

/**
 * A unix stream server (Python's `UnixStreamServer`). A stale socket file is
 * replaced, a live server's never; the file is created 0600 (or `socketMode`)
 * and removed on `serverClose()` if it is still the one it bound (net/listen.ts).
 */
export class UnixStreamServer extends StreamServer {
  /** Where workers import this class from. */
  static readonly module: ModuleRef = moduleRef(import.meta.url, 'UnixStreamServer');
  readonly transport: Transport = 'unix';

  constructor(path: string, Handler: HandlerClass<StreamRequest>, options: UnixServerOptions = {}) {
    super({ family: 'unix', path: checkBindablePath(path) }, Handler, options);
  }

  protected override listenOptions(): ListenOptions {
    return { ...super.listenOptions(), mode: (this.options as UnixServerOptions).socketMode };
  }
}
