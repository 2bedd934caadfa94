/**
 * A stream relay at handle level: an accepted `net.Socket` ⇄ an upstream connection
 * opened on Node's raw handle (net/raw-binding.ts), with no upstream `net.Socket`,
 * no stream push, `data` event or pipe per chunk. Each read goes straight to a
 * `writeBuffer` on the other handle; while that write is in flight the reading side
 * stops (backpressure: one write per direction at most, so a client that does not
 * read costs no memory). An EOF passes on as a `shutdown` (FIN) once the other
 * side's write is done; a read or write error resets the other side. Small reads
 * land in one buffer every relay shares and are copied out; a side that reads in
 * bulk gets a buffer of its own, written from where it was read.
 */
import { Buffer } from 'node:buffer';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { SocketAddress } from './address.js';
import { resetStream } from './reset.js';
import { statusName } from './errors.js';
import { nextReadBuffer, readChunk, sharedReadBuffer, unreadHandle } from './shared-read.js';
import { rawBinding, type HandleReq, type RawBinding, type StreamHandle } from './raw-binding.js';

/** How a relayed connection ended (the handle-level relay here and handlers/relay.ts's). */
export type RelayEnd =
  /** Both directions ended with a FIN. */
  | 'done'
  /** The client reset (or failed); the upstream was reset. */
  | 'client-reset'
  /** The upstream reset (or failed); the client was reset. */
  | 'upstream-reset'
  /** The client's connection was closed before both directions ended (idle timeout, shutdown). */
  | 'client-closed'
  /** The upstream closed before both directions ended. */
  | 'upstream-closed'
  /** The upstream never connected (refused, unreachable, timed out); the client was reset. */
  | 'upstream-failed';

/** What a raw relay moved, and how it ended. */
export interface RawRelayResult {
  readonly bytesUp: number;
  readonly bytesDown: number;
  readonly end: RelayEnd;
  /** The errno name behind a reset or a failed connection (ETIMEDOUT when the time ran out). */
  readonly code?: string;
}

interface Req extends HandleReq {
  side: Side;
  buffer?: Uint8Array;
}

/** One end of a relay: its handle, and where its reads go. */
class Side {
  readonly relay: RawRelay;
  readonly handle: StreamHandle;
  peer!: Side;
  /** Where the next read goes (net/shared-read.ts: shared, or its own while reading in bulk). */
  into!: Buffer;
  /** A write request not yet used (a write that finished at once leaves its request free). */
  req: Req | undefined;
  /** Bytes read from this side (written to the peer). */
  bytes = 0;
  /** A write to this side is in flight (its peer does not read meanwhile). */
  writing = false;
  /** This side sent its EOF. */
  ended = false;
  /** Its write side is shut down (the peer's EOF passed on). */
  shut = false;

  constructor(relay: RawRelay, handle: StreamHandle) {
    this.relay = relay;
    this.handle = handle;
    (handle as unknown as { side: Side }).side = this;
  }

  startReading(): void {
    const handle = this.handle;
    handle.onread = onRead;
    handle.useUserBuffer((this.into = sharedReadBuffer()));
    this.resume();
  }

  resume(): void {
    this.handle.reading = true;
    const err = this.handle.readStart();
    if (err !== 0) this.relay.failed(this, err);
  }

  pause(): void {
    this.handle.reading = false;
    this.handle.readStop();
  }
}

/** Every handle's `onread` (`this` is the handle): one function for all relays. */
function onRead(this: StreamHandle): Uint8Array | undefined {
  const side = (this as unknown as { side: Side }).side;
  const relay = side.relay;
  const n = relay.b.readBytes();
  if (n > 0) return relay.data(side, n);
  if (n === 0) return undefined;
  if (n === relay.b.EOF) relay.eof(side);
  else relay.failed(side, n);
  return undefined;
}

function noRead(): undefined {
  return undefined;
}

function afterWrite(this: Req, status: number): void {
  this.buffer = undefined;
  this.side.relay.written(this.side, status);
}

function afterShutdown(this: Req, status: number): void {
  this.side.relay.shutDown(this.side, status);
}

