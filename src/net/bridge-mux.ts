/**
 * Every bridged connection of one worker thread shares one MessagePort, a mux: what
 * a connection posts is queued with its id and the queue goes as one message per
 * event-loop turn (the owner's sockets read in one poll phase go together, and so do
 * the replies a worker's handlers write in one turn). A message per chunk per
 * connection cost a postMessage and a wake-up of the other thread each; a round trip
 * of 32 connections now costs about two messages per worker and turn, not 64+.
 * Order is kept per connection (one port, first in first out).
 *
 * A batch is one flat buffer, transferred: an entry per event, a header of two
 * int32 words (the connection id, then the length of the data that follows, or a
 * negative kind), small chunks copied in (consecutive ones of a connection merged),
 * so that neither side structured-clones or allocates an object per entry. What
 * does not fit a header (a transferred buffer, an error, an option) goes beside the
 * buffer as an object, referenced from its entry.
 */
import type { MessagePort } from 'node:worker_threads';
import type { ChannelMessage } from './stream-bridge.js';

/** Chunks up to this size travel copied into the batch; bigger ones are transferred. */
export const PACK_LIMIT = 1024;
/** The buffer a side fills (reused: each batch goes as a copy of the part used). */
const PACK_SIZE = 16 * 1024;
/** Entry kinds besides data (whose header holds its length, >= 0). */
const CLOSE = -1;
const END = -2;
/** The next word is the count acknowledged. */
const ACK = -3;
/** The next word is the index of the object beside the buffer. */
const OBJECT = -4;
const END_MSG: ChannelMessage = Object.freeze({ t: 'end' });

/** `n` rounded up to whole int32 words. */
const align = (n: number): number => (n + 3) & ~3;

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
  /** `len` bytes at `off` of a batch's buffer, which is nobody's slab (copy what is kept). */
  data(buf: ArrayBuffer, off: number, len: number): void;
  /** The channel closed: the other end closed it, or the mux itself went. */
  close(): void;
}

/** How a side flushes: once per event-loop turn (owner), or after the current job (worker). */
export type FlushTiming = 'turn' | 'microtask';

/** A batch on the port: the entries, and the objects they reference (0: none). */
type Batch = [ArrayBuffer, ChannelMessage[] | 0];

/** One side of a worker's mux; see the module comment. */
export class BridgeMux {
  readonly #port: MessagePort;
  readonly #timing: FlushTiming;
  readonly #routes = new Map<number, BridgeRoute>();
  /** Worker side: traffic that came before its connection's job (another port). */
  readonly #early = new Map<number, (ChannelMessage | null)[]>();
  /** The batch being filled: its entries (bytes and words over one buffer), its objects. */
  readonly #pack = new ArrayBuffer(PACK_SIZE);
  readonly #bytes = new Uint8Array(this.#pack);
  readonly #words = new Int32Array(this.#pack);
  #used = 0;
  #objects: ChannelMessage[] = [];
  #transfer: ArrayBuffer[] = [];
  /** Where the last entry's header is when it is data (merged with a next one of its id), else -1. */
  #lastData = -1;
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
        if (this.#routes.delete(id)) this.#entry(id, CLOSE);
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

  #post(id: number, msg: ChannelMessage, transfer?: readonly ArrayBuffer[]): void {
    if (this.#closed || !this.#routes.has(id)) return;
    if (msg.t === 'end') {
      this.#entry(id, END);
    } else if (msg.t === 'ack' && !msg.slabs?.length) {
      this.#entry(id, ACK, msg.n);
    } else {
      this.#room(12); // a full buffer goes first: the message and its transfers go in the next
      if (transfer) for (const buf of transfer) this.#transfer.push(buf);
      this.#entry(id, OBJECT, this.#objects.push(msg) - 1);
    }
  }

  /** Append a header (and its word of value); `kind` is a data length or a negative kind. */
  #entry(id: number, kind: number, value?: number): void {
    if (this.#closed) return;
    this.#room(12);
    const words = this.#words;
    let at = this.#used >> 2;
    words[at++] = id;
    words[at++] = kind;
    if (value !== undefined) words[at++] = value;
    this.#lastData = kind >= 0 ? this.#used : -1;
    this.#used = at << 2;
    this.#schedule();
  }

  /** Make room for `n` more bytes: a full buffer goes now. */
  #room(n: number): void {
    if (this.#used + n > PACK_SIZE) this.#flush();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    if (this.#timing === 'turn') setImmediate(this.#tick);
    else queueMicrotask(this.#tick);
  }

  #postBytes(id: number, bytes: Uint8Array): void {
    if (this.#closed || !this.#routes.has(id)) return;
    const n = bytes.byteLength;
    const last = this.#lastData;
    if (last >= 0 && this.#words[last >> 2] === id) {
      // the same connection again: one entry, one socket write
      const len = this.#words[(last >> 2) + 1]!;
      const end = last + 8 + len;
      if (end + n <= PACK_SIZE) {
        this.#bytes.set(bytes, end);
        this.#words[(last >> 2) + 1] = len + n;
        this.#used = align(end + n);
        return;
      }
    }
    this.#room(8 + align(n));
    this.#entry(id, n);
    this.#bytes.set(bytes, this.#used);
    this.#used = align(this.#used + n);
  }

  readonly #tick = (): void => {
    this.#scheduled = false;
    this.#flush();
  };

  #flush(): void {
    const used = this.#used;
    if (used === 0 || this.#closed) return;
    const objects = this.#objects;
    const transfer = this.#transfer;
    const wire = this.#pack.slice(0, used);
    transfer.push(wire);
    const batch: Batch = [wire, objects.length > 0 ? objects : 0];
    this.#used = 0;
    this.#lastData = -1;
    if (objects.length > 0) this.#objects = [];
    this.#transfer = [];
    try {
      this.#port.postMessage(batch, transfer);
    } catch {
      // the port is closed: the other side is gone, and with it every connection
    }
  }

  readonly #onBatch = ([wire, objects]: Batch): void => {
    const words = new Int32Array(wire);
    const size = wire.byteLength;
    let at = 0;
    while (at < size) {
      const id = words[at >> 2]!;
      const kind = words[(at >> 2) + 1]!;
      at += 8;
      const route = this.#routes.get(id);
      if (kind >= 0) {
        if (route) route.data(wire, at, kind);
        else this.#keepEarly(id, { t: 'data', buf: wire, off: at, len: kind });
        at = align(at + kind);
        continue;
      }
      let msg: ChannelMessage | null = null;
      if (kind === END) msg = END_MSG;
      else if (kind === ACK) msg = { t: 'ack', n: words[at >> 2]! };
      else if (kind === OBJECT) msg = (objects as ChannelMessage[])[words[at >> 2]!]!;
      if (kind <= ACK) at += 4;
      if (route) this.#deliver(id, route, msg);
      else this.#keepEarly(id, msg);
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
    if (this.#timing !== 'microtask') return;
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
