import { finished } from 'node:stream/promises';
import { DatagramRequestHandler, StreamRequestHandler } from '../engine/request-handler.js';

/** Echo every byte back, unchanged, until the peer half-closes. */
export class EchoHandler extends StreamRequestHandler {
  override async handle(): Promise<void> {
    const conn = this.connection;
    // pipe() keeps backpressure and ends our side when the peer ends its side.
    conn.pipe(conn);
    await finished(conn);
  }
}

/** Echo each datagram back to its sender. */
export class EchoDatagramHandler extends DatagramRequestHandler {
  override finish(): Promise<void> {
    return this.request.reply(this.packet);
  }
}
