/**
 * A stream carried over a channel of its worker's mux (bridge-mux.ts), for a socket
 * served in a worker thread (a Worker cannot receive a socket: DataCloneError). The
 * bytes read from the socket go to the worker (ArrayBuffers transferred, not copied),
 * the worker's writes come back and are written to the socket; both directions are
 * flow-controlled by acknowledgements. This module is the protocol and the owner's
 * end ({@link StreamBridge}); bridge-connection.ts is the worker's end.
 */
import { Buffer } from 'node:buffer';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { PACK_LIMIT, type BridgeChannel, type BridgeMux } from './bridge-mux.js';
import { errnoName, statusName } from './errors.js';
import {
  IN_FLIGHT,
  WRITTEN,
  writableHandle,
  writeOnHandle,
  type HandleWriter,
} from './handle-write.js';
import type { StreamHandle } from './raw-binding.js';
import { fromWire, type WireError } from './wire.js';
import { resetStream } from './reset.js';
import { readChunks } from './shared-read.js';
import type { Gate, GateGrant, GateTable } from './write-gate.js';

/**
 * Windows adapt: a connection starts with {@link SMALL_WINDOW} bytes in flight each
 * way (a handler that does not read, or a peer that does not, pins little more than
 * that), and gets {@link LARGE_WINDOW} once it has moved {@link GROW_AFTER} bytes in
 * that direction: more than the kernel buffers of a peer that does not read could
 * ever take, so only a connection that is really busy grows.
 */
export const SMALL_WINDOW = 4 * 1024;
/** The window of a busy direction. */
export const LARGE_WINDOW = 1024 * 1024;
/** Bytes a direction moves before its window grows. */
export const GROW_AFTER = 8 * 1024 * 1024;

/** The window of a direction that has moved `moved` bytes (acknowledged). */
export function windowFor(moved: number): number {
  return moved >= GROW_AFTER ? LARGE_WINDOW : SMALL_WINDOW;
}

/**
 * Acknowledgements go out once this many bytes are due: a quarter of the window
 * (so neither side can wait on an ack that never comes), switching to the large one
 * well after the window grew; a small request costs no ack message at all.
 */
export function ackBatchFor(moved: number): number {
  return (moved >= 2 * GROW_AFTER ? LARGE_WINDOW : SMALL_WINDOW) / 4;
}

/** On a connection's channel (both directions share the shape). */
export type ChannelMessage =
  /**
   * bytes: `buf` (owner → worker), or the first `len` bytes of a slab (worker → owner),
   * or `len` bytes at `off` of a batch's pack (bridge-mux.ts), which is nobody's slab
   */
  | { t: 'data'; buf: ArrayBuffer; off?: number; len?: number }
  /** `n` bytes consumed; the owner sends written slabs back for reuse */
  | { t: 'ack'; n: number; slabs?: ArrayBuffer[] }
  | { t: 'end' }
  /** owner → worker: the socket died, with this code */
  | { t: 'abort'; code: string }
  /** worker → owner: socket options the handler set */
  | { t: 'option'; noDelay?: boolean; keepAlive?: [boolean, number] }
  /** worker → owner: reset the socket (RST) rather than close it */
  | { t: 'reset' }
  /** worker → owner: the handler is done (having written `direct` bytes to the socket itself) */
  | { t: 'done'; error?: WireError; direct?: number };

/** What a bridged connection moved, when its socket does not count it all. */
export interface BridgeOutcome {
  readonly bytesIn: number;
  readonly bytesOut: number;
}

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

const noop = (): void => undefined;

/** Bridges one socket to a worker thread, over a channel of that worker's mux. */
export class StreamBridge implements HandleWriter {
  readonly #socket: Duplex;
  /** A plain socket's handle, written on directly (net/handle-write.ts), or undefined. */
  #handle: StreamHandle | undefined;
  /** Handle writes in flight. */
  #pending = 0;
  #channel: BridgeChannel | undefined;
  readonly #done: (err?: Error, outcome?: BridgeOutcome) => void;
  /** Lets the worker write to the socket itself (net/write-gate.ts). */
  #gate: Gate | undefined;
  /** A socket's read buffers are its own: they can be transferred, not copied. */
  readonly #owned: boolean;
  /** Input posted to the worker and not yet acknowledged, and all it has acknowledged. */
  #inFlight = 0;
  #consumed = 0;
  /** Output handed to the kernel and not yet acknowledged to the worker, and all of it. */
  #written = 0;
  #writtenTotal = 0;
  /** Through the stream: slabs given to the socket (null: a pack's bytes), in order, with their lengths. */
  readonly #writing: (ArrayBuffer | null)[] = [];
  readonly #writingLengths: number[] = [];
  /** Slabs written, going back to the worker with the next ack. */
  readonly #slabs: ArrayBuffer[] = [];
  #paused = false;
  #finished = false;
  #errorCode: string | undefined;

