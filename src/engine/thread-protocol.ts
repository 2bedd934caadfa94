/**
 * The `threading` mode's messages, both directions. A Worker cannot receive a
 * socket (DataCloneError), so a connection is bridged: it gets a MessageChannel;
 * the bytes read from the socket go to the worker (ArrayBuffers transferred, not
 * copied), the worker's writes come back and are written to the socket here.
 * Both directions are flow-controlled by acknowledgements.
 *
 * On the pool channel: owner → worker {@link ToThread}, worker → owner
 * {@link FromWorker}. On a connection's channel, both ways {@link ChannelMessage}.
 */
import type { MessagePort } from 'node:worker_threads';
import type { SocketAddress } from '../net/address.js';
import type { WireError } from '../net/wire.js';
import type { AddressMessage, DatagramJob } from './worker-protocol.js';

export type { FromWorker } from './worker-protocol.js';

/** Pause the socket while the worker holds more unacknowledged input than this. */
export const INPUT_HIGH_WATER = 1024 * 1024;
/** Resume it once the worker has acknowledged down to this. */
export const INPUT_LOW_WATER = 256 * 1024;
/** Bytes a worker may have written that the main thread has not yet handed to the kernel. */
export const OUTPUT_WINDOW = 1024 * 1024;
/**
 * Acknowledgements go out once this many bytes are due (less than both the low
 * water mark and the window, so neither side can wait on an ack that never
 * comes): a small request costs no ack message at all.
 */
export const ACK_BATCH = 64 * 1024;

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

/** On a connection's channel (both directions share the shape). */
export type ChannelMessage =
  | { t: 'data'; buf: ArrayBuffer }
  | { t: 'ack'; n: number }
  | { t: 'end' }
  /** owner → worker: the socket died, with this code */
  | { t: 'abort'; code: string }
  /** worker → owner: socket options the handler set */
  | { t: 'option'; noDelay?: boolean; keepAlive?: [boolean, number] }
  /** worker → owner: the handler is done */
  | { t: 'done'; error?: WireError };

/**
 * Copy a chunk into an ArrayBuffer of its own, or hand over the one it owns
 * when it is a socket's read buffer (exactly the chunk, nobody else holds it).
 */
export function transferable(chunk: Uint8Array, owned: boolean): ArrayBuffer {
  const ab = chunk.buffer;
  if (
    owned &&
    ab instanceof ArrayBuffer &&
    chunk.byteOffset === 0 &&
    chunk.byteLength === ab.byteLength
  ) {
    return ab;
  }
  const copy = new ArrayBuffer(chunk.byteLength);
  new Uint8Array(copy).set(chunk);
  return copy;
}
