/**
 * UnixDatagramServer: a real AF_UNIX SOCK_DGRAM socket through the `unix-dgram`
 * addon (Node has none of its own). Replies go to the sender's bound path;
 * a sender that did not bind a path cannot be answered.
 */
import { Buffer } from 'node:buffer';
import type { SocketAddress, Transport, UnixAddress } from '../net/address.js';
import {
  DatagramServer,
  type DatagramHandlerClass,
  type DatagramServerOptions,
} from './datagram-server.js';
import { errnoName } from '../net/errors.js';
import { DatagramConnection } from './datagram-connection.js';
import { bindUnixDgram, type UnixDgramSocket } from '../net/unix-dgram.js';
import { checkBindablePath, releaseSocketFile, type BoundPath } from '../net/unix-path.js';
import { debug } from '../net/debug.js';
import type { ModuleRef } from './server-spec.js';
import { builtUrl } from './worker-protocol.js';

/** Options for unix datagram servers. */
export interface UnixDatagramServerOptions extends DatagramServerOptions {
  /** File mode of the socket (default 0600). */
  socketMode?: number;
}

/** A unix datagram server (Python's `UnixDatagramServer`). */
export class UnixDatagramServer extends DatagramServer {
  /** Where workers import this class from. */
  static get module(): ModuleRef {
    return { url: builtUrl(new URL(import.meta.url)).href, exportName: 'UnixDatagramServer' };
  }

  readonly transport: Transport = 'unix-dgram';
  /** Socket file mode. */
  readonly socketMode: number | undefined;
  /** The socket once bound. */
  socket: UnixDgramSocket | undefined;
  #bound: BoundPath | undefined;

  constructor(
    path: string,
    Handler: DatagramHandlerClass,
    options: UnixDatagramServerOptions = {},
  ) {
    super({ family: 'unix', path: checkBindablePath(path) }, Handler, options);
    this.socketMode = options.socketMode;
  }

  protected async serverBind(): Promise<SocketAddress> {
    const path = (this.serverAddress as UnixAddress).path;
    const { socket, bound } = await bindUnixDgram(path, this.socketMode);
    this.socket = socket;
    this.#bound = bound;
    socket.on('error', (err) => this.handleError(err, this.serverAddress));
    socket.on('message', (data: Buffer, from: string) => {
      this.receive(new UnixDatagram(socket, data, { family: 'unix', path: from }));
    });
    return this.serverAddress;
  }

  protected async closeListener(): Promise<void> {
    this.socket?.close();
  }

  protected override async serverCleanup(): Promise<void> {
    await releaseSocketFile(this.#bound);
  }
}

/** A unix datagram as a request: replies go to the sender's bound path. */
class UnixDatagram extends DatagramConnection {
  declare readonly clientAddress: UnixAddress;
  constructor(
    readonly socket: UnixDgramSocket,
    data: Buffer,
    clientAddress: UnixAddress,
  ) {
    super(data, clientAddress);
  }

  reply(data: Uint8Array): Promise<void> {
    if (!this.clientAddress.path) {
      debug('unix datagram from an unbound sender: reply dropped');
      return Promise.resolve();
    }
    this.bytesOut += data.length;
    return this.socket
      .send(Buffer.from(data.buffer, data.byteOffset, data.byteLength), this.clientAddress.path)
      .catch((err: unknown) => {
        // The sender closed (or removed) its socket before the reply: like a UDP reply
        // to a port nobody listens on any more, it is dropped, not a handler failure.
        const code = errnoName(err);
        if (code !== 'ECONNREFUSED' && code !== 'ENOENT') throw err;
        this.bytesOut -= data.length;
        debug('reply to %s dropped: %s', this.clientAddress.path, code);
      });
  }
}
