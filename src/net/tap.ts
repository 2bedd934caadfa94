/**
 * The traffic tap behind `-x/--hex-dump` and `-o/--output`: it sits where bytes
 * cross the process boundary, once. A stream socket is tapped on the Duplex itself
 * (bytes received as they are pushed, bytes sent as they are written), a datagram
 * socket where it delivers and sends (datagram-socket.ts). The hex dump has one
 * line per 16 bytes: `<` for bytes from the peer, `>` for bytes to it, the running
 * offset of that direction, the hex and the printable ASCII; on servers each line
 * starts with the connection number (`[3] `), and a connection's lines follow a
 * header with the peer and the time. The output log holds the raw bytes of both
 * directions in the order they moved.
 *
 * Nothing is lost on streams: while a log is behind, the tap stops reading the
 * socket (it declines the next read) and holds each write's completion, so a
 * transfer runs at the log's pace, never faster than it can be written. Datagrams
 * cannot be held (UDP has no flow control): a datagram record that would take a
 * log's backlog beyond {@link MAX_DATAGRAM_BACKLOG} is dropped and counted.
 */
import { Buffer } from 'node:buffer';
import type { Duplex, Writable } from 'node:stream';
import { formatEndpoint, type SocketAddress } from './address.js';
import { rowsSize, writeRows } from './hex-rows.js';
import { TapSink } from './tap-sink.js';
import { safeValue } from './terminal.js';
import { TappedStream } from './tap-stream.js';

/** Bytes of a record formatted at once. */
const HEX_SLICE = 16 * 1024;

/** Bytes a log may hold back before datagram records are dropped (streams wait instead). */
export const MAX_DATAGRAM_BACKLOG = 16 * 1024 * 1024;

/** Where a tap writes. */
export interface TapOptions {
  /** The hex dump: a file, or stderr. */
  readonly hexDump?: Writable;
  /** The raw bytes of both directions. */
  readonly output?: Writable;
  /** Servers: every hex line starts with the connection number, `[3] `. */
  readonly numbered?: boolean;
  /** End these writables when the tap closes (files; not stderr). */
  readonly endOnClose?: readonly Writable[];
}

/** A direction: `<` from the peer, `>` to the peer. */
export type TapDirection = '<' | '>';

/** Something waiting for the logs to catch up. */
export interface TapWaiter {
  resume(): void;
}

const MARK_IN = Buffer.from('< ');
const MARK_OUT = Buffer.from('> ');

/**
 * A traffic tap for one command or one server; see the module comment. Create it
 * with the writables, {@link attach} stream sockets, hand it to datagram sockets,
 * and {@link close} it at the end (that writes what is left).
 */
export class Tap {
  readonly #hex: TapSink | undefined;
  readonly #raw: TapSink | undefined;
  readonly #numbered: boolean;
  readonly #ends: { readonly hex: boolean; readonly raw: boolean };
  readonly #waiting = new Set<TapWaiter>();
  #connections = 0;
  #dropped = 0;