function afterConnect(this: Req, status: number): void {
  this.side.relay.connected(status);
}

/** One relayed connection: two sides, and how it ends. */
class RawRelay {
  readonly b: RawBinding;
  readonly #socket: Socket;
  readonly #resolve: (r: RawRelayResult) => void;
  readonly client: Side;
  readonly upstream: Side;
  #connecting = true;
  #timer: NodeJS.Timeout | undefined;
  #end: RelayEnd | undefined;
  #code: string | undefined;
  /** The upstream's handle is not closing yet. */
  #upstreamOpen = true;
  /** Closed: the upstream's handle, the client's socket. */
  #upstreamGone = false;
  #clientGone = false;

  constructor(
    b: RawBinding,
    socket: Socket,
    upstream: StreamHandle,
    resolve: (r: RawRelayResult) => void,
  ) {
    this.b = b;
    this.#socket = socket;
    this.#resolve = resolve;
    this.client = new Side(this, (socket as unknown as { _handle: StreamHandle })._handle);
    this.upstream = new Side(this, upstream);
    this.client.peer = this.upstream;
    this.upstream.peer = this.client;
  }

  start(timeoutMs: number): void {
    this.#timer = setTimeout(timedOut, timeoutMs, this);
    this.#socket.once('close', this.#clientClosed);
  }

