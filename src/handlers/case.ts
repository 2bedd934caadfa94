import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Buffer } from 'node:buffer';
import { DatagramConnection, StreamRequestHandler } from '../engine/request-handler.js';
import { answerShaped, replyOptions } from './reply-shape.js';

const UPPER = new Uint8Array(256).map((_, i) => (i >= 0x61 && i <= 0x7a ? i - 32 : i));
const LOWER = new Uint8Array(256).map((_, i) => (i >= 0x41 && i <= 0x5a ? i + 32 : i));

/**
 * Map ASCII letters in place through a 256-entry table. Bytes >= 0x80 are never
 * touched, so UTF-8 sequences split across reads come through intact.
 */
export function mapBytes(data: Buffer, table: Uint8Array): Buffer {
  for (let i = 0; i < data.length; i++) data[i] = table[data[i]!]!;
  return data;
}

class CaseTransform extends Transform {
  constructor(readonly table: Uint8Array) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    cb(null, mapBytes(chunk, this.table));
  }
}

/**
 * Send back what `handler` reads, mapped through `table`: a stream as it flows, a
 * datagram whole; shaped by the server's reply options when it has them.
 */
function mapCase(handler: StreamRequestHandler, table: Uint8Array): void | Promise<void> {
  const shape = replyOptions(handler.server);
  if (shape) return answerShaped(handler, shape, (data) => mapBytes(data, table));
  const conn = handler.connection;
  if (conn instanceof DatagramConnection) {
    conn.appendReply(mapBytes(conn.data, table)); // an empty datagram gets an empty reply
    return;
  }
  return pipeline(handler.rfile, new CaseTransform(table), handler.wfile);
}

/**
 * Reply with ASCII letters upper-cased. With the server options `replyOnce` and
 * `strip` (see `ReplyOptions`) it is Python socketserver's MyTCPHandler and
 * MyUDPHandler, byte for byte.
 */
export class UpperCaseHandler extends StreamRequestHandler {
  override handle(): void | Promise<void> {
    return mapCase(this, UPPER);
  }
}

/** Reply with ASCII letters lower-cased. */
export class LowerCaseHandler extends StreamRequestHandler {
  override handle(): void | Promise<void> {
    return mapCase(this, LOWER);
  }
}