  constructor(opts: TapOptions) {
    const onDrain = (): void => this.#wake();
    this.#hex = opts.hexDump && new TapSink(opts.hexDump, onDrain);
    this.#raw = opts.output && new TapSink(opts.output, onDrain);
    this.#numbered = opts.numbered === true;
    const ends = new Set(opts.endOnClose);
    this.#ends = {
      hex: opts.hexDump !== undefined && ends.has(opts.hexDump),
      raw: opts.output !== undefined && ends.has(opts.output),
    };
  }

  /** A log is behind: sources wait until it drains. */
  get behind(): boolean {
    return (this.#hex?.behind ?? false) || (this.#raw?.behind ?? false);
  }

  /** Datagram records dropped because a log was too far behind. */
  get dropped(): number {
    return this.#dropped;
  }

  /** The first write error of a log, if one failed. */
  get error(): Error | undefined {
    return this.#hex?.error ?? this.#raw?.error;
  }

  /** Call `waiter.resume()` once no log is behind. */
  wait(waiter: TapWaiter): void {
    this.#waiting.add(waiter);
  }

  /** Forget a waiter (its stream closed). */
  forget(waiter: TapWaiter): void {
    this.#waiting.delete(waiter);
  }

  /**
   * Tap a stream socket from now on: a header (the peer, the time), then every byte
   * it receives and sends. `transport` names it in the header (`tcp`, `unix`).
   */
  attach(stream: Duplex, peer: SocketAddress, transport: string): void {
    const conn = this.#numbered ? ++this.#connections : undefined;
    this.header(conn, `${transport} ${this.#peer(peer)}`);
    new TappedStream(this, stream, rowPrefix('<', conn), rowPrefix('>', conn)).install();
  }

  /** The number of the next datagram on a server (undefined on clients). */
  nextNumber(): number | undefined {
    return this.#numbered ? ++this.#connections : undefined;
  }

  /**
   * One datagram, as one record: a header with the direction, the peer, the size and
   * the time, then its rows (offsets from 0). Dropped and counted while a log holds
   * more than {@link MAX_DATAGRAM_BACKLOG}.
   */
  datagram(dir: TapDirection, data: Uint8Array, peer: SocketAddress, conn?: number): void {
    const backlog = Math.max(this.#hex?.backlog ?? 0, this.#raw?.backlog ?? 0);
    if (backlog > MAX_DATAGRAM_BACKLOG) {
      this.#dropped += 1;
      return;
    }
    const what = data.length === 1 ? 'byte' : 'bytes';
    const transport = peer.family === 'unix' ? 'unix-dgram' : 'udp';
    this.header(conn, `${dir} ${transport} ${this.#peer(peer)} ${data.length} ${what}`);
    if (data.length > 0) this.record(data, rowPrefix(dir, conn), 0);
  }

  /** A header line in the hex dump: `[3] # … at <time>`. Do not call from outside the tap. */
  header(conn: number | undefined, text: string): void {
    if (!this.#hex) return;
    const line = Buffer.from(`${prefixOf(conn)}# ${text} at ${new Date().toISOString()}\n`);
    this.#hex.append(line);
  }

  /**
   * Bytes that moved, at `offset` of their direction; each hex row starts with
   * `prefix` ({@link rowPrefix}). Do not call from outside the tap.
   */
  record(data: Uint8Array, prefix: Buffer, offset: number): void {
    this.#raw?.append(data);
    const hex = this.#hex;
    if (!hex) return;
    // in slices whose rows fit one reservation (1,024 rows of at most ~100 bytes)
    for (let at = 0; at < data.length; at += HEX_SLICE) {
      const slice = data.length <= HEX_SLICE ? data : data.subarray(at, at + HEX_SLICE);
      const { buffer, pos } = hex.reserve(rowsSize(slice.length, prefix.length));
      hex.commit(writeRows(buffer, pos, prefix, slice, offset + at));
    }
  }

  /** Write everything left and end the files; resolves once it is all handed over. */
  async close(): Promise<void> {
    await Promise.all([this.#hex?.close(this.#ends.hex), this.#raw?.close(this.#ends.raw)]);
    this.#wake(true);
  }

  #peer(peer: SocketAddress): string {
    return safeValue(formatEndpoint(peer));
  }

  #wake(all = false): void {
    if (this.#waiting.size === 0 || (!all && this.behind)) return;
    const waiting = [...this.#waiting];
    this.#waiting.clear();
    for (const w of waiting) w.resume();
  }
}

function prefixOf(conn: number | undefined): string {
  return conn === undefined ? '' : `[${conn}] `;
}

/** The start of every hex row of one direction of one connection: `[3] < `. */
export function rowPrefix(dir: TapDirection, conn: number | undefined): Buffer {
  const mark = dir === '<' ? MARK_IN : MARK_OUT;
  return conn === undefined ? mark : Buffer.from(`${prefixOf(conn)}${dir} `);
}
