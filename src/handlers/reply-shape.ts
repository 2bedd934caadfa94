/**
 * How the reply handlers (echo, upper-case, lower, threaded-echo) can answer the
 * way Python socketserver's examples do: one request and close
 * (`self.request.recv(1024)` in MyTCPHandler, `self.rfile.readline()` in its
 * StreamRequestHandler variant), with surrounding whitespace stripped as
 * `bytes.strip()` does. Plain server options, so worker threads and processes get
 * them too.
 */
import { Buffer } from 'node:buffer';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DatagramConnection, type StreamRequestHandler } from '../engine/request-handler.js';

/** The server options the reply handlers read (plain data: workers get them too). */
export interface ReplyOptions {
  /**
   * Answer one request, then close: the first read (at most 1024 bytes, as
   * `recv(1024)`) or the first line (up to and with its newline, as
   * `rfile.readline()`). A datagram is one read; `'line'` keeps its first line.
   */
  readonly replyOnce?: 'read' | 'line';
  /** Strip surrounding ASCII whitespace (space, \t, \n, \v, \f, \r), as `bytes.strip()`. */
  readonly strip?: boolean;
}

/** The most `replyOnce: 'read'` takes, as Python's `recv(1024)`. */
export const FIRST_READ_MAX = 1024;
/** The most `replyOnce: 'line'` waits for: a longer line is answered as far as it got. */
export const FIRST_LINE_MAX = 64 * 1024;

const NEWLINE = 0x0a;

/** Is `byte` ASCII whitespace as Python's `bytes.isspace()` sees it? */
function isSpace(byte: number): boolean {
  return byte === 0x20 || (byte >= 0x09 && byte <= 0x0d);
}

/** `data` without surrounding ASCII whitespace (a view, no copy), as `bytes.strip()`. */
export function stripBytes(data: Buffer): Buffer {
  let start = 0;
  let end = data.length;
  while (start < end && isSpace(data[start]!)) start++;
  while (end > start && isSpace(data[end - 1]!)) end--;
  return start === 0 && end === data.length ? data : data.subarray(start, end);
}

/** The reply options of a server, or undefined when it has none (the usual case). */
export function replyOptions(server: { readonly options: object }): ReplyOptions | undefined {
  const opts = server.options as ReplyOptions;
  return opts.replyOnce !== undefined || opts.strip === true ? opts : undefined;
}

/** A datagram as the options shape it: its first line with `'line'`, stripped with `strip`. */
export function shapeDatagram(data: Buffer, opts: ReplyOptions): Buffer {
  let out = data;
  if (opts.replyOnce === 'line') {
    const nl = out.indexOf(NEWLINE);
    if (nl >= 0) out = out.subarray(0, nl + 1);
  }
  return opts.strip ? stripBytes(out) : out;
}

/** The first read of `rfile`, at most {@link FIRST_READ_MAX} bytes (empty at EOF). */
async function firstRead(rfile: Readable): Promise<Buffer> {
  for await (const chunk of rfile) return (chunk as Buffer).subarray(0, FIRST_READ_MAX);
  return Buffer.alloc(0);
}

/** The first line of `rfile` with its newline, or what came before EOF or the size cap. */
async function firstLine(rfile: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of rfile) {
    const data = chunk as Buffer;
    const nl = data.indexOf(NEWLINE);
    const end = Math.min(nl < 0 ? data.length : nl + 1, FIRST_LINE_MAX - size);
    parts.push(data.subarray(0, end));
    size += end;
    if (nl >= 0 || size >= FIRST_LINE_MAX) break;
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
}

/**
 * Read the one request `opts.replyOnce` asks for from `rfile`, stripped when asked.
 * What the peer sends after it is left unread (the server discards it on close).
 */
export async function readRequest(rfile: Readable, opts: ReplyOptions): Promise<Buffer> {
  const data = await (opts.replyOnce === 'line' ? firstLine(rfile) : firstRead(rfile));
  return opts.strip ? stripBytes(data) : data;
}

/** Trailing whitespace held back at most, in case something else follows it. */
export const MAX_HELD_SPACE = 1024 * 1024;

/**
 * A whole stream with its leading and trailing whitespace stripped, each chunk
 * passed through `map` on the way: whitespace is held back until something else
 * follows it (up to {@link MAX_HELD_SPACE}), and dropped at the end.
 */
export class StripTransform extends Transform {
  #started = false;
  readonly #held: Buffer[] = [];
  #heldBytes = 0;
  readonly #map: (chunk: Buffer) => Buffer;

  constructor(map: (chunk: Buffer) => Buffer = (chunk) => chunk) {
    super();
    this.#map = map;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    let start = 0;
    let end = chunk.length;
    if (!this.#started) {
      while (start < end && isSpace(chunk[start]!)) start++;
      if (start === end) return cb(); // leading whitespace: dropped
      this.#started = true;
    }
    while (end > start && isSpace(chunk[end - 1]!)) end--;
    if (end > start) {
      this.#release();
      this.push(this.#map(chunk.subarray(start, end)));
    }
    if (end < chunk.length) {
      this.#held.push(chunk.subarray(end));
      this.#heldBytes += chunk.length - end;
      // Memory stays bounded whatever a peer sends: a run of whitespace this long is
      // passed on as it came (only the stream's last MAX_HELD_SPACE bytes are stripped).
      if (this.#heldBytes > MAX_HELD_SPACE) this.#release();
    }
    cb();
  }

  #release(): void {
    for (const held of this.#held) this.push(this.#map(held));
    this.#held.length = 0;
    this.#heldBytes = 0;
  }

  override _flush(cb: TransformCallback): void {
    this.#held.length = 0; // trailing whitespace: dropped
    cb();
  }
}

/**
 * Answer `handler`'s request as `opts` shape it, the reply passed through `map`: a
 * datagram whole, one read or line of a stream (the server closes the connection
 * when the handler returns), or a whole stream stripped, each chunk passed through
 * `streamMap` (`map` unless given).
 */
export function answerShaped(
  handler: StreamRequestHandler,
  opts: ReplyOptions,
  map: (data: Buffer) => Buffer,
  streamMap = map,
): void | Promise<void> {
  const conn = handler.connection;
  if (conn instanceof DatagramConnection) {
    conn.appendReply(map(shapeDatagram(conn.data, opts)));
    return;
  }
  if (opts.replyOnce !== undefined) {
    return readRequest(handler.rfile, opts).then((data) => handler.write(map(data)));
  }
  return pipeline(handler.rfile, new StripTransform(streamMap), handler.wfile);
}
