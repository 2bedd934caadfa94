/**
 * Request handlers, after Python's socketserver: a new handler instance per
 * request (per connection on stream servers, per datagram on datagram
 * servers) runs `setup()` → `handle()` → `finish()`.
 */
import { Duplex, type Readable, type Writable } from 'node:stream';
import { Buffer } from 'node:buffer';
import type { Socket } from 'node:net';
import type { SocketAddress } from '../net/address.js';
import type { BaseServer } from './base-server.js';

/** One datagram received by a datagram server. */
export interface Datagram {
  /** The bytes of the datagram, exactly as received. */
  readonly data: Buffer;
  /** Where it came from. */
  readonly clientAddress: SocketAddress;
  /** Send one datagram back to the sender. */
  reply(data: Uint8Array): Promise<void>;
  /** Bytes sent back so far. */
  bytesOut: number;
}

/** What a stream server passes as `request`: the connected socket (any Duplex in tests). */
export type StreamRequest = Socket | Duplex;

/** A handler class as servers take it: `new Handler(request, clientAddress, server)`. */
export interface HandlerClass<Req = unknown> {
  new (
    request: Req,
    clientAddress: SocketAddress,
    server: BaseServer<Req>,
  ): BaseRequestHandler<Req>;
}

/**
 * Base class for request handler classes (Python's `BaseRequestHandler`).
 * The constructor stores `request`, `clientAddress` and `server`; the server then
 * calls `setup()`, `handle()` and `finish()`. `finish()` runs even when `handle()`
 * throws; an error from `setup()` skips both. Any of them may return a promise.
 */
export class BaseRequestHandler<Req = unknown> {
  constructor(
    /** The request: a socket for stream servers, a {@link Datagram} for datagram servers. */
    readonly request: Req,
    /** The peer's address. */
    readonly clientAddress: SocketAddress,
    /** The server that received the request. */
    readonly server: BaseServer<Req>,
  ) {}

  /** Called before `handle()` to do any initialisation. May be overridden. */
  setup(): void | Promise<void> {}

  /** Do the work of servicing the request. May be overridden (the default does nothing). */
  handle(): void | Promise<void> {}

  /** Called after `handle()`, even when it threw, to clean up. May be overridden. */
  finish(): void | Promise<void> {}
}

/**
 * Handler for stream requests (Python's `StreamRequestHandler`): `rfile` reads from
 * the peer and `wfile` writes to it, both binary and with backpressure (they are the
 * connection itself). When the handler returns, the server half-closes the
 * connection after everything written has been flushed.
 *
 * A stream handler also runs on datagram servers: there each datagram is a
 * connection of its own whose `rfile` yields the datagram and ends, and whatever
 * was written to `wfile` goes back to the sender as one datagram.
 */
export class StreamRequestHandler extends BaseRequestHandler<StreamRequest> {
  /**
   * Readable side: the bytes the peer sends. Reading it to the end with
   * `for await` leaves the connection open for the reply (a plain socket would be
   * destroyed when the loop ends); the server closes it after `finish()`.
   */
  get rfile(): Readable {
    return keepOpenAfterIteration(this.request);
  }

  /** Writable side: bytes written here go to the peer. */
  get wfile(): Writable {
    return this.request;
  }

  /** The connection (a `net.Socket` on TCP and unix stream servers). */
  get connection(): StreamRequest {
    return this.request;
  }

  /** Write and wait until the data is handed to the socket (respects backpressure). */
  write(data: Uint8Array | string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.request.write(data, (err) => (err ? reject(err) : resolve()));
    });
  }
}

const keptOpen = new WeakSet<Readable>();

/**
 * Make `for await (… of stream)` stop without destroying the stream: Node's
 * default iterator destroys it at the end, which kills a socket's writable side
 * before the handler has replied.
 */
function keepOpenAfterIteration(stream: Readable): Readable {
  if (!keptOpen.has(stream) && typeof stream.iterator === 'function') {
    keptOpen.add(stream);
    Object.defineProperty(stream, Symbol.asyncIterator, {
      configurable: true,
      writable: true,
      value: () => stream.iterator({ destroyOnReturn: false }),
    });
  }
  return stream;
}

