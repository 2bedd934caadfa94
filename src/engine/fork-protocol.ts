/**
 * The `forking` mode's messages, both directions. A worker process receives each
 * connection itself: the socket's handle travels with the job message (the same
 * hand-over `cluster` does), so the bytes never pass through this process. The
 * child reports what the connection moved when its handler is done.
 *
 * Owner → worker {@link ToFork} (a `conn` job carries the socket handle); worker →
 * owner {@link FromWorker}.
 */
import type { SocketAddress } from '../net/address.js';
import type { AddressMessage, DatagramJob } from './worker-protocol.js';

export type { FromWorker } from './worker-protocol.js';

/** Owner → worker: serve the connection whose socket handle comes with this message. */
export interface ConnectionJob {
  readonly type: 'conn';
  readonly id: number;
  readonly clientAddress: SocketAddress;
}

/** Everything the owner sends a worker process. */
export type ToFork = ConnectionJob | DatagramJob | AddressMessage;
