/**
 * What a worker thread writes to a bridged connection is copied into slabs
 * that travel to the owner (transferred, not copied) and come back with the
 * acknowledgement once the socket has written them: a connection reuses the same
 * few slabs for all it sends, and writes made in one go share a message. No
 * allocation per write, no garbage per chunk.
 */

/** The slab size of a connection that has sent little, and of a busy one. */
export const SMALL_SLAB = 8 * 1024;
export const LARGE_SLAB = 64 * 1024;

/** Packs writes into slabs and posts each one when it is full or the writer pauses. */
export class SlabWriter {
  readonly #post: (slab: ArrayBuffer, length: number) => void;
  readonly #free: ArrayBuffer[] = [];
  #slab: ArrayBuffer | undefined;
  #used = 0;
  #scheduled = false;
  /** The size of new slabs: small until the connection is busy (see {@link grow}). */
  #size = SMALL_SLAB;

  /** `post(slab, length)` sends a slab holding `length` bytes (it is then detached). */
  constructor(post: (slab: ArrayBuffer, length: number) => void) {
    this.#post = post;
  }

  /** Copy `chunk` in; full slabs go at once, the last one after this run of writes. */
  write(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length) {
      const slab = (this.#slab ??= this.#free.pop() ?? new ArrayBuffer(this.#size));
      const n = Math.min(slab.byteLength - this.#used, chunk.length - at);
      new Uint8Array(slab, this.#used, n).set(chunk.subarray(at, at + n));
      this.#used += n;
      at += n;
      if (this.#used === slab.byteLength) this.flush();
    }
    if (this.#slab && !this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#tick);
    }
  }

  /** Post the slab being filled, if it holds anything. */
  flush(): void {
    const slab = this.#slab;
    if (!slab || this.#used === 0) return;
    const length = this.#used;
    this.#slab = undefined;
    this.#used = 0;
    this.#post(slab, length);
  }

  readonly #tick = (): void => {
    this.#scheduled = false;
    this.flush();
  };

  /** Slabs the owner has written and sent back: ready for reuse. */
  reclaim(slabs: readonly ArrayBuffer[]): void {
    for (const slab of slabs) if (slab.byteLength === this.#size) this.#free.push(slab);
  }

  /** The connection is busy: use large slabs from now on. */
  grow(): void {
    this.#size = LARGE_SLAB;
  }
}