  constructor(socket: Duplex, done: (err?: Error, outcome?: BridgeOutcome) => void) {
    this.#socket = socket;
    this.#done = done;
    this.#owned = socket instanceof Socket;
  }

  /**
   * Let the worker write to the socket itself, through a gate of `table` (before
   * {@link start}): a plain socket with no idle timer (direct writes would not reset
   * it). Undefined otherwise, and the worker's bytes come here to be written.
   */
  openGate(table: GateTable): GateGrant | undefined {
    const handle = writableHandle(this.#socket);
    if (!handle || (this.#socket as Socket).timeout || this.#finished) return undefined;
    this.#gate = table.open(handle);
    return this.#gate?.grant;
  }

  /**
   * Start moving bytes over channel `id` of `mux` (queued sockets stay paused until
   * a handler takes them).
   */
  start(mux: BridgeMux, id: number): void {
    const socket = this.#socket;
    // The mux closes only when the worker is gone: the pool fails its requests then.
    this.#channel = mux.open(id, { message: this.#onMessage, data: this.#write, close: noop });
    socket.on('end', this.#onEnd);
    socket.on('error', this.#onError);
    socket.on('close', this.#onClose);
    this.#handle = writableHandle(socket);
    if (socket.destroyed) this.#onClose();
    else if (socket.readableEnded) this.#onEnd();
    // a plain socket reads straight into a buffer, and each chunk is copied into the
    // batch: no Buffer, stream push or 'data' event per read
    else if (!readChunks(socket, this.#onRead)) socket.on('data', this.#onData).resume();
  }

  /** A chunk read (see shared-read.ts): true when its memory was handed to the worker. */
  readonly #onRead = (chunk: Buffer): boolean => {
    if (this.#finished) return false; // the socket is being let go: nobody takes its bytes
    this.#inFlight += chunk.byteLength; // before the transfer empties the chunk
    let kept = false;
    if (chunk.byteLength <= PACK_LIMIT) {
      this.#channel?.postBytes(chunk);
    } else {
      const buf = transferable(chunk, this.#owned);
      kept = buf === chunk.buffer;
      this.#post({ t: 'data', buf }, [buf]);
    }
    if (!this.#paused && this.#inFlight > windowFor(this.#consumed)) {
      this.#paused = true;
      this.#socket.pause();
    }
    return kept;
  };

  readonly #onData = (chunk: Buffer): void => {
    this.#onRead(chunk);
  };

  readonly #onEnd = (): void => this.#post({ t: 'end' });

  readonly #onError = (err: Error): void => {
    this.#errorCode ??= errnoName(err);
  };

  readonly #onClose = (): void => {
    if (this.#finished) return;
    const code = this.#errorCode ?? 'ERR_STREAM_PREMATURE_CLOSE';
    this.#post({ t: 'abort', code });
  };

  readonly #onMessage = (msg: ChannelMessage): void => {
    if (this.#finished) return;
    switch (msg.t) {
      case 'data':
        this.#write(msg.buf, msg.off, msg.len ?? msg.buf.byteLength);
        break;
      case 'ack':
        this.#acknowledged(msg.n);
        break;
      case 'end':
        this.#socket.end();
        break;
      case 'option':
        this.#option(msg);
        break;
      case 'reset':
        resetStream(this.#socket);
        break;
      case 'done':
        this.finish(msg.error ? fromWire(msg.error) : undefined, msg.direct);
        break;
    }
  };

  #post(msg: ChannelMessage, transfer?: ArrayBuffer[]): void {
    this.#channel?.post(msg, transfer);
  }

  /** Write the worker's bytes; the ack (with the slab, for reuse) goes back once the kernel has them. */
  readonly #write = (buf: ArrayBuffer, off: number | undefined, n: number): void => {
    if (this.#finished) return;
    if (this.#handle) {
      this.#writeOnHandle(buf, off, n);
      return;
    }
    const socket = this.#socket;
    this.#writingLengths.push(n);
    if (off === undefined) {
      this.#writing.push(buf);
      socket.write(Buffer.from(buf, 0, n), this.#afterWrite);
      return;
    }
    this.#writing.push(null);
    const bytes = Buffer.from(buf, off, n);
    // bytes that wait in the socket's queue must not pin the whole pack: a copy waits
    socket.write(socket.writableLength > 0 ? Buffer.from(bytes) : bytes, this.#afterWrite);
  };

  #writeOnHandle(buf: ArrayBuffer, off: number | undefined, n: number): void {
    const socket = this.#socket as Socket;
    const handle = this.#handle!;
    if ((socket as unknown as { _handle: unknown })._handle !== handle) return; // closed
    let bytes = new Uint8Array(buf, off ?? 0, n);
    // bytes that wait behind others must not pin the whole pack: a copy waits
    if (off !== undefined && this.#pending > 0) bytes = bytes.slice();
    if (socket.timeout) (socket as unknown as { _unrefTimer(): void })._unrefTimer();
    const status = writeOnHandle(handle, bytes, this, off === undefined ? buf : null);
    if (status === WRITTEN) this.#flushed(n, off === undefined ? buf : null);
    else if (status === IN_FLIGHT) this.#pending++;
    else this.#writeFailed(status);
  }

  /** A handle write completed. Do not call. */
  written(status: number, n: number, slab: ArrayBuffer | null): void {
    this.#pending--;
    if (this.#finished) return;
    if (status >= 0) this.#flushed(n, slab);
    // a socket destroyed meanwhile cancels its writes: its close reports why
    else if (!this.#socket.destroyed) this.#writeFailed(status);
  }

  #writeFailed(status: number): void {
    this.#errorCode ??= statusName(status);
    this.#socket.destroy();
  }

  // One callback for every write (no closure per chunk): writes complete in order.
  readonly #afterWrite = (err?: Error | null): void => {
    const buf = this.#writing.shift();
    const n = this.#writingLengths.shift() ?? 0;
    if (err || this.#finished) return;
    this.#flushed(n, buf ?? null);
  };

  /** `n` bytes are with the kernel: acknowledge them (with their slab) once enough are due. */
  #flushed(n: number, slab: ArrayBuffer | null): void {
    this.#written += n;
    this.#writtenTotal += n;
    if (slab) this.#slabs.push(slab);
    // a gated worker writes directly again once all it sent here is written: tell it then
    if (this.#written >= ackBatchFor(this.#writtenTotal) || (this.#gate && this.#pending === 0)) {
      const slabs = this.#slabs.splice(0);
      this.#post({ t: 'ack', n: this.#written, slabs }, slabs);
      this.#written = 0;
    }
  }

  #acknowledged(n: number): void {
    this.#inFlight -= n;
    this.#consumed += n;
    if (this.#paused && this.#inFlight <= windowFor(this.#consumed) / 4) {
      this.#paused = false;
      this.#socket.resume();
    }
  }

  #option(msg: Extract<ChannelMessage, { t: 'option' }>): void {
    if (!(this.#socket instanceof Socket)) return;
    if (msg.noDelay !== undefined) this.#socket.setNoDelay(msg.noDelay);
    if (msg.keepAlive) this.#socket.setKeepAlive(...msg.keepAlive);
  }

  /** The one close path: stop listening, close the channel, report. Idempotent. */
  finish(err?: Error, direct = 0): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#gate?.shut(); // the worker writes nothing more here
    const socket = this.#socket;
    socket.off('data', this.#onData);
    socket.off('end', this.#onEnd);
    socket.off('error', this.#onError);
    socket.off('close', this.#onClose);
    this.#channel?.close();
    if (direct === 0) return this.#done(err);
    const { bytesRead, bytesWritten } = socket as Socket;
    this.#done(err, { bytesIn: bytesRead, bytesOut: bytesWritten + direct });
  }
}
