import type { Buffer } from 'node:buffer';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { readChunks } from '../net/shared-read.js';
import { RawEcho, type RawHandle, type RawStream } from '../net/raw-stream.js';
import type { RawServe } from '../engine/raw-connections.js';
import { DatagramConnection, StreamRequestHandler } from '../engine/request-handler.js';
import { answerShaped, replyOptions } from './reply-shape.js';

const same = (data: Buffer): Buffer => data;

// The stream echo's listeners, shared by every connection (an emitter calls them with
// itself as `this`): no closure per connection, unlike pipe(), which makes about ten.
function echoChunk(this: Duplex, chunk: Buffer): void {
  // backpressure: stop reading until the peer has taken what is queued
  if (!this.write(chunk) && !this.isPaused()) this.pause().once('drain', readOn);
}
// A socket read with net/shared-read.ts: the chunk's memory is kept while its write waits.
function echoRead(this: Socket, chunk: Buffer): boolean {
  // backpressure: pause() stops the reads until the peer has taken what is queued
  if (!this.write(chunk)) this.pause().once('drain', readOn);
  return this.writableLength > 0;
}
function readOn(this: Duplex): void {
  this.resume();
}
function endToo(this: Duplex): void {
  this.end(); // the peer half-closed: so do we, once every echoed byte is flushed
}
function rawEcho(handle: RawHandle, done: (stream: RawStream) => void): RawStream {
  return new RawEcho(handle, done);
}

/**
 * Echo every byte back, unchanged: until the peer half-closes on a stream, each
 * datagram whole. The server options `replyOnce` and `strip` (see `ReplyOptions`)
 * make it answer one read or line and close, stripped, as Python's examples do.
 */
export class EchoHandler extends StreamRequestHandler {
  /**
   * A stream server may serve a whole connection on its raw handle instead (the same
   * bytes, less set-up), unless the replies are shaped. Do not override.
   */
  static rawServe(server: { readonly options: object }): RawServe | undefined {
    return replyOptions(server) ? undefined : rawEcho;
  }

  /**
   * A UDP server may answer each datagram with itself at once, with no request (the
   * same reply), unless the replies are shaped. Do not override.
   */
  static datagramReply(server: {
    readonly options: object;
  }): ((data: Buffer) => Buffer) | undefined {
    return replyOptions(server) ? undefined : same;
  }

  override handle(): void | Promise<void> {
    const shape = replyOptions(this.server);
    if (shape) return answerShaped(this, shape, same);
    const conn = this.connection;
    if (conn instanceof DatagramConnection) {
      conn.appendReply(conn.data); // the datagram itself is the reply, even an empty one
      return;
    }
    // Ends our side when the peer ends its side; the connection closes once both sides
    // are done (or on a reset).
    if (conn.closed) return Promise.resolve();
    conn.on('end', endToo);
    if (!readChunks(conn, echoRead)) conn.on('data', echoChunk);
    return new Promise((resolve) => conn.on('close', resolve));
  }
}
