/**
 * Writing to a plain socket on its handle (net/raw-binding.ts), under its `net.Socket`:
 * no Writable queue, callback or after-write tick per chunk. Each write goes to libuv
 * at once; what the kernel cannot take now libuv queues, and writes complete in the
 * order they were made. The caller bounds what is in flight (a window). The socket's
 * `end()` still sends its FIN after them (libuv's shutdown waits for the writes queued
 * before it), and its `bytesWritten` counts them (Node reads it from the handle).
 */
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { rawBinding, type HandleReq, type StreamHandle } from './raw-binding.js';

/** Who hears of a write that did not complete at once. */
export interface HandleWriter {
  /** The write of `n` bytes (from `slab`, if given) completed with `status` (0, or a negative errno). */
  written(status: number, n: number, slab: ArrayBuffer | null): void;
}

/** A write in flight: whom to tell, and what it keeps alive. */
interface WriteReq extends HandleReq {
  writer: HandleWriter | null;
  buffer: Uint8Array | null;
  slab: ArrayBuffer | null;
  n: number;
}

/** Write {@link writeOnHandle}'s answer: the kernel took it all at once. */
export const WRITTEN = 0;
/** Write {@link writeOnHandle}'s answer: in flight, `written()` follows. */
export const IN_FLIGHT = 1;

/** A write request not yet used: a write that completes at once leaves it untouched. */
let spare: WriteReq | undefined;

function afterWrite(this: WriteReq, status: number): void {
  const { writer, n, slab } = this;
  this.writer = null;
  this.buffer = null;
  this.slab = null;
  writer!.written(status, n, slab);
}

/**
 * The handle of `stream` when its bytes may be written on it: a plain (not TLS)
 * `net.Socket` with a handle of the known shape, whose `_write` is its own (a traffic
 * tap replaces it, and must see every byte). Undefined otherwise: write on the stream.
 */
export function writableHandle(stream: Duplex): StreamHandle | undefined {
  if (!(stream instanceof Socket) || (stream as { encrypted?: boolean }).encrypted) return;
  if (Object.hasOwn(stream, '_write') || Object.hasOwn(stream, '_writev') || !rawBinding()) return;
  const handle = (stream as unknown as { _handle?: StreamHandle | null })._handle;
  return handle && typeof handle.writeBuffer === 'function' ? handle : undefined;
}

/**
 * Write `bytes` on `handle`: {@link WRITTEN}, {@link IN_FLIGHT} (then `writer.written()`
 * is called with `n` and `slab`, and `bytes` must stay as they are until then), or a
 * negative errno.
 */
export function writeOnHandle(
  handle: Pick<StreamHandle, 'writeBuffer'>,
  bytes: Uint8Array,
  writer: HandleWriter,
  slab: ArrayBuffer | null,
): number {
  const b = rawBinding()!;
  const req = (spare ??= new b.WriteWrap() as WriteReq);
  const err = handle.writeBuffer(req, bytes);
  if (err !== 0) return err;
  if (!b.lastWriteAsync()) return WRITTEN;
  spare = undefined;
  req.oncomplete = afterWrite as WriteReq['oncomplete'];
  req.writer = writer;
  req.buffer = bytes; // kept alive while libuv writes from it
  req.slab = slab;
  req.n = bytes.byteLength;
  return IN_FLIGHT;
}
