/**
 * Where a traffic tap writes: a writable (a file, stderr) fed in batches. Records
 * are copied into a batch buffer as they happen (a socket's read buffer may be
 * handed to a worker thread right after, so the tap never keeps a reference to
 * it). What a batch holds is written when half of it is full and at the end of the
 * turn of the event loop; later records go after it in the same buffer. A batch
 * whose writes have all completed goes back to a small pool: a long transfer
 * reuses a few buffers instead of allocating (and page-faulting) new ones. Whether
 * the sink is behind is the writable's own verdict (`writableNeedDrain`): then the
 * tap holds its sources until `drain`.
 */
import { Buffer } from 'node:buffer';
import type { Writable } from 'node:stream';

/** Bytes a batch buffer holds. */
export const BATCH_BYTES = 256 * 1024;
/** Most bytes reserved at once (a larger record is taken in pieces). */
export const MAX_RESERVE = BATCH_BYTES / 2;
/** Batch buffers kept for reuse. */
const POOL_SIZE = 8;

/** A batch buffer and the writes of it not yet completed. */
interface Batch {
  readonly buffer: Buffer;
  pending: number;
  /** No more records go into it: it is free once `pending` is 0. */
  retired: boolean;
}

/** A writable fed in batches; see the module comment. */
export class TapSink {
  readonly #out: Writable;
  readonly #onDrain: () => void;
  readonly #pool: Buffer[] = [];
  /** Batches with writes in flight, oldest first (a writable completes in order). */
  readonly #inFlight: Batch[] = [];
  #batch: Batch = { buffer: Buffer.allocUnsafe(BATCH_BYTES), pending: 0, retired: false };
  /** Where the bytes not yet written start, and where the next record goes. */
  #start = 0;
  #pos = 0;
  #scheduled = false;
  #error: Error | undefined;

  /** `onDrain` is called whenever the writable has caught up. */
  constructor(out: Writable, onDrain: () => void) {
    this.#out = out;
    this.#onDrain = onDrain;
    out.on('drain', onDrain);
    out.on('error', this.#onError);
  }

  /** The writable is behind: sources should wait for `onDrain`. */
  get behind(): boolean {
    return this.#error === undefined && this.#out.writableNeedDrain;
  }

  /** Bytes waiting: in the writable's buffer and in the batch. */
  get backlog(): number {
    return this.#out.writableLength + this.#pos - this.#start;
  }

  /** The write error that stopped this sink, if one did. */
  get error(): Error | undefined {
    return this.#error;
  }

  /**
   * Room for `size` bytes (at most {@link MAX_RESERVE}): the buffer and the position
   * to write at. Call {@link commit} with the end once written.
   */
  reserve(size: number): { buffer: Buffer; pos: number } {
    if (size > MAX_RESERVE) throw new RangeError(`a tap record of ${size} bytes is too large`);
    if (this.#pos + size > this.#batch.buffer.length) this.#nextBatch();
    return { buffer: this.#batch.buffer, pos: this.#pos };
  }

  /** The bytes up to `end` of the reserved room are written. */
  commit(end: number): void {
    this.#pos = end;
    if (this.#pos - this.#start >= MAX_RESERVE) this.#flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flushLater);
    }
  }

  /** Copy `data` in (in pieces of at most {@link MAX_RESERVE}). */
  append(data: Uint8Array): void {
    for (let at = 0; at < data.length; at += MAX_RESERVE) {
      const piece = data.length <= MAX_RESERVE ? data : data.subarray(at, at + MAX_RESERVE);
      const { buffer, pos } = this.reserve(piece.length);
      buffer.set(piece, pos);
      this.commit(pos + piece.length);
    }
  }

  /**
   * Write what is left and, for a file (`end`), end it; resolves once everything
   * is handed to the system (or the writable failed).
   */
  close(end: boolean): Promise<void> {
    this.#flush();
    const out = this.#out;
    if (this.#error || out.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        out.off('error', done);
        resolve();
      };
      out.once('error', done);
      if (end) out.end(done);
      else out.write('', done);
    });
  }

  readonly #flushLater = (): void => {
    this.#scheduled = false;
    this.#flush();
  };

  #flush(): void {
    if (this.#pos === this.#start) return;
    // the writable keeps this slice; later records go after it, never over it
    const chunk = this.#batch.buffer.subarray(this.#start, this.#pos);
    this.#start = this.#pos;
    if (this.#error) return;
    const batch = this.#batch;
    if (batch.pending++ === 0) this.#inFlight.push(batch);
    if (this.#out.write(chunk, this.#written)) this.#onDrain();
  }

  /** The current batch is full: write it, retire it, take a free one. */
  #nextBatch(): void {
    this.#flush();
    const old = this.#batch;
    old.retired = true;
    if (old.pending === 0) this.#release(old.buffer);
    const buffer = this.#pool.pop() ?? Buffer.allocUnsafe(BATCH_BYTES);
    this.#batch = { buffer, pending: 0, retired: false };
    this.#start = 0;
    this.#pos = 0;
  }

  /** A write completed: the oldest batch in flight has one write less. */
  readonly #written = (): void => {
    const head = this.#inFlight[0];
    if (!head || --head.pending > 0) return;
    this.#inFlight.shift();
    if (head.retired) this.#release(head.buffer);
  };

  #release(buffer: Buffer): void {
    if (this.#pool.length < POOL_SIZE) this.#pool.push(buffer);
  }

  readonly #onError = (err: Error): void => {
    this.#error ??= err;
    this.#onDrain(); // nothing more will be written: let the sources go
  };
}
