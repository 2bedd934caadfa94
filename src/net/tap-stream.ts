/**
 * One tapped stream socket: its own `push()` (bytes received), `_write()` and
 * `_writev()` (bytes sent) and `_read()` (asking the system for more) are wrapped
 * on the instance, so the tap sees exactly what crosses the socket without adding
 * a `data` listener (which would switch a paused socket into flowing mode before
 * its handler runs). While the tap's logs are behind, the next read is declined —
 * a socket whose `push()` returns false stops reading until `_read()` is called —
 * and a write's completion is held, so the transfer waits for the logs and no byte
 * goes unlogged. Installed once per connection; nothing is allocated per chunk.
 */
import { Buffer } from 'node:buffer';
import type { Duplex } from 'node:stream';
import type { Tap, TapWaiter } from './tap.js';

type Push = Duplex['push'];
type Read = (size: number) => void;
type WriteCb = (err?: Error | null) => void;
type Write = (chunk: unknown, encoding: BufferEncoding, cb: WriteCb) => void;
type Writev = (chunks: { chunk: unknown; encoding: BufferEncoding }[], cb: WriteCb) => void;
/** The stream's own methods, as the tap wraps them. */
interface Wrappable {
  push: Push;
  _read: Read;
  _write: Write;
  _writev?: Writev | null;
}

/** A tapped stream; see the module comment. */
export class TappedStream implements TapWaiter {
  readonly #tap: Tap;
  readonly #stream: Duplex & Wrappable;
  readonly #prefixIn: Buffer;
  readonly #prefixOut: Buffer;
  #push!: Push;
  #read!: Read;
  #write!: Write;
  #writev: Writev | undefined;
  #offsetIn = 0;
  #offsetOut = 0;
  /** A read declined while the logs were behind. */
  #readWanted = false;
  #readSize = 0;
  /** The completion of the write in progress (a stream writes one at a time). */
  #writeDone: WriteCb | undefined;
  #writeHeld = false;

  constructor(tap: Tap, stream: Duplex, prefixIn: Buffer, prefixOut: Buffer) {
    this.#tap = tap;
    this.#stream = stream as Duplex & Wrappable;
    this.#prefixIn = prefixIn;
    this.#prefixOut = prefixOut;
  }

  /** Wrap the stream's methods. */
  install(): void {
    const s = this.#stream;
    this.#push = s.push;
    this.#read = s._read;
    this.#write = s._write;
    this.#writev = s._writev ?? undefined;
    s.push = this.#onPush;
    s._read = this.#onRead;
    s._write = this.#onWrite;
    if (this.#writev) s._writev = this.#onWritev;
    s.once('close', this.#onClose);
  }

  /** The logs caught up: take the declined read, complete the held write. */
  resume(): void {
    const s = this.#stream;
    if (this.#readWanted) {
      this.#readWanted = false;
      if (!s.destroyed) this.#read.call(s, this.#readSize);
    }
    if (this.#writeHeld) {
      this.#writeHeld = false;
      const done = this.#writeDone!;
      this.#writeDone = undefined;
      done();
    }
  }

  readonly #onPush = (chunk: unknown, encoding?: BufferEncoding): boolean => {
    const tap = this.#tap;
    if (chunk !== null && chunk !== undefined) {
      const data = bytesOf(chunk, encoding);
      if (data.length > 0) {
        tap.record(data, this.#prefixIn, this.#offsetIn);
        this.#offsetIn += data.length;
      }
    }
    const more = this.#push.call(this.#stream, chunk, encoding);
    return more && !tap.behind;
  };

  readonly #onRead = (size: number): void => {
    if (this.#tap.behind) {
      this.#readWanted = true;
      this.#readSize = size;
      this.#tap.wait(this);
      return;
    }
    this.#read.call(this.#stream, size);
  };

  readonly #onWrite = (chunk: unknown, encoding: BufferEncoding, cb: WriteCb): void => {
    this.#sent(chunk, encoding);
    this.#writeDone = cb;
    this.#write.call(this.#stream, chunk, encoding, this.#afterWrite);
  };

  readonly #onWritev = (chunks: { chunk: unknown; encoding: BufferEncoding }[], cb: WriteCb) => {
    for (const { chunk, encoding } of chunks) this.#sent(chunk, encoding);
    this.#writeDone = cb;
    this.#writev!.call(this.#stream, chunks, this.#afterWrite);
  };

  #sent(chunk: unknown, encoding: BufferEncoding): void {
    const data = bytesOf(chunk, encoding);
    if (data.length === 0) return;
    this.#tap.record(data, this.#prefixOut, this.#offsetOut);
    this.#offsetOut += data.length;
  }

  readonly #afterWrite = (err?: Error | null): void => {
    if (!err && this.#tap.behind && !this.#stream.destroyed) {
      this.#writeHeld = true;
      this.#tap.wait(this);
      return;
    }
    const done = this.#writeDone!;
    this.#writeDone = undefined;
    done(err);
  };

  readonly #onClose = (): void => {
    this.#tap.forget(this);
    this.#readWanted = false;
    if (this.#writeHeld) this.resume();
  };
}

/** A chunk as bytes: a stream may be given strings (net.Socket does not decode them). */
function bytesOf(chunk: unknown, encoding?: BufferEncoding): Uint8Array {
  if (typeof chunk === 'string') return Buffer.from(chunk, encoding);
  return chunk as Uint8Array;
}
