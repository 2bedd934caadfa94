/**
 * Request handlers, after Python's socketserver: a new handler instance per request
 * (a connection, or a datagram) runs `setup()` → `handle()` → `finish()`.
 */
import type { Duplex, Readable, Writable } from 'node:stream';
import type { Buffer } from 'node:buffer';
import type { Socket } from 'node:net';
import type { SocketAddress } from '../net/address.js';
import { keepOpenAfterIteration } from '../net/stream-end.js';
import type { BaseServer } from './base-server.js';
import { DatagramConnection } from './datagram-connection.js';

export { DatagramConnection };

/** One datagram received by a datagram server: what datagram handlers get as `request`. */
export type Datagram = DatagramConnection;

/** What a stream server passes as `request`: the connected socket (any Duplex in tests). */
export type StreamRequest = Socket | Duplex;

/**
 * A handler class as servers take it: `new Handler(request, clientAddress, server)`.
 * The request type is checked; the server's is not, since one class may serve
 * several kinds of server (a StreamRequestHandler serves stream and datagram servers).
 */
export interface HandlerClass<Req = unknown> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any kind of server, see above
  new (request: Req, clientAddress: SocketAddress, server: BaseServer<any>): HandlerHooks;
}

/**
 * Base class for request handler classes (Python's `BaseRequestHandler`).
 * The constructor stores `request`, `clientAddress` and `server`; the server then
 * calls `setup()`, `handle()` and `finish()`. `finish()` runs even when `handle()`
 * throws; an error from `setup()` skips both. Any of them may return a promise.
 */
export class BaseRequestHandler<Req = unknown> {
  constructor(
    /** The request: the socket on stream servers, the {@link DatagramConnection} on datagram servers. */
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
 * connection after everything written has been flushed. On datagram servers each
 * datagram is a {@link DatagramConnection} of its own (nothing written: no reply).
 */
export class StreamRequestHandler extends BaseRequestHandler<StreamRequest | DatagramConnection> {
  /**
   * Readable side: the bytes the peer sends. Reading it to the end with
   * `for await` leaves the connection open for the reply (a plain socket would be
   * destroyed when the loop ends); the server closes it after `finish()`.
   */
  get rfile(): Readable {
    const request = this.request;
    return request instanceof DatagramConnection ? request.rfile : keepOpenAfterIteration(request);
  }

  /** Writable side: bytes written here go to the peer. */
  get wfile(): Writable {
    const request = this.request;
    return request instanceof DatagramConnection ? request.wfile : request;
  }

  /** The connection: a `net.Socket` on TCP and unix stream servers, a {@link DatagramConnection} on datagram servers. */
  get connection(): StreamRequest | DatagramConnection {
    return this.request;
  }

  /** Write and wait until the data is handed to the socket (respects backpressure). */
  write(data: Uint8Array | string): Promise<void> {
    const request = this.request;
    if (request instanceof DatagramConnection) {
      request.appendReply(data); // collected in memory: no stream needed
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      request.write(data, (err) => (err ? reject(err) : resolve()));
    });
  }
}

/**
 * Handler for datagram requests (Python's `DatagramRequestHandler`): `packet` is the
 * datagram, `rfile` reads it, and what is written to `wfile` is sent back to the
 * sender as one datagram in `finish()` — always, even when empty, as Python does.
 * Runs on datagram servers only.
 */
export class DatagramRequestHandler extends BaseRequestHandler<DatagramConnection> {
  /** The bytes of the datagram. */
  get packet(): Buffer {
    return this.request.data;
  }

  /** A readable stream over the datagram. */
  get rfile(): Readable {
    return this.request.rfile;
  }

  /** Collects the reply; sent as one datagram in `finish()`. */
  get wfile(): Writable {
    return this.request.wfile;
  }

  /** Sends what `wfile` collected to the sender. May be overridden (call `super.finish()`). */
  override finish(): void | Promise<void> {
    return this.request.flushReply(true);
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

type FunctionReply = Uint8Array | string | null | undefined | void;

/** A plain function handler: return the reply (or nothing for no reply). */
export type HandlerFunction = (
  data: Buffer,
  info: FunctionHandlerInfo,
) => FunctionReply | Promise<FunctionReply>;

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
        const reply = await fn(request.data, info);
        if (reply !== null && reply !== undefined) request.appendReply(reply);
        return;
      }
      let index = 0;
      const clientAddress = this.clientAddress;
      for await (const chunk of this.rfile) {
        const reply = await fn(chunk as Buffer, { clientAddress, kind: 'stream', index: index++ });
        if (reply !== null && reply !== undefined) await this.write(reply);
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
  if (!isThenable(h)) return handler.finish();
  // no finish() of its own (most handlers): no closure per request, a failure passes as is
  if (handler.finish === noFinish) return h.then(ignore);
  return h.then(
    () => handler.finish(),
    (err: unknown) => finishAndRethrow(handler, err),
  );
}

const noFinish = BaseRequestHandler.prototype.finish;
function ignore(): void {}

function finishAndRethrow(handler: HandlerHooks, err: unknown): void | Promise<void> {
  const f = handler.finish();
  if (!isThenable(f)) throw err;
  return f.then(() => Promise.reject(err)); // the handler's own error, as it threw
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
 * Serve one datagram: run the handler, then send what it wrote, if anything, as one
 * datagram (a {@link DatagramRequestHandler} has replied in `finish()` already).
 * Nothing is sent when the handler fails. Do not override: this is the engine's.
 */
export function runDatagramHandler(
  handler: HandlerHooks,
  connection: DatagramConnection,
): void | Promise<void> {
  const done = runHandler(handler);
  return isThenable(done) ? done.then(() => connection.flushReply()) : connection.flushReply();
}
