/**
 * A worker thread writes its connection's bytes to the socket itself, as a thread of
 * Python's ThreadingMixIn does, instead of sending them to the thread that holds the
 * socket: one message and one wake-up of that thread fewer per reply. Reads stay with
 * the owner (only it polls the socket).
 *
 * The file descriptor is shared by number, so the danger is a number reused: once the
 * owner closes the socket, the same number may name the next connection accepted. A
 * gate stands between them: a word of a SharedArrayBuffer per connection that the
 * worker takes (open → writing) around each write and the owner shuts (open → shut)
 * before the descriptor is closed, waiting out a write under way. The word carries a
 * generation, so that a slot given to a new connection never opens for an old one.
 *
 * A direct write takes what the kernel takes at once; the rest goes the owner's way,
 * and the worker writes directly again only once the owner has written all of it
 * (order kept, backpressure as before).
 */
import { writeSync } from 'node:fs';
import type { StreamHandle } from './raw-binding.js';

/** The slots of one worker's table: connections beyond them are written by the owner. */
export const GATE_SLOTS = 4096;
/** A slot's state, in the low two bits of its word (the generation is above them). */
const SHUT = 0;
const OPEN = 1;
const WRITING = 2;
const GENERATIONS = 1 << 28;
/** The word of a gate whose word is `open` while a write is under way. */
const writing = (open: number): number => open - OPEN + WRITING;
/** How long the owner waits for a write under way before it counts its writer as gone. */
const STUCK_MS = 1000;

/** What a worker needs to write a connection's bytes directly. */
export interface GateGrant {
  /** The slot in the worker's table (see {@link GateTable.buffer}). */
  readonly slot: number;
  /** The slot's word while the gate is open. */
  readonly open: number;
  /** The socket's file descriptor. */
  readonly fd: number;
}

/** The owner's table of gates for one worker thread (its buffer goes to the worker). */
export class GateTable {
  /** Shared with the worker, which writes through it ({@link DirectWriter}). */
  readonly buffer = new SharedArrayBuffer(GATE_SLOTS * 4);
  readonly #words = new Int32Array(this.buffer);
  readonly #free: number[] = [];
  #used = 0;

  /**
   * Open a gate for the socket whose handle is `handle`: its `close()` and `reset()`
   * shut the gate first. Undefined when the handle has no descriptor or no slot is free.
   */
  open(handle: StreamHandle): Gate | undefined {
    const fd = (handle as { fd?: number }).fd;
    if (typeof fd !== 'number' || fd < 0) return undefined;
    const slot = this.#free.pop() ?? (this.#used < GATE_SLOTS ? this.#used++ : -1);
    if (slot < 0) return undefined;
    const generation = ((this.#words[slot]! >> 2) + 1) % GENERATIONS;
    const open = (generation << 2) | OPEN;
    Atomics.store(this.#words, slot, open);
    const gate = new Gate(this, { slot, open, fd });
    const { close, reset } = handle;
    handle.close = (cb) => {
      gate.shut();
      close.call(handle, cb);
    };
    if (reset) {
      handle.reset = (cb) => {
        gate.shut();
        return reset.call(handle, cb);
      };
    }
    return gate;
  }

  /** Shut `grant`'s gate, once no write is under way, and free its slot. Do not call. */
  shut(grant: GateGrant): void {
    const words = this.#words;
    const { slot, open } = grant;
    const taken = writing(open);
    // A write takes microseconds (the socket does not block): wait it out. Only a
    // worker terminated in the middle of one leaves the gate taken: after a second,
    // give up on it and leave its slot unused.
    for (
      let ms = 0;
      Atomics.compareExchange(words, slot, open, open - OPEN + SHUT) === taken;
      ms++
    ) {
      if (ms === STUCK_MS) return;
      Atomics.wait(words, slot, taken, 1);
    }
    this.#free.push(slot);
  }
}

/** One connection's gate, on the owner's side. */
export class Gate {
  readonly #table: GateTable;
  /** What the worker is told. */
  readonly grant: GateGrant;
  #shut = false;

  constructor(table: GateTable, grant: GateGrant) {
    this.#table = table;
    this.grant = grant;
  }

  /** Shut the gate: no direct write starts after this returns. Idempotent. */
  shut(): void {
    if (this.#shut) return;
    this.#shut = true;
    this.#table.shut(this.grant);
  }
}

/** The worker's side of a gate: writes to the descriptor while the gate is open. */
export class DirectWriter {
  readonly #words: Int32Array;
  readonly #slot: number;
  readonly #open: number;
  readonly #fd: number;

  constructor(table: SharedArrayBuffer, grant: GateGrant) {
    this.#words = new Int32Array(table);
    this.#slot = grant.slot;
    this.#open = grant.open;
    this.#fd = grant.fd;
  }

  /**
   * Write what the kernel takes of `bytes` now: the count written (0 when it takes
   * nothing, or on an error, which the owner's write will meet and report), or -1
   * once the gate is shut (the owner is closing the socket: write nothing more here).
   */
  write(bytes: Uint8Array): number {
    const words = this.#words;
    const open = this.#open;
    if (Atomics.compareExchange(words, this.#slot, open, writing(open)) !== open) return -1;
    try {
      // the descriptor is non-blocking (libuv made it so): this never waits
      return writeSync(this.#fd, bytes);
    } catch {
      return 0; // EAGAIN, or a failure for the owner's write to report
    } finally {
      Atomics.store(words, this.#slot, open);
    }
  }
}
