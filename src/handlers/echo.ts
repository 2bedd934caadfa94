import { DatagramRequestHandler, StreamRequestHandler } from '../engine/request-handler.js';

/** Echo every byte back, unchanged, until the peer half-closes. */
export class EchoHandler extends StreamRequestHandler {
  override handle(): Promise<void> {
    const conn = this.connection;
    // pipe() keeps backpressure and ends our side when the peer ends its side; the
    // connection closes once both sides are done (or on a reset). A plain 'close'
    // listener is much cheaper per connection than stream.finished().
    if (conn.closed) return Promise.resolve();
    conn.pipe(conn);
    return new Promise((resolve) => conn.once('close', () => resolve()));
  }
}

/** Echo each datagram back to its sender. */
export class EchoDatagramHandler extends DatagramRequestHandler {
  override finish(): Promise<void> {
    return this.request.reply(this.packet);
  }
}
