import { Buffer } from 'node:buffer';
import {
  DatagramConnection,
  StreamRequestHandler,
  type StreamRequest,
} from '../engine/request-handler.js';
import { drainedOrClosed } from '../net/stream-end.js';

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

/**
 * RFC 864 character generator: on a stream, lines flow for as long as the client
 * reads (backpressure bounds it); each datagram gets one line of 72 characters back,
 * the next line of the pattern each time.
 */
export class ChargenHandler extends StreamRequestHandler {
  static #line = 0;

  override handle(): void | Promise<void> {
    const conn = this.connection;
    if (conn instanceof DatagramConnection) {
      conn.appendReply(chargenLine(ChargenHandler.#line));
      ChargenHandler.#line = (ChargenHandler.#line + 1) % 95;
      return;
    }
    return generate(conn);
  }
}

/** Write the pattern while the peer reads; return when it goes. */
async function generate(conn: StreamRequest): Promise<void> {
  conn.resume(); // input is discarded; its end does not stop the generator
  while (!conn.destroyed && conn.writable) {
    if (!conn.write(CYCLE)) await drainedOrClosed(conn);
  }
}
