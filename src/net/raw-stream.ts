/**
 * Serving an accepted connection on Node's own stream handle (the TCPWrap or PipeWrap
 * a `net.Socket` is built around), without the `net.Socket`: no stream object, no
 * listeners, no `connection` event, no Buffer per small read. A connection then costs
 * the handle and one small object. Node's stream bindings (net/raw-binding.ts) supply
 * the write and shutdown requests; when this Node does not offer them in the known
 * shape (or pending deprecations would make `process.binding` warn), {@link rawStreams}
 * says no and the server keeps to `net.Socket`s.
 */
import { Buffer } from 'node:buffer';
import type { Server } from 'node:net';
import { rawBinding } from './raw-binding.js';
import { WRITTEN, writeOnHandle, type HandleWriter } from './handle-write.js';
import { nextReadBuffer, readChunk, sharedReadBuffer } from './shared-read.js';

/** The methods of Node's TCPWrap / PipeWrap used here. */
export interface RawHandle {
  onread: ((this: RawHandle, arrayBuffer: ArrayBuffer | undefined) => Buffer | undefined) | null;
  readStart(): number;
  readStop(): number;
  useUserBuffer(buffer: Uint8Array): void;
  writeBuffer(req: object, buffer: Uint8Array): number;
  shutdown(req: object): number;
  close(callback?: () => void): void;
  getpeername?(out: { address?: string; port?: number; family?: string }): number;
  setNoDelay?(on: boolean): number;
}

type Request = Record<string, unknown> & {
  oncomplete: ((this: Request, status: number) => void) | null;
  stream: RawStream | null;
};

/** `shutdown()`'s answer when it finished at once (no callback follows). */
const SHUTDOWN_DONE = 1;

const streamOf = Symbol('rawStream');

/**
 * Take over the accepting of a listening `net.Server`: each accepted handle goes to
 * `take`, which serves it (true) or leaves it to Node, which makes the `net.Socket`
 * and emits `connection` as before (false). False, and nothing changed, when this
 * Node's handles are not in the known shape.
 */
export function takeConnections(server: Server, take: (handle: RawHandle) => boolean): boolean {
  const listening = (server as unknown as { _handle?: Record<string, unknown> | null })._handle;
  const original = listening?.onconnection;
  if (!listening || typeof original !== 'function' || !rawBinding()) return false;
  listening.onconnection = function onconnection(err: number, handle?: RawHandle): void {
    if (err === 0 && handle && isRawHandle(handle) && take(handle)) return;
    original.call(this, err, handle);
  };
  return true;
}

function isRawHandle(handle: RawHandle): boolean {
  return (
    typeof handle.readStart === 'function' &&
    typeof handle.useUserBuffer === 'function' &&
    typeof handle.writeBuffer === 'function' &&
    typeof handle.shutdown === 'function'
  );
}

/** Whether this Node lets streams be served on their raw handles. */
export function rawStreams(): boolean {
  return rawBinding() !== null;
}

function onread(this: RawHandle): Buffer | undefined {
  const stream = (this as unknown as Record<symbol, RawStream>)[streamOf]!;
  return stream.read(rawBinding()!.readBytes());
}

function afterShutdown(this: Request, status: number): void {
  this.stream!.shutDown(status);
}

/**
 * One connection served on its raw handle. Reads go to {@link received}; at most one
 * write is in flight, and reading stops while it is (backpressure: a peer that does
 * not read holds one chunk, not more). Small reads land in a buffer all streams share
 * and are copied out; a stream that reads in bulk gets a 64 KiB buffer of its own,
 * whose chunks are handed out as they are (then valid until the next read).
 */
export abstract class RawStream implements HandleWriter {
  /** The handle; null once closed. */
  protected handle: RawHandle | null;
  /** Bytes read and written. */
  bytesIn = 0;
  bytesOut = 0;
  /** Where the next read goes (net/shared-read.ts: shared, or its own while reading in bulk). */
  #into: Buffer | undefined;
  #writing = false;
  #shutdown = false;

  /** Wrap `handle` (not reading yet); call {@link start}. */
  constructor(handle: RawHandle) {
    this.handle = handle;
    (handle as unknown as Record<symbol, RawStream>)[streamOf] = this;
  }

