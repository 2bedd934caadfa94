import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Buffer } from 'node:buffer';
import { DatagramRequestHandler, StreamRequestHandler } from '../engine/request-handler.js';

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

/** Reply with ASCII letters upper-cased (MyTCPHandler in Python socketserver's examples). */
export class UpperCaseHandler extends StreamRequestHandler {
  override async handle(): Promise<void> {
    await pipeline(this.rfile, new CaseTransform(UPPER), this.wfile);
  }
}

/**
 * Reply to each datagram with its ASCII letters upper-cased (MyUDPHandler in Python
 * socketserver's examples).
 */
export class UpperCaseDatagramHandler extends DatagramRequestHandler {
  override finish(): Promise<void> {
    return this.request.reply(mapBytes(this.packet, UPPER));
  }
}

/** Reply with ASCII letters lower-cased. */
export class LowerCaseHandler extends StreamRequestHandler {
  override async handle(): Promise<void> {
    await pipeline(this.rfile, new CaseTransform(LOWER), this.wfile);
  }
}

/** Reply to each datagram with its ASCII letters lower-cased. */
export class LowerCaseDatagramHandler extends DatagramRequestHandler {
  override finish(): Promise<void> {
    return this.request.reply(mapBytes(this.packet, LOWER));
  }
}
