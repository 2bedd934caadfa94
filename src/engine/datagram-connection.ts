/**
 * The datagram connection: what a datagram server hands to every handler class as
 * `request`, one per datagram, as Python's `DatagramRequestHandler` sees it. Both
 * streams are made on first use only: a handler that answers with `reply()` or
 * `appendReply()` costs no stream at all.
 */
import { Readable, Writable } from 'node:stream';
import { Buffer } from 'node:buffer';
import type { SocketAddress } from '../net/address.js';

const EMPTY = Buffer.alloc(0);

/**
 * One datagram as a connection of its own: `rfile` yields the datagram once and
 * ends; what is written to `wfile` is collected and goes back to the sender as one
 * datagram after the handler. Each transport subclasses it with how `reply()` sends.
 */
export abstract class DatagramConnection {
  /** Bytes sent back so far. */
  bytesOut = 0;
  /** What was written for the reply: one chunk, or several in order. */
  #reply: Uint8Array | Uint8Array[] | undefined;
  #rfile: Readable | undefined;
  #wfile: Writable | undefined;
  #onAbort: (() => void) | undefined;

  constructor(
    /** The bytes of the datagram, exactly as received. */
    readonly data: Buffer,
    /** Where it came from. */
    readonly clientAddress: SocketAddress,
  ) {}

  /** Send one datagram back to the sender now. Must be overridden by each transport. */
  abstract reply(data: Uint8Array): Promise<void>;

  /**
   * Call `fn` when the server gives up on the request before its handler is done
   * (a worker closing after its grace), to end what it waits on. Do not override.
   */
  onAbort(fn: () => void): void {
    this.#onAbort = fn;
  }

  /** The server gives up on the request: tell the handler (once). Do not override. */
  abort(): void {
    const fn = this.#onAbort;
    this.#onAbort = undefined;
    fn?.();
  }

  /** A readable stream that yields the datagram once, then ends. */
  get rfile(): Readable {
    return (this.#rfile ??= Readable.from(this.data.length > 0 ? [this.data] : [], {
      objectMode: false,
    }));
  }

  /** A writable stream whose bytes make up the reply, sent as one datagram after the handler. */
  get wfile(): Writable {
    return (this.#wfile ??= new Writable({
      decodeStrings: true,
      write: (chunk: Buffer, _enc, cb) => {
        this.#append(chunk);
        cb();
      },
      writev: (chunks, cb) => {
        for (const { chunk } of chunks) this.#append(chunk as Buffer);
        cb();
      },
    }));
  }

  /**
   * Add bytes to the reply as a write to `wfile` would, without a stream (the
   * built-in handlers' direct path). Even an empty write makes a reply.
   */
  appendReply(data: Uint8Array | string): void {
    this.#append(typeof data === 'string' ? Buffer.from(data) : data);
  }

  #append(chunk: Uint8Array): void {
    const reply = this.#reply;
    if (reply === undefined) this.#reply = chunk;
    else if (Array.isArray(reply)) reply.push(chunk);
    else this.#reply = [reply, chunk];
  }

  /** Has something been written for the reply that was not sent yet? */
  get replyPending(): boolean {
    return this.#reply !== undefined;
  }

  /**
   * Send what was written as one datagram and start a new reply; nothing written,
   * nothing sent, unless `evenEmpty` (Python's `DatagramRequestHandler` always replies).
   */
  flushReply(evenEmpty = false): void | Promise<void> {
    const reply = this.#reply;
    this.#reply = undefined;
    if (reply === undefined) return evenEmpty ? this.sendReply(EMPTY) : undefined;
    return this.sendReply(Array.isArray(reply) ? Buffer.concat(reply) : reply);
  }

  /** How {@link flushReply} sends: {@link reply}, or a send that needs no promise. May be overridden. */
  protected sendReply(data: Uint8Array): void | Promise<void> {
    return this.reply(data);
  }
}
