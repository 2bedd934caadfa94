/**
 * Every bridged connection of one worker thread shares one MessagePort, a mux: what
 * a connection posts is queued with its id and the queue goes as one message per
 * event-loop turn (the owner's sockets read in one poll phase go together, and so do
 * the replies a worker's handlers write in one turn). A message per chunk per
 * connection cost a postMessage and a wake-up of the other thread each; a round trip
 * of 32 connections now costs about two messages per worker and turn, not 64+.
 * Order is kept per connection (one port, first in first out). Small chunks are
 * copied into the batch's pack, one buffer for all (consecutive ones of a connection
 * merged), rather than each transferred in an ArrayBuffer of its own.
 */
import type { MessagePort } from 'node:worker_threads';
import type { ChannelMessage } from './stream-bridge.js';

/** Chunks up to this size travel copied into the batch's pack; bigger ones are transferred. */
export const PACK_LIMIT = 1024;
/** The size of a pack (a bigger run of one connection's chunks gets a pack of its size). */
const PACK_SIZE = 8 * 1024;

/** One connection's end of a mux: what StreamBridge and BridgeConnection talk through. */
export interface BridgeChannel {
  /** Queue `msg` (with the buffers it transfers) for the next batch. */
  post(msg: ChannelMessage, transfer?: readonly ArrayBuffer[]): void;
  /** Queue a copy of `bytes` (at most {@link PACK_LIMIT}) as data, in the batch's pack. */
  postBytes(bytes: Uint8Array): void;
  /** Close this connection's channel, both ends (later posts are dropped). */
  close(): void;
}

/** What a connection does with its mux traffic. */
export interface BridgeRoute {
  message(msg: ChannelMessage): void;
  /** The channel closed: the other end closed it, or the mux itself went. */
  close(): void;
}

/** How a side flushes: once per event-loop turn (owner), or after the current job (worker). */
export type FlushTiming = 'turn' | 'microtask';

/** A batch: connection id and message, flattened; `null` closes that id's channel. */
type Batch = (number | ChannelMessage | null)[];

/** Data in a pack. */
type PackedData = Extract<ChannelMessage, { t: 'data' }> & { off: number; len: number };

/** One side of a worker's mux; see the module comment. */
export class BridgeMux {
  readonly #port: MessagePort;
  readonly #timing: FlushTiming;
  readonly #routes = new Map<number, BridgeRoute>();
  /** Worker side: traffic that came before its connection's job (another port). */
  readonly #early = new Map<number, (ChannelMessage | null)[]>();
  #batch: Batch = [];
  #transfer: ArrayBuffer[] = [];
  /** The pack being filled, and the last data entry in it (merged with a next one of its id). */
  #pack: Uint8Array | undefined;
  #packUsed = 0;
  #lastPacked: PackedData | undefined;
  #scheduled = false;
  #closed = false;

  constructor(port: MessagePort, timing: FlushTiming) {
    this.#port = port;
    this.#timing = timing;
    port.on('message', this.#onBatch);
    port.once('close', this.#onClose);
    port.unref(); // what keeps a process or a worker alive is its requests, not the mux
  }

  /** Open connection `id`'s channel; traffic that came for it early is delivered now. */
  open(id: number, route: BridgeRoute): BridgeChannel {
    const channel: BridgeChannel = {
      post: (msg, transfer) => this.#post(id, msg, transfer),
      postBytes: (bytes) => this.#postBytes(id, bytes),
      close: () => {
        if (this.#routes.delete(id)) this.#post(id, null);
      },
    };
    if (this.#closed) {
      route.close();
      return channel;
    }
    this.#routes.set(id, route);
    const early = this.#early.get(id);
    if (early) {
      this.#early.delete(id);
      for (const msg of early) this.#deliver(id, route, msg);
    }
    return channel;
  }

  #post(id: number, msg: ChannelMessage | null, transfer?: readonly ArrayBuffer[]): void {
    if (this.#closed || (msg !== null && !this.#routes.has(id))) return;
    this.#batch.push(id, msg);
    if (transfer) for (const buf of transfer) this.#transfer.push(buf);
    if (this.#scheduled) return;
    this.#scheduled = true;
    if (this.#timing === 'turn') setImmediate(this.#flush);
    else queueMicrotask(this.#flush);
  }

  #postBytes(id: number, bytes: Uint8Array): void {
    if (this.#closed || !this.#routes.has(id)) return;
    const n = bytes.byteLength;
    let pack = this.#pack;
    if (!pack || this.#packUsed + n > pack.byteLength) {
      const buf = new ArrayBuffer(Math.max(PACK_SIZE, n));
      pack = this.#pack = new Uint8Array(buf);
      this.#packUsed = 0;
      this.#lastPacked = undefined;
      this.#transfer.push(buf);
    }
    pack.set(bytes, this.#packUsed);
    const batch = this.#batch;
    const last = this.#lastPacked;
    if (last && batch[batch.length - 1] === last && batch[batch.length - 2] === id) {
      last.len += n; // the same connection again: one entry, one socket write
    } else {
      const buf = pack.buffer as ArrayBuffer; // made above from an ArrayBuffer
      const msg: PackedData = { t: 'data', buf, off: this.#packUsed, len: n };
      this.#lastPacked = msg;
      this.#post(id, msg);
    }
    this.#packUsed += n;
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    this.#pack = undefined;
    this.#lastPacked = undefined;
    const batch = this.#batch;
    const transfer = this.#transfer;
    if (batch.length === 0 || this.#closed) return;
    this.#batch = [];
    this.#transfer = [];
    try {
      this.#port.postMessage(batch, transfer);
    } catch {
      // the port is closed: the other side is gone, and with it every connection
    }
  };

  readonly #onBatch = (batch: Batch): void => {
    for (let i = 0; i < batch.length; i += 2) {
      const id = batch[i] as number;
      const msg = batch[i + 1] as ChannelMessage | null;
      const route = this.#routes.get(id);
      if (route) this.#deliver(id, route, msg);
      else if (this.#timing === 'microtask') this.#keepEarly(id, msg);
    }
  };

  #deliver(id: number, route: BridgeRoute, msg: ChannelMessage | null): void {
    if (msg !== null) {
      route.message(msg);
    } else if (this.#routes.get(id) === route) {
      this.#routes.delete(id);
      route.close();
    }
  }

  /** Worker side: the job of `id` is on its way (on the pool's port): keep its traffic. */
  #keepEarly(id: number, msg: ChannelMessage | null): void {
    const queue = this.#early.get(id);
    if (queue) queue.push(msg);
    else this.#early.set(id, [msg]);
  }

  readonly #onClose = (): void => {
    this.#closed = true;
    this.#early.clear();
    const routes = [...this.#routes.values()];
    this.#routes.clear();
    for (const route of routes) route.close();
  };

  /** Close the mux and every channel on it. */
  close(): void {
    this.#port.close();
    this.#onClose();
  }
}