  /** Start reading. False (and the handle closed) when it cannot. */
  start(): boolean {
    const handle = this.handle!;
    handle.onread = onread;
    handle.useUserBuffer((this.#into = sharedReadBuffer()));
    if (handle.readStart() === 0) return true;
    this.close();
    return false;
  }

  /** Whether a write waits for the peer. */
  get writing(): boolean {
    return this.#writing;
  }

  /**
   * Write `chunk`: true when the kernel took it all at once; false when it waits for
   * the peer, with reading stopped until {@link drained} (the chunk must stay as it is).
   */
  protected write(chunk: Buffer): boolean {
    const handle = this.handle;
    if (!handle) return true;
    const status = writeOnHandle(handle, chunk, this, null);
    if (status < 0) {
      this.failed(status);
      return true;
    }
    this.bytesOut += chunk.length;
    if (status === WRITTEN) return true;
    this.#writing = true;
    handle.readStop();
    return false;
  }

  /** Half-close (FIN) once the write in flight is done. */
  protected end(): void {
    if (this.#shutdown || !this.handle) return;
    this.#shutdown = true;
    if (!this.#writing) this.#sendFin();
  }

  /** Close the connection at once. Idempotent. */
  close(): void {
    const handle = this.handle;
    if (!handle) return;
    this.handle = null;
    this.#into = undefined;
    handle.readStop();
    handle.close(() => this.closed());
  }

  /** Called by the handle's onread. Do not call. */
  read(nread: number): Buffer | undefined {
    if (nread > 0) return this.#chunk(nread);
    if (nread === rawBinding()!.EOF) this.ended();
    else if (nread < 0) this.failed(nread);
    return undefined;
  }

  #chunk(nread: number): Buffer | undefined {
    this.bytesIn += nread;
    const into = this.#into!;
    this.received(readChunk(into, nread));
    // reading stops while a write is in flight: nothing holds the buffer at the next read
    const next = nextReadBuffer(into, nread, false);
    if (next === into || !this.handle) return undefined;
    return (this.#into = next);
  }

  /** Called when a write completes. Do not call. */
  written(status: number): void {
    this.#writing = false;
    if (!this.handle) return;
    if (status < 0) {
      this.failed(status);
      return;
    }
    if (this.#shutdown) this.#sendFin();
    else {
      this.handle.readStart();
      this.drained();
    }
  }

  #sendFin(): void {
    const req = new (rawBinding()!.ShutdownWrap)() as unknown as Request;
    req.oncomplete = afterShutdown;
    req.stream = this;
    const err = this.handle!.shutdown(req);
    if (err === SHUTDOWN_DONE) this.shutDown(0);
    else if (err !== 0) this.failed(err);
  }

  /** Called when the FIN is sent. Do not call. */
  shutDown(status: number): void {
    if (status < 0) this.failed(status);
    else this.finished();
  }

  /** A chunk the peer sent (see the class comment on how long it stays valid). Must be overridden. */
  protected abstract received(chunk: Buffer): void;

  /** The peer half-closed. Must be overridden. */
  protected abstract ended(): void;

  /** The write in flight is done and reading goes on. May be overridden. */
  protected drained(): void {}

  /** Our FIN is sent. May be overridden (closes by default). */
  protected finished(): void {
    this.close();
  }

  /** A read, write or shutdown failed (a negative libuv status). May be overridden (closes). */
  protected failed(_status: number): void {
    this.close();
  }

  /** The handle is closed. May be overridden. */
  protected closed(): void {}
}

/**
 * Echo every byte back on a raw handle, until the peer half-closes; then half-close
 * once every echoed byte is written, and close.
 */
export class RawEcho extends RawStream {
  readonly #done: (stream: RawEcho) => void;

  /** `done` is called once the connection is closed. */
  constructor(handle: RawHandle, done: (stream: RawEcho) => void) {
    super(handle);
    this.#done = done;
  }

  protected received(chunk: Buffer): void {
    this.write(chunk);
  }

  protected ended(): void {
    this.end();
  }

  protected override closed(): void {
    this.#done(this);
  }
}
