/**
 * Datagram servers (Python's `UDPServer`, unconnected, and `UnixDatagramServer`):
 * every datagram is a request, its reply goes to its sender, from any number of them.
 */
import type { Buffer } from 'node:buffer';
import type { SocketAddress, Transport } from '../net/address.js';
import { inetAddress } from '../net/address.js';
import {
  bindDatagramSocket,
  type DatagramBindOptions,
  type DatagramSocket,
} from '../net/datagram-socket.js';
import { BaseServer, type BaseServerOptions } from './base-server.js';
import { runDatagramHandler, type Datagram, type HandlerClass } from './request-handler.js';
import { DatagramConnection } from './datagram-connection.js';
import type { ModuleRef } from './server-spec.js';
import type { RequestOutcome } from './strategy.js';
import { moduleRef } from '../net/built-module.js';
import { MODES } from './modes.js';
import type { Tap } from '../net/tap.js';
import { checkBindablePath } from '../net/unix-path.js';
import type { UnixSocketOptions } from './server-types.js';

/** Datagrams in flight at most (waiting or being handled); beyond this they are dropped. */
export const MAX_QUEUED_DATAGRAMS = 8192;

/** Bytes in datagrams in flight at most (8192 datagrams of 64 KiB would be 512 MiB). */
export const MAX_QUEUED_BYTES = 16 * 1024 * 1024;

/** What datagram servers take: a Datagram-, Stream- or BaseRequestHandler class (each datagram is a {@link DatagramConnection}). */
export type DatagramHandlerClass = HandlerClass<Datagram>;

/**
 * A handler's way around the request path (see {@link DatagramServer.setShortcut}):
 * take the datagram now and return true, or return false to have it served as a request.
 */
export type DatagramShortcut = (data: Buffer, from: SocketAddress) => boolean;

/**
 * A handler class whose reply to a datagram is a pure function of its bytes: a static
 * `datagramReply(server)` on the class itself (a subclass does not inherit the offer)
 * gives that function for this server, or undefined where the handler must run.
 */
export interface DatagramReplying {
  datagramReply?(server: { readonly options: object }): ((data: Buffer) => Uint8Array) | undefined;
}

/** Options for datagram servers. */
export interface DatagramServerOptions extends BaseServerOptions {
  /** Datagrams in flight at most: waiting, being handled, replies on the way (default {@link MAX_QUEUED_DATAGRAMS}). */
  maxQueuedDatagrams?: number;
}

/** Base class of datagram servers: every handler gets its datagram as a {@link DatagramConnection}. */
export abstract class DatagramServer extends BaseServer<Datagram> {
  /** The socket once bound. */
  socket: DatagramSocket | undefined;
  /** Datagrams dropped because too many were waiting (each emits `dropped`). */
  dropped = 0;
  /** Datagrams in flight at most (waiting, being handled, replies on the way); more are dropped. */
  readonly maxQueuedDatagrams: number;
  /** Bytes in datagrams in flight. */
  #inFlightBytes = 0;
  /** Records every datagram in and out (set before `listen()`); none by default. */
  tap: Tap | undefined;
  #shortcut: DatagramShortcut | undefined;
  /** The built-in handler's reply without a request (see {@link DatagramReplying}). */
  #answer: DatagramShortcut | undefined;

  constructor(
    address: SocketAddress,
    Handler: DatagramHandlerClass,
    options: DatagramServerOptions = {},
  ) {
    super(address, Handler, options);
    this.maxQueuedDatagrams = Math.max(1, options.maxQueuedDatagrams ?? MAX_QUEUED_DATAGRAMS);
  }

  /**
   * Hand a received datagram to the server. Datagrams in flight — waiting, being
   * handled here or on a worker, their replies on the way — are bounded in count
   * and bytes in every mode; beyond that a datagram is dropped, as a full receive
   * buffer would, and `dropped` (clientAddress, 'queue-full') is emitted. Do not override.
   */
  protected receive(datagram: Datagram): void {
    const inFlight = this.pendingRequests + this.activeRequests;
    const size = datagram.data.length;
    if (inFlight >= this.maxQueuedDatagrams || this.#inFlightBytes + size > MAX_QUEUED_BYTES) {
      this.drop(datagram.clientAddress, 'queue-full');
      return;
    }
    // counted before the access check: a refused datagram is released as it is ended
    this.#inFlightBytes += size;
    if (this.admit(datagram, datagram.clientAddress)) {
      this.enqueueRequest(datagram, datagram.clientAddress);
    }
  }

