import type { Buffer } from 'node:buffer';
import { DatagramConnection, StreamRequestHandler } from '../engine/request-handler.js';
import { answerShaped, replyOptions } from './reply-shape.js';

const same = (data: Buffer): Buffer => data;

/**
 * Echo every byte back, unchanged: until the peer half-closes on a stream, each
 * datagram whole. The server options `replyOnce` and `strip` (see `ReplyOptions`)
 * make it answer one read or line and close, stripped, as Python's examples do.
 */
export class EchoHandler extends StreamRequestHandler {
  override handle(): void | Promise<void> {
    const shape = replyOptions(this.server);
    if (shape) return answerShaped(this, shape, same);
    const conn = this.connection;
    if (conn instanceof DatagramConnection) {
      conn.appendReply(conn.data); // the datagram itself is the reply, even an empty one
      return;
    }
    // pipe() keeps backpressure and ends our side when the peer ends its side; the
    // connection closes once both sides are done (or on a reset). A plain 'close'
    // listener is much cheaper per connection than stream.finished().
    if (conn.closed) return Promise.resolve();
    conn.pipe(conn);
    return new Promise((resolve) => conn.once('close', () => resolve()));
  }
}
