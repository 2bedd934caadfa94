/**
 * Where a traffic tap writes: a writable (a file, stderr) fed in batches. Records
 * are copied into a batch buffer as they happen (a socket's read buffer may be
 * handed to a worker thread right after, so the tap never keeps a reference to
 * it); a full batch is written at once, a partial one at the end of the turn of
 * the event loop, and the rest of the buffer serves the next records (one buffer
 * is allocated per batch, not per record or per turn). Whether the sink is behind is the writable's own verdict
 * (`writableNeedDrain`): then the tap holds its sources until `drain`.
 */
import { Buffer } from 'node:buffer';
import type { Writable } from 'node:stream';

/** Bytes a batch holds before it is written. */
export const BATCH_BYTES = 256 * 1024;

/** A writable fed in batches; see the module comment. */
export class TapSink {
  readonly #out: Writable;
  readonly #onDrain: () => void;
  #batch: Buffer = Buffer.allocUnsafe(BATCH_BYTES);
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
   * Room for `size` bytes: the buffer and the position to write at. Call
   * {@link commit} with the end once written.
   */
  reserve(size: number): { buffer: Buffer; pos: number } {
    if (this.#pos + size > this.#batch.length) {
      this.#flush();
      this.#batch = Buffer.allocUnsafe(Math.max(size, BATCH_BYTES));
      this.#start = 0;
      this.#pos = 0;
    }
    return { buffer: this.#batch, pos: this.#pos };
  }

  /** The bytes up to `end` of the reserved room are written. */
  commit(end: number): void {
    this.#pos = end;
    if (this.#pos - this.#start >= BATCH_BYTES / 2) this.#flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flushLater);
    }
  }

  /** Copy `data` in. */
  append(data: Uint8Array): void {
    const { buffer, pos } = this.reserve(data.length);
    buffer.set(data, pos);
    this.commit(pos + data.length);
  }

  /** Write what the batch holds now. */
  flush(): void {
    this.#flush();
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
      else if (out.writableNeedDrain) out.once('drain', done);
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
    const chunk = this.#batch.subarray(this.#start, this.#pos);
    this.#start = this.#pos;
    if (this.#error) return;
    if (this.#out.write(chunk)) this.#onDrain();
  }

  readonly #onError = (err: Error): void => {
    this.#error ??= err;
    this.#onDrain(); // nothing more will be written: let the sources go
  };
}