  /** Count and report a datagram (or a reply) dropped for `reason`. Do not override. */
  protected drop(clientAddress: SocketAddress, reason: 'queue-full' | 'peer-full'): void {
    this.dropped += 1;
    this.emit('dropped', clientAddress, reason);
  }

  #release(request: Datagram): void {
    // never below 0: a worker's copy of the server ends requests it never received
    this.#inFlightBytes = Math.max(0, this.#inFlightBytes - request.data.length);
  }

  /** Run the handler on the datagram connection, then send what it wrote. May be overridden. */
  protected override finishRequest(
    request: Datagram,
    clientAddress: SocketAddress,
  ): void | Promise<void> {
    return runDatagramHandler(new this.RequestHandlerClass(request, clientAddress, this), request);
  }

  /** How the transport binds its socket. Must be overridden. */
  protected abstract bindOptions(): DatagramBindOptions;

  /** Bind the socket; each datagram that arrives is a request. May be overridden. */
  protected async serverBind(): Promise<SocketAddress> {
    const socket = await bindDatagramSocket(this.serverAddress, this.bindOptions());
    this.socket = socket;
    socket.tap = this.tap;
    socket.on('error', (err: Error) => this.handleError(err, this.serverAddress));
    socket.on('message', this.#onMessage);
    this.#answer = this.#answerPath(socket);
    return socket.address ?? this.serverAddress;
  }

  // The built-in handler's reply sent at once (no request): on UDPServer itself (a
  // subclass may have changed a hook), untapped, handled in this process and thread.
  // The datagram still counts (requests, bytes) and still goes unseen (#onMessage).
  #answerPath(socket: DatagramSocket): DatagramShortcut | undefined {
    if (Object.getPrototypeOf(this) !== UDPServer.prototype) return undefined;
    if (this.tap || MODES[this.mode].pooled) return undefined;
    const Handler = this.RequestHandlerClass as DatagramReplying;
    if (!Object.hasOwn(Handler, 'datagramReply')) return undefined;
    const answer = Handler.datagramReply?.(this);
    if (answer === undefined) return undefined;
    const stats = this.stats;
    return (data, from) => {
      const reply = answer(data);
      // one too long fails its request (EMSGSIZE), as the request path reports it
      if (reply.length > socket.maxPayload) return false;
      socket.sendNow(reply, from, undefined);
      stats.bytesOut += reply.length;
      return true;
    };
  }

  /**
   * Let a handler take datagrams without a request each (no handler instance, no
   * queue): a relay whose sender already has a session sends the datagram on. The
   * shortcut is asked only when a request would run at once and nothing else would
   * tell it from one (`mayShortcut()`, no listener, nothing tapped, the sender allowed); a
   * datagram it takes is counted as a request with its bytes in. Undefined removes
   * it. Do not override.
   */
  setShortcut(shortcut: DatagramShortcut | undefined): void {
    this.#shortcut = shortcut;
  }

  readonly #onMessage = (data: Buffer, from: SocketAddress, conn?: number): void => {
    const shortcut = this.#shortcut ?? this.#answer;
    if (shortcut !== undefined && conn === undefined && this.#unseen(from) && this.mayShortcut()) {
      try {
        if (shortcut(data, from)) {
          this.stats.requests += 1;
          this.stats.bytesIn += data.length;
          return;
        }
      } catch (err) {
        this.stats.errors += 1;
        this.handleError(err, from);
        return;
      }
    }
    this.receive(new SocketDatagram(this.socket!, data, from, this.#peerFull, conn));
  };

  /**
   * Would a request for this datagram go unseen: nobody listens for `request` or
   * `requestEnd`, and the access list allows the sender (a refusal takes the request
   * path, to be reported)?
   */
  #unseen(from: SocketAddress): boolean {
    if (this.listenerCount('request') + this.listenerCount('requestEnd') > 0) return false;
    const list = this.accessList;
    return list === undefined || from.family === 'unix' || list.check(from.address);
  }

  /** A reply the peer had no room for (one function for every datagram). */
  readonly #peerFull = (to: SocketAddress): void => this.drop(to, 'peer-full');

  /**
   * Take no new datagram; the socket stays open while the requests in flight finish,
   * so that their replies still leave. May be overridden.
   */
  protected async closeListener(): Promise<void> {
    this.socket?.off('message', this.#onMessage);
  }

  /** Close the socket (a unix socket file goes with it). May be extended. */
  protected override async serverCleanup(): Promise<void> {
    await this.socket?.close();
  }

  protected shutdownRequest(request: Datagram): void {
    this.#release(request);
  }

  protected abortRequest(request: Datagram): void {
    this.#release(request);
  }

  protected requestBytes(request: Datagram): RequestOutcome {
    return { bytesIn: request.data.length, bytesOut: request.bytesOut };
  }
}