  connected(status: number): void {
    if (!this.#connecting) return;
    this.#connecting = false;
    clearTimeout(this.#timer);
    if (status < 0) return this.#fail(statusName(status));
    this.upstream.startReading();
    this.client.startReading();
  }

  /** The connection did not come in time. */
  timedOut(): void {
    if (this.#connecting) {
      this.#connecting = false;
      this.#fail('ETIMEDOUT');
    }
  }

  /** The upstream never connected: the client is reset. */
  #fail(code: string): void {
    this.#finish('upstream-failed', code);
    this.#closeUpstream(false);
    resetStream(this.#socket);
  }

  /** `n` bytes read from `from`: on to its peer. Returns the next buffer to read into, if another. */
  data(from: Side, n: number): Buffer | undefined {
    from.bytes += n;
    this.#touch();
    const into = from.into;
    const to = from.peer;
    this.#write(to, readChunk(into, n));
    if (to.writing) from.pause();
    // `from` reads nothing while its write is in flight: nothing holds the buffer at the next read
    const next = nextReadBuffer(into, n, false);
    return next === into ? undefined : (from.into = next);
  }

  #write(to: Side, chunk: Buffer): void {
    let req = to.req;
    if (req === undefined) {
      req = new this.b.WriteWrap() as Req;
      req.handle = to.handle;
      req.side = to;
      req.oncomplete = afterWrite as Req['oncomplete'];
      to.req = req;
    }
    req.buffer = chunk;
    const err = to.handle.writeBuffer(req, chunk);
    if (err !== 0) {
      req.buffer = undefined;
      return this.failed(to, err);
    }
    if (this.b.lastWriteAsync()) {
      to.req = undefined; // in flight: the next write takes a new request
      to.writing = true;
    } else req.buffer = undefined;
  }

  /** A write to `to` that was in flight completed. */
  written(to: Side, status: number): void {
    to.writing = false;
    if (this.#end !== undefined) return;
    if (status < 0) return this.failed(to, status);
    this.#touch();
    to.peer.resume();
  }

  /** `from` sent its EOF: a FIN to its peer (reads stopped while a write is in flight, so none is). */
  eof(from: Side): void {
    from.ended = true;
    from.handle.reading = false;
    const to = from.peer;
    const req = new this.b.ShutdownWrap() as Req;
    req.handle = to.handle;
    req.side = to;
    req.oncomplete = afterShutdown as Req['oncomplete'];
    const err = to.handle.shutdown(req);
    if (err !== 0) this.failed(to, err);
  }

  shutDown(to: Side, status: number): void {
    if (this.#end !== undefined) return;
    if (status < 0) return this.failed(to, status);
    to.shut = true;
    const { client, upstream } = this;
    if (client.ended && upstream.ended && client.shut && upstream.shut) {
      this.#finish('done');
      this.#closeUpstream(false);
      this.#socket.destroy();
    }
  }

  /** A read, write or shutdown on `side` failed: the other side is reset. */
  failed(side: Side, status: number): void {
    if (this.#end !== undefined) return;
    const client = side === this.client;
    this.#finish(client ? 'client-reset' : 'upstream-reset', statusName(status));
    this.#closeUpstream(client);
    if (client) this.#socket.destroy();
    else resetStream(this.#socket);
  }

  /** Keep an idle timeout on the client's socket from firing while bytes flow (either way, as `net` does). */
  #touch(): void {
    const s = this.#socket as unknown as { timeout?: number; _unrefTimer?: () => void };
    if (s.timeout) s._unrefTimer?.();
  }

  #finish(end: RelayEnd, code?: string): void {
    if (this.#end !== undefined) return;
    this.#end = end;
    this.#code = code;
    clearTimeout(this.#timer);
  }

  #closeUpstream(reset: boolean): void {
    if (!this.#upstreamOpen) return;
    this.#upstreamOpen = false;
    const handle = this.upstream.handle;
    handle.onread = noRead; // must stay a function (the binding checks)
    if (reset && handle.reset) handle.reset(this.#upstreamClosed);
    else handle.close(this.#upstreamClosed);
  }

  readonly #upstreamClosed = (): void => {
    this.#upstreamGone = true;
    this.#settled();
  };

  /** The client's socket closed: ours, or destroyed from outside (idle timeout, shutdown). */
  readonly #clientClosed = (): void => {
    this.#clientGone = true;
    if (this.#end === undefined) {
      const connected = !this.#connecting;
      this.#connecting = false;
      this.#finish('client-closed');
      this.#closeUpstream(connected);
    }
    this.#settled();
  };

  #settled(): void {
    if (!this.#clientGone || !this.#upstreamGone) return;
    this.#resolve({
      bytesUp: this.client.bytes,
      bytesDown: this.upstream.bytes,
      end: this.#end ?? 'done',
      ...(this.#code === undefined ? {} : { code: this.#code }),
    });
  }
}

function timedOut(relay: RawRelay): void {
  relay.timedOut();
}

/**
 * The handle of an accepted socket a relay may take over: one that has read nothing
 * yet (`unreadHandle()`: plain, untapped), is connected, and has written nothing
 * through its stream either, with its own `_write` (a tap replaces it too).
 * Undefined for any other stream.
 */
function takeover(stream: Duplex): StreamHandle | undefined {
  const handle = unreadHandle<StreamHandle>(stream);
  if (!handle || stream.destroyed || (stream as Socket).connecting) return;
  if (stream.writableEnded || stream.writableLength > 0 || Object.hasOwn(stream, '_write')) return;
  return handle;
}

/**
 * Relay `client` ⇄ a new connection to `to` (a unix path or an IP address, no
 * name) at handle level, when Node's handles are there in the known shape and
 * `client` qualifies (a plain accepted `net.Socket`, untouched, untapped):
 * undefined, and nothing done, otherwise (take the `net.Socket` path). The client
 * is read only once the upstream connected; an upstream that fails or does not
 * connect within `timeoutMs` resets the client (`upstream-failed`, with the errno
 * name, ETIMEDOUT for the time). Resolves (never rejects) once both are closed;
 * the client's socket is then destroyed.
 */
export function rawRelay(
  client: Duplex,
  to: SocketAddress,
  timeoutMs: number,
): Promise<RawRelayResult> | undefined {
  const b = rawBinding();
  if (b === null || takeover(client) === undefined) return undefined;
  const req = b.connectReq(to) as Req;
  req.oncomplete = afterConnect as Req['oncomplete'];
  const handle = b.connect(to, req);
  if (typeof handle === 'number') {
    resetStream(client);
    const code = statusName(handle);
    return Promise.resolve({ bytesUp: 0, bytesDown: 0, end: 'upstream-failed', code });
  }
  return new Promise((resolve) => {
    const relay = new RawRelay(b, client as Socket, handle, resolve);
    req.side = relay.upstream;
    relay.start(timeoutMs);
  });
}
