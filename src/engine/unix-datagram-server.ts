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
import type { UnixSocketOptions } from './server-types.js';
import { moduleRef } from '../net/built-module.js';

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
