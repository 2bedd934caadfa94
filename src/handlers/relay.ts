/**
 * The stream relay behind the forward handler: bytes both ways with backpressure
 * (`pipe`), each direction ending on its own (a FIN passes through as a FIN), and a
 * reset on either side resetting the other. The upstream may still be connecting:
 * the client's first bytes then wait in it and leave on the connection, and a
 * connection that fails or does not come within the timeout resets the client.
 */
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { errnoName } from '../net/errors.js';
import { resetStream } from '../net/reset.js';
import type { RelayEnd } from '../net/raw-relay.js';

export type { RelayEnd };

/** What a relay moved, and how it ended. */
export interface RelayResult {
  /** Bytes from the client to the upstream. */
  readonly bytesUp: number;
  /** Bytes from the upstream to the client. */
  readonly bytesDown: number;
  readonly end: RelayEnd;
  /** The errno name behind a reset, when there is one. */
  readonly code?: string;
  /** Why the upstream never connected (`upstream-failed`). */
  readonly failure?: unknown;
}

/** An upstream still connecting: how long it may take, and how its failure is worded. */
export interface Connecting {
  readonly timeoutMs: number;
  /** The failure to report: `err` from the socket, or none when the time ran out. */
  failure(err: Error | undefined): unknown;
}

/**
 * Relay `client` ⇄ `upstream` until both are closed. Resolves (never rejects) with
 * the bytes each way and how it ended. With `connecting`, the upstream has not
 * connected yet.
 */
export function relay(
  client: Duplex,
  upstream: Socket,
  connecting?: Connecting,
): Promise<RelayResult> {
  return new Promise((resolve) => new Relay(client, upstream, resolve).start(connecting));
}

/** One relayed connection (one object and its listeners: this runs for every connection). */
class Relay {
  readonly #client: Duplex;
  readonly #upstream: Socket;
  readonly #resolve: (result: RelayResult) => void;
  #end: RelayEnd | undefined;
  #code: string | undefined;
  #failure: unknown;
  #open = 2;
  #connecting: Connecting | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(client: Duplex, upstream: Socket, resolve: (result: RelayResult) => void) {
    this.#client = client;
    this.#upstream = upstream;
    this.#resolve = resolve;
  }

  start(connecting: Connecting | undefined): void {
    const client = this.#client;
    const upstream = this.#upstream;
    if (connecting) {
      this.#connecting = connecting;
      this.#timer = setTimeout(this.#timedOut, connecting.timeoutMs);
      upstream.once('connect', this.#connected);
    }
    client.on('error', this.#clientError);
    upstream.on('error', this.#upstreamError);
    if (client.closed) queueMicrotask(this.#clientClosed);
    else client.once('close', this.#clientClosed);
    upstream.once('close', this.#upstreamClosed);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  #settle(why: RelayEnd, err?: unknown): void {
    if (this.#end !== undefined) return;
    this.#end = why;
    this.#code = err === undefined ? undefined : errnoName(err);
  }

  /** The upstream failed before it connected: the client is reset. */
  #failed(err: Error | undefined): void {
    const connecting = this.#connecting!;
    this.#connected();
    if (this.#end === undefined) {
      this.#end = 'upstream-failed';
      this.#failure = connecting.failure(err);
    }
    resetStream(this.#client);
  }

  readonly #connected = (): void => {
    clearTimeout(this.#timer);
    this.#connecting = undefined;
  };

  readonly #timedOut = (): void => {
    this.#failed(undefined);
    this.#upstream.destroy();
  };

  readonly #clientError = (err: Error): void => {
    this.#settle('client-reset', err);
    resetStream(this.#upstream);
  };

  readonly #upstreamError = (err: Error): void => {
    if (this.#connecting) return this.#failed(err);
    this.#settle('upstream-reset', err);
    resetStream(this.#client);
  };

  readonly #clientClosed = (): void => {
    const client = this.#client;
    if (!(client.readableEnded && client.writableFinished)) {
      this.#settle('client-closed');
      resetStream(this.#upstream);
    }
    this.#closed();
  };

  readonly #upstreamClosed = (): void => {
    const upstream = this.#upstream;
    if (this.#connecting) this.#failed(undefined);
    else if (!(upstream.readableEnded && upstream.writableFinished)) {
      this.#settle('upstream-closed');
      resetStream(this.#client);
    }
    this.#closed();
  };

  #closed(): void {
    if (--this.#open > 0) return;
    clearTimeout(this.#timer);
    const upstream = this.#upstream;
    const code = this.#code;
    const failure = this.#failure;
    this.#resolve({
      bytesUp: upstream.bytesWritten,
      bytesDown: upstream.bytesRead,
      end: this.#end ?? 'done',
      ...(code ? { code } : {}),
      ...(failure === undefined ? {} : { failure }),
    });
  }
}
