/**
 * The `threading` mode's messages, both directions. A Worker cannot receive a
 * socket (DataCloneError), so a connection is bridged over a MessageChannel of its
 * own (net/stream-bridge.ts: the owner's end; net/bridge-connection.ts: the
 * worker's). On the pool channel: owner → worker {@link ToThread}, worker → owner
 * {@link FromWorker}.
 */
import type { MessagePort } from 'node:worker_threads';
import type { SocketAddress } from '../net/address.js';
import type { AddressMessage, DatagramJob } from './worker-protocol.js';

export type { FromWorker } from './worker-protocol.js';

/** Owner → worker: serve a connection over `port`. */
export interface StreamJob {
  readonly type: 'stream';
  readonly id: number;
  readonly port: MessagePort;
  readonly clientAddress: SocketAddress;
  /** The server's end of the connection. */
  readonly localAddress: SocketAddress;
}

/** Everything the owner sends a thread on the pool channel. */
export type ToThread = StreamJob | DatagramJob | AddressMessage;
