import { Buffer } from 'node:buffer';
import { once } from 'node:events';
import { DatagramRequestHandler, StreamRequestHandler } from '../engine/request-handler.js';

const PRINTABLE = Buffer.from(
  Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join(''),
);
const LINE = 72;

/** The RFC 864 pattern: line `n` is 72 printable characters starting at offset n mod 95, then CRLF. */
export function chargenLine(n: number): Buffer {
  const line = Buffer.allocUnsafe(LINE + 2);
  for (let i = 0; i < LINE; i++) line[i] = PRINTABLE[(n + i) % 95]!;
  line[LINE] = 13;
  line[LINE + 1] = 10;
  return line;
}

/** One full cycle of 95 lines, sent over and over. */
const CYCLE = Buffer.concat(Array.from({ length: 95 }, (_, n) => chargenLine(n)));

/** RFC 864 character generator: stream lines for as long as the client reads (backpressure bounds it). */
export class ChargenHandler extends StreamRequestHandler {
  override async handle(): Promise<void> {
    const conn = this.connection;
    conn.resume(); // input is discarded; its end does not stop the generator
    const closed = once(conn, 'close').then(() => false);
    while (!conn.destroyed && conn.writable) {
      if (!conn.write(CYCLE)) {
        const more = await Promise.race([once(conn, 'drain').then(() => true), closed]);
        if (!more) return;
      }
    }
  }
}

/** RFC 864 for datagrams: each datagram gets one line of 72 characters back. */
export class ChargenDatagramHandler extends DatagramRequestHandler {
  static #n = 0;
  override finish(): Promise<void> {
    return this.request.reply(chargenLine(ChargenDatagramHandler.#n++ % 95));
  }
}