/**
 * Handler for datagram requests (Python's `DatagramRequestHandler`): `packet` is the
 * datagram, `rfile` reads it, and what is written to `wfile` is sent back to the
 * sender as one datagram after `finish()` — always, even when empty, as Python does.
 */
export class DatagramRequestHandler extends BaseRequestHandler<Datagram> {
  #rfile: DatagramReader | undefined;
  #wfile: ReplyCollector | undefined;

  /** The bytes of the datagram. */
  get packet(): Buffer {
    return this.request.data;
  }

  /** A readable stream over the datagram. */
  get rfile(): Readable {
    return (this.#rfile ??= new DatagramReader(this.request.data));
  }

  /** Collects the reply; sent as one datagram after `finish()`. */
  get wfile(): Writable {
    return (this.#wfile ??= new ReplyCollector());
  }

  /** Sends what `wfile` collected to the sender. May be overridden (call `super.finish()`). */
  override finish(): void | Promise<void> {
    return this.request.reply(this.#wfile ? this.#wfile.contents() : Buffer.alloc(0));
  }
}

/** A readable stream that yields one buffer and ends. */
class DatagramReader extends Duplex {
  #data: Buffer | null;
  constructor(data: Buffer) {
    super({ allowHalfOpen: true });
    this.#data = data;
  }
  override _read(): void {
    const data = this.#data;
    this.#data = null;
    if (data && data.length > 0) this.push(data);
    this.push(null);
  }
  override _write(_chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    cb(new Error('this stream is read-only'));
  }
}

/** A writable that keeps what is written, in order. */
class ReplyCollector extends Duplex {
  readonly chunks: Buffer[] = [];
  writes = 0;
  constructor() {
    super({ allowHalfOpen: true, decodeStrings: true });
  }
  override _read(): void {
    this.push(null);
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.chunks.push(chunk);
    this.writes += 1;
    cb();
  }
  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    for (const { chunk } of chunks) this.chunks.push(chunk);
    this.writes += chunks.length;
    cb();
  }
  contents(): Buffer {
    return this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
  }
}

/**
 * A datagram dressed as a connection so that a {@link StreamRequestHandler} can
 * serve it: reads yield the datagram then end; writes are collected and sent back
 * as one datagram by the server once the handler is done (if anything was written).
 */
export class DatagramConnection extends Duplex {
  #data: Buffer | null;
  readonly #out: Buffer[] = [];
  #written = false;
  constructor(readonly datagram: Datagram) {
    super({ allowHalfOpen: true, decodeStrings: true });
    this.#data = datagram.data;
  }
  override _read(): void {
    const data = this.#data;
    this.#data = null;
    if (data && data.length > 0) this.push(data);
    this.push(null);
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#out.push(chunk);
    this.#written = true;
    cb();
  }
  override _final(cb: (err?: Error | null) => void): void {
    cb();
  }
  /** Send what was written as one datagram; nothing if the handler wrote nothing. */
  flushReply(): Promise<void> {
    if (!this.#written) return Promise.resolve();
    const out = this.#out.length === 1 ? this.#out[0]! : Buffer.concat(this.#out);
    return this.datagram.reply(out);
  }
}

/** Information passed to a plain-function handler with each piece of data. */
export interface FunctionHandlerInfo {
  /** Where the data came from. */
  readonly clientAddress: SocketAddress;
  /** `'stream'` (called per chunk read) or `'datagram'` (called per datagram). */
  readonly kind: 'stream' | 'datagram';
  /** Zero-based index of this call within the connection (always 0 for datagrams). */
  readonly index: number;
}

/** A plain function handler: return the reply (or nothing for no reply). */
export type HandlerFunction = (
  data: Buffer,
  info: FunctionHandlerInfo,
) =>
  | Uint8Array
  | string
  | null
  | undefined
  | void
  | Promise<Uint8Array | string | null | undefined | void>;

/**
 * Turn `(data, info) => reply` into a handler class that runs on every transport:
 * called for each chunk read on stream servers and for each datagram on datagram
 * servers; a returned string is sent as UTF-8, `null`/`undefined` sends nothing.
 */
export function functionHandler(
  fn: HandlerFunction,
  name = fn.name || 'handler',
): typeof StreamRequestHandler {
  const Handler = class extends StreamRequestHandler {
    override async handle(): Promise<void> {
      const request = this.request;
      if (request instanceof DatagramConnection) {
        // One call per datagram, even an empty one (reading it would yield nothing).
        const info = { clientAddress: this.clientAddress, kind: 'datagram', index: 0 } as const;
        const reply = await fn(request.datagram.data, info);
        if (reply !== null && reply !== undefined)
          await this.write(typeof reply === 'string' ? Buffer.from(reply) : reply);
        return;
      }
      let index = 0;
      for await (const chunk of this.rfile) {
        const reply = await fn(chunk as Buffer, {
          clientAddress: this.clientAddress,
          kind: 'stream',
          index: index++,
        });
        if (reply !== null && reply !== undefined)
          await this.write(typeof reply === 'string' ? Buffer.from(reply) : reply);
      }
    }
  };
  Object.defineProperty(Handler, 'name', { value: name });
  return Handler;
}

/** Is `value` a class derived from `Base` (or `Base` itself)? */
export function isSubclassOf(
  value: unknown,
  Base: abstract new (...args: never[]) => unknown,
): boolean {
  return typeof value === 'function' && (value === Base || value.prototype instanceof Base);
}

/** The three hooks {@link runHandler} drives, whatever the request type. */
export type HandlerHooks = Pick<BaseRequestHandler<unknown>, 'setup' | 'handle' | 'finish'>;

/**
 * Run `setup()` → `handle()` → `finish()` on a handler. `finish()` runs even when
 * `handle()` throws; the error is then re-thrown. Stays synchronous when every hook
 * is, so simple handlers cost no promise. Do not override: this is the engine's.
 */
export function runHandler(handler: HandlerHooks): void | Promise<void> {
  const s = handler.setup();
  return isThenable(s) ? s.then(() => runBody(handler)) : runBody(handler);
}

function runBody(handler: HandlerHooks): void | Promise<void> {
  let h: void | Promise<void>;
  try {
    h = handler.handle();
  } catch (err) {
    return finishAndRethrow(handler, err);
  }
  if (isThenable(h))
    return h.then(
      () => handler.finish(),
      (err: unknown) => finishAndRethrow(handler, err),
    );
  return handler.finish();
}

function finishAndRethrow(handler: HandlerHooks, err: unknown): void | Promise<void> {
  const f = handler.finish();
  if (isThenable(f)) {
    return f.then(() => {
      throw err;
    });
  }
  throw err;
}

/** True for promises and other thenables. */
export function isThenable(value: unknown): value is Promise<void> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * Serve one datagram with a handler class that may be a stream handler: a
 * {@link StreamRequestHandler} sees the datagram as a {@link DatagramConnection}
 * and what it wrote goes back as one datagram; any other handler gets the
 * datagram itself. Used by datagram servers in-thread and by worker threads.
 */
export function runDatagramHandler(
  Handler: new (request: never, clientAddress: SocketAddress, server: never) => HandlerHooks,
  streamHandler: boolean,
  datagram: Datagram,
  clientAddress: SocketAddress,
  server: unknown,
): void | Promise<void> {
  if (!streamHandler)
    return runHandler(new Handler(datagram as never, clientAddress, server as never));
  const conn = new DatagramConnection(datagram);
  const reply = (): Promise<void> => conn.flushReply().finally(() => conn.destroy());
  let done: void | Promise<void>;
  try {
    done = runHandler(new Handler(conn as never, clientAddress, server as never));
  } catch (err) {
    conn.destroy();
    throw err;
  }
  if (!isThenable(done)) return reply();
  return done.then(reply, (err: unknown) => {
    conn.destroy();
    throw err;
  });
}
