/**
 * Datagram servers: every datagram is a request, the reply goes to its sender,
 * from any number of senders (Python's `UDPServer`, unconnected).
 */
import { createSocket, type Socket as DgramSocket } from 'node:dgram';
import { once } from 'node:events';

import type { InetAddress, SocketAddress, Transport } from '../net/address.js';
import { inetAddress, formatEndpoint, familyOf } from '../net/address.js';
import { BaseServer, type BaseServerOptions } from './base-server.js';
import { bindError } from '../net/errors.js';
import { runDatagramHandler, type Datagram, type HandlerClass } from './request-handler.js';
import { DatagramConnection } from './datagram-connection.js';
import { toAccessList, type AccessList, type AccessListLike } from './access.js';
import type { ModuleRef } from './server-spec.js';
import type { RequestOutcome } from './strategy.js';
import { builtUrl } from './worker-protocol.js';

/** Datagrams held while no handler takes them; beyond this they are dropped, as a full kernel buffer would. */
export const MAX_QUEUED_DATAGRAMS = 8192;

/** Bytes held in waiting datagrams at most (8192 datagrams of 64 KiB would be 512 MiB). */
export const MAX_QUEUED_BYTES = 16 * 1024 * 1024;

/**
 * What datagram servers take: any handler class that accepts a
 * {@link DatagramConnection} as its request — a {@link DatagramRequestHandler}, a
 * {@link StreamRequestHandler} (each datagram is a connection of its own) or a
 * {@link BaseRequestHandler}.
 */
export type DatagramHandlerClass = HandlerClass<Datagram>;

/** Options for datagram servers. */
export interface DatagramServerOptions extends BaseServerOptions {
  /** Peer filter applied by the default `verifyRequest()` (inet only). */
  accessList?: AccessListLike;
  /** Datagrams held while no handler takes them (default {@link MAX_QUEUED_DATAGRAMS}). */
  maxQueuedDatagrams?: number;
}

/**
 * Base class of datagram servers. Every handler gets the datagram as a
 * {@link DatagramConnection}: `rfile` reads it, what is written to `wfile` goes
 * back to the sender as one datagram after the handler.
 */
export abstract class DatagramServer extends BaseServer<Datagram> {
  /** Peer filter for `verifyRequest()`. */
  accessList: AccessList | undefined;
  /** Datagrams dropped because too many were waiting (each emits `dropped`). */
  dropped = 0;
  /** Datagrams held while no handler takes them; more are dropped. */
  readonly maxQueuedDatagrams: number;
  /** Bytes in queued datagrams, and which datagrams those are. */
  #queuedBytes = 0;
  readonly #queued = new WeakSet<Datagram>();

  constructor(
    address: SocketAddress,
    Handler: DatagramHandlerClass,
    options: DatagramServerOptions = {},
  ) {
    super(address, Handler, options);
    this.accessList = toAccessList(options.accessList);
    this.maxQueuedDatagrams = Math.max(1, options.maxQueuedDatagrams ?? MAX_QUEUED_DATAGRAMS);
  }

  /**
   * Hand a received datagram to the server. While too many datagrams (or bytes) wait
   * for a handler, it is dropped, as a full receive buffer would, and `dropped`
   * (clientAddress, 'queue-full') is emitted. Do not override.
   */
  protected receive(datagram: Datagram): void {
    if (!this.admit(datagram, datagram.clientAddress)) return;
    const waiting = this.pendingRequests;
    if (waiting === 0) {
      this.#queuedBytes = 0; // nothing waits: start the byte count afresh
    } else if (
      waiting >= this.maxQueuedDatagrams ||
      this.#queuedBytes + datagram.data.length > MAX_QUEUED_BYTES
    ) {
      this.dropped += 1;
      this.emit('dropped', datagram.clientAddress, 'queue-full');
      return;
    }
    this.enqueueRequest(datagram, datagram.clientAddress);
  }

  /** Counts the bytes a queued datagram holds. */
  protected override onQueued(request: Datagram): void {
    this.#queuedBytes += request.data.length;
    this.#queued.add(request);
  }

  #unqueued(request: Datagram): void {
    if (this.#queued.delete(request)) this.#queuedBytes -= request.data.length;
  }