/** A datagram as a request: the reply goes to its sender through the server's socket. */
class SocketDatagram extends DatagramConnection {
  constructor(
    readonly socket: DatagramSocket,
    data: Buffer,
    clientAddress: SocketAddress,
    /** A reply the peer had no room for was dropped. */
    readonly dropped: (to: SocketAddress) => void,
    /** Its number in the tap's records, for the reply's. */
    readonly conn: number | undefined,
  ) {
    super(data, clientAddress);
  }

  reply(data: Uint8Array): Promise<void> {
    // Wait for the send: the server may close right after the reply (--once).
    const to = this.clientAddress;
    if (to.family !== 'unix') {
      this.bytesOut += data.length;
      return this.socket.send(data, to, this.conn);
    }
    return this.socket.reply(data, to, this.conn).then((sent) => {
      if (sent === 'sent') this.bytesOut += data.length;
      else if (sent === 'full') this.dropped(this.clientAddress);
    });
  }

  // UDP, the hot path: the reply after the handler costs no promise and no callback
  // (the socket's close lets it leave first); one too long fails its request (EMSGSIZE)
  protected override sendReply(data: Uint8Array): void | Promise<void> {
    if (this.clientAddress.family === 'unix' || data.length > this.socket.maxPayload) {
      return this.reply(data);
    }
    this.bytesOut += data.length;
    this.socket.sendNow(data, this.clientAddress, this.conn);
  }
}

/** Options for UDP servers. */
export interface UDPServerOptions extends DatagramServerOptions {
  /** Let other sockets bind the same port (SO_REUSEADDR); off by default, as in Python. */
  allowReuseAddress?: boolean;
  /** On `::`, receive IPv6 only (no IPv4-mapped senders). */
  ipv6Only?: boolean;
  /** SO_RCVBUF in bytes: a larger buffer drops fewer datagrams under bursts. */
  recvBufferSize?: number;
}

/** A UDP server (Python's `UDPServer`). Datagrams up to 65,507 bytes (IPv4) / 65,527 (IPv6). */
export class UDPServer extends DatagramServer {
  /** Where workers import this class from. */
  static readonly module: ModuleRef = moduleRef(import.meta.url, 'UDPServer');

  readonly transport: Transport = 'udp';
  /** SO_REUSEADDR on the socket. */
  readonly allowReuseAddress: boolean;
  /** IPv6 only on `::`. */
  readonly ipv6Only: boolean;

  constructor(
    serverAddress: { host: string; port: number },
    Handler: DatagramHandlerClass,
    options: UDPServerOptions = {},
  ) {
    super(inetAddress(serverAddress.host, serverAddress.port), Handler, options);
    this.allowReuseAddress = options.allowReuseAddress ?? false;
    this.ipv6Only = options.ipv6Only ?? false;
  }

  protected bindOptions(): DatagramBindOptions {
    const { recvBufferSize } = this.options as UDPServerOptions;
    return { reuseAddress: this.allowReuseAddress, ipv6Only: this.ipv6Only, recvBufferSize };
  }
}

/** Options for unix datagram servers. */
export interface UnixDatagramServerOptions extends DatagramServerOptions, UnixSocketOptions {}

/**
 * A unix datagram server (Python's `UnixDatagramServer`): a real AF_UNIX SOCK_DGRAM
 * socket through the unix-dgram addon (Node has none of its own). Replies go to the
 * sender's bound path; a sender that did not bind a path cannot be answered.
 */
export class UnixDatagramServer extends DatagramServer {
  /** Where workers import this class from. */
  static readonly module: ModuleRef = moduleRef(import.meta.url, 'UnixDatagramServer');
  readonly transport: Transport = 'unix-dgram';

  constructor(
    path: string,
    Handler: DatagramHandlerClass,
    options: UnixDatagramServerOptions = {},
  ) {
    super({ family: 'unix', path: checkBindablePath(path) }, Handler, options);
  }

  protected bindOptions(): DatagramBindOptions {
    return { mode: (this.options as UnixDatagramServerOptions).socketMode };
  }
}
