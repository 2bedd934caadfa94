/**
 * Reading a socket without a stream push or a `data` event per chunk, and bulk data
 * without a Buffer per chunk: Node's `onread` option (which Node offers only to
 * sockets it connects, not to those a server accepts) applied to an accepted socket
 * before it starts reading. Small reads go to one buffer all such sockets share
 * (and are copied out); a socket that reads in bulk reads into a buffer of its own,
 * reused for as long as the consumer keeps nothing of it.
 */
import { Buffer } from 'node:buffer';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * Given each chunk read (`this` is the socket); returns true when it keeps a reference
 * to the chunk's memory after it returns (a write still queued), false when done with it.
 */
export type ChunkConsumer = (this: Socket, chunk: Buffer) => boolean;

/** The size libuv asks for when it reads a stream (Node's own read size). */
const READ_SIZE = 64 * 1024;
/** A read at least this large moves the reader to a buffer of its own: bulk data is not copied. */
const BULK_READ = 16 * 1024;

/**
 * Where readers read that read little: one buffer for every socket and raw handle read
 * here (net/raw-stream.ts and net/raw-relay.ts too), never handed out.
 */
let shared: Buffer | undefined;

/** The buffer small reads land in (see {@link readChunk}, {@link nextReadBuffer}). */
export function sharedReadBuffer(): Buffer {
  return (shared ??= Buffer.allocUnsafeSlow(READ_SIZE));
}

/**
 * The bytes of a read of `n` into `into`: a copy when `into` is the shared buffer
 * (cheap for the small reads that go there), else the bytes where they are.
 */
export function readChunk(into: Buffer, n: number): Buffer {
  if (into !== shared) return n === into.length ? into : into.subarray(0, n);
  const copy = Buffer.allocUnsafe(n);
  into.copy(copy, 0, 0, n);
  return copy;
}

/**
 * Where the read after one of `n` bytes into `into` goes: after a small read, the
 * shared buffer (an idle reader holds no buffer of its own); in bulk, a buffer of the
 * reader's own: `into` again, unless that was the shared one or the consumer still
 * holds its bytes (`kept`), then a fresh one.
 */
export function nextReadBuffer(into: Buffer, n: number, kept: boolean): Buffer {
  if (n < BULK_READ) return shared!;
  return into === shared || kept ? Buffer.allocUnsafeSlow(READ_SIZE) : into;
}
/** The buffer the socket that just read gets next (Node asks right after the callback). */
let next: Buffer;

/** The stream internals `onread` sets on a socket, found by name on the first socket. */
interface OnreadKeys {
  readonly buffer: symbol;
  readonly callback: symbol;
  readonly generator: symbol;
}
let keys: OnreadKeys | null | undefined;
const consumerKey = Symbol('chunkConsumer');

function onreadKeys(socket: Socket): OnreadKeys | null {
  if (keys !== undefined) return keys;
  const find = (name: string): symbol | undefined =>
    Object.getOwnPropertySymbols(socket).find((s) => s.description === name);
  const [buffer, callback, generator] = [find('kBuffer'), find('kBufferCb'), find('kBufferGen')];
  keys = buffer && callback && generator ? { buffer, callback, generator } : null;
  return keys;
}

type Internals = Record<symbol, unknown> & { [consumerKey]: ChunkConsumer };

/** A read of `nread` bytes into `buffer`: to the consumer, and where the next read goes. */
function onRead(this: Socket, nread: number, buffer: Buffer): boolean {
  const consume = (this as unknown as Internals)[consumerKey];
  const kept = consume.call(this, readChunk(buffer, nread));
  next = nextReadBuffer(buffer, nread, kept);
  return true; // a consumer that must stop reading pauses the socket
}

function nextBuffer(): Buffer {
  return next;
}

/** What {@link unreadHandle} reads of a socket's handle. */
export interface ReadHandle {
  reading?: boolean;
  useUserBuffer?: (buffer: Uint8Array) => void;
}

/**
 * From now on, give each read of `socket` to `consume` (see {@link ChunkConsumer}) and
 * start reading; `end`, `close` and errors stay the socket's own events, and `pause()`
 * stops reading. Only a plain (not TLS), not yet reading socket with nothing buffered
 * and its own `push()` (a traffic tap replaces it, and must see every byte)
 * qualifies: false, and nothing changed, for any other stream.
 */
export function readChunks(stream: Duplex, consume: ChunkConsumer): boolean {
  const handle = unreadHandle<ReadHandle>(stream);
  if (!handle) return false;
  const k = onreadKeys(stream as Socket);
  const internals = stream as unknown as Internals;
  if (!k || internals[k.buffer] !== null) return false;
  const shared = sharedReadBuffer();
  handle.useUserBuffer!(shared);
  internals[k.buffer] = shared;
  internals[k.callback] = onRead;
  internals[k.generator] = nextBuffer;
  internals[consumerKey] = consume;
  stream.resume();
  return true;
}

/**
 * The handle of a plain (not TLS) socket that can read into a buffer of our choosing
 * and has read nothing yet through its stream: not reading, nothing buffered, not
 * ended, and its own `push()` (a traffic tap replaces it, and must see every byte).
 * Undefined for any other stream.
 */
export function unreadHandle<H extends ReadHandle>(stream: Duplex): H | undefined {
  if (!(stream instanceof Socket) || (stream as { encrypted?: boolean }).encrypted) return;
  const handle = (stream as unknown as { _handle?: H | null })._handle;
  if (!handle || handle.reading || typeof handle.useUserBuffer !== 'function') return;
  if (Object.hasOwn(stream, 'push') || stream.readableLength > 0 || stream.readableEnded) return;
  return handle;
}