  /** Checks the access list, when there is one. May be overridden. */
  protected override verifyRequest(_request: Datagram, clientAddress: SocketAddress): boolean {
    if (!this.accessList || clientAddress.family === 'unix') return true;
    return this.accessList.check(clientAddress.address);
  }

  /**
   * Runs the handler on the datagram connection, then sends what it wrote (under
   * `threading`, a worker does that). May be overridden.
   */
  protected override finishRequest(
    request: Datagram,
    clientAddress: SocketAddress,
  ): void | Promise<void> {
    if (this.#queuedBytes > 0) this.#unqueued(request);
    return runDatagramHandler(new this.RequestHandlerClass(request, clientAddress, this), request);
  }

  protected shutdownRequest(): void {}

  protected abortRequest(request: Datagram): void {
    if (this.#queuedBytes > 0) this.#unqueued(request);
  }

  protected requestBytes(request: Datagram): RequestOutcome {
    return { bytesIn: request.data.length, bytesOut: request.bytesOut };
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
  static get module(): ModuleRef {
    return { url: builtUrl(new URL(import.meta.url)).href, exportName: 'UDPServer' };
  }

  readonly transport: Transport = 'udp';
  /** SO_REUSEADDR on the socket. */
  readonly allowReuseAddress: boolean;
  /** IPv6 only on `::`. */
  readonly ipv6Only: boolean;
  readonly #recvBufferSize: number | undefined;
  /** The dgram socket once bound. */
  socket: DgramSocket | undefined;

  constructor(
    serverAddress: { host: string; port: number },
    Handler: DatagramHandlerClass,
    options: UDPServerOptions = {},
  ) {
    super(inetAddress(serverAddress.host, serverAddress.port), Handler, options);
    this.allowReuseAddress = options.allowReuseAddress ?? false;
    this.ipv6Only = options.ipv6Only ?? false;
    this.#recvBufferSize = options.recvBufferSize;
  }

  protected async serverBind(): Promise<SocketAddress> {
    const want = this.serverAddress as InetAddress;
    const type = familyOf(want.address) === 'IPv6' ? 'udp6' : 'udp4';
    const socket = createSocket({
      type,
      reuseAddr: this.allowReuseAddress,
      ipv6Only: this.ipv6Only,
    });
    this.socket = socket;
    const bound = Promise.race([
      once(socket, 'listening'),
      once(socket, 'error').then(([err]) => {
        throw err;
      }),
    ]);
    socket.bind({ address: want.address, port: want.port, exclusive: true });
    try {
      await bound;
    } catch (err) {
      socket.close();
      throw bindError(err, formatEndpoint(want), 'bind');
    }
    if (this.#recvBufferSize) {
      try {
        socket.setRecvBufferSize(this.#recvBufferSize);
      } catch {
        // the kernel may cap it (net.core.rmem_max): keep the default
      }
    }
    socket.on('error', (err) => this.handleError(err, this.serverAddress));
    socket.on('message', (data, rinfo) => {
      const clientAddress = inetAddress(rinfo.address, rinfo.port, rinfo.family);
      this.receive(new UdpDatagram(socket, data, clientAddress));
    });
    const a = socket.address();
    return inetAddress(a.address, a.port, a.family);
  }

  protected async closeListener(): Promise<void> {
    const socket = this.socket;
    if (!socket) return;
    await new Promise<void>((resolve) => {
      try {
        socket.close(() => resolve());
      } catch {
        resolve(); // already closed
      }
    });
  }
}

/** A UDP datagram as a request: replies leave from the server's socket. */
class UdpDatagram extends DatagramConnection {
  declare readonly clientAddress: InetAddress;
  constructor(
    readonly socket: DgramSocket,
    data: Buffer,
    clientAddress: InetAddress,
  ) {
    super(data, clientAddress);
  }

  reply(data: Uint8Array): Promise<void> {
    this.bytesOut += data.length;
    // Wait for the send to complete: the server may close right after the reply
    // (--once, --max-requests), and a send still waiting for its turn would be lost.
    return new Promise((resolve, reject) => {
      this.socket.send(data, this.clientAddress.port, this.clientAddress.address, (err) =>
        err ? reject(err) : resolve(),
      );
    });
  }
}
