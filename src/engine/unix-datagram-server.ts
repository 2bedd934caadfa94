/** UnixDatagramServer: datagram requests on a unix socket path. */
import type { Transport } from '../net/address.js';
import type { DatagramBindOptions } from '../net/datagram-socket.js';
import { checkBindablePath } from '../net/unix-path.js';
import {
  DatagramServer,
  type DatagramHandlerClass,
  type DatagramServerOptions,
} from './datagram-server.js';
import type { ModuleRef } from './server-spec.js';
import { builtUrl } from '../net/built-module.js';

/** Options for unix datagram servers. */
export interface UnixDatagramServerOptions extends DatagramServerOptions {
  /** File mode of the socket (default 0600). */
  socketMode?: number;
}

/**
 * A unix datagram server (Python's `UnixDatagramServer`): a real AF_UNIX SOCK_DGRAM
 * socket through the unix-dgram addon (Node has none of its own). Replies go to the
 * sender's bound path; a sender that did not bind a path cannot be answered.
 */
export class UnixDatagramServer extends DatagramServer {
  /** Where workers import this class from. */
  static get module(): ModuleRef {
    return { url: builtUrl(new URL(import.meta.url)).href, exportName: 'UnixDatagramServer' };
  }

  readonly transport: Transport = 'unix-dgram';
  /** Socket file mode. */
  readonly socketMode: number | undefined;

  constructor(
    path: string,
    Handler: DatagramHandlerClass,
    options: UnixDatagramServerOptions = {},
  ) {
    super({ family: 'unix', path: checkBindablePath(path) }, Handler, options);
    this.socketMode = options.socketMode;
  }

  protected bindOptions(): DatagramBindOptions {
    return { mode: this.socketMode };
  }
}
