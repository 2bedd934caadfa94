/**
 * The owner's end of a connection served by a worker thread: bytes read from the
 * socket go to the worker over the connection's MessagePort, the worker's writes
 * come back and are written to the socket, both ways flow-controlled (see
 * thread-protocol.ts). One close path: {@link StreamBridge.finish}.
 */
import { Buffer } from 'node:buffer';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { MessagePort } from 'node:worker_threads';
import { errnoName } from '../net/errors.js';
import { fromWire } from '../net/wire.js';
import {
  ACK_BATCH,
  INPUT_HIGH_WATER,
  INPUT_LOW_WATER,
  transferable,
  type ChannelMessage,
} from './thread-protocol.js';

/** Bridges one socket to the worker thread at the other end of `port`. */
export class StreamBridge {
  readonly #socket: Duplex;
  readonly #port: MessagePort;
  readonly #done: (err?: Error) => void;
  /** A socket's read buffers are its own: they can be transferred, not copied. */
  readonly #owned: boolean;
  /** Input posted to the worker and not yet acknowledged. */
  #inFlight = 0;
  /** Output handed to the kernel and not yet acknowledged to the worker. */
  #written = 0;
  #paused = false;
  #finished = false;
  #errorCode: string | undefined;

  constructor(socket: Duplex, port: MessagePort, done: (err?: Error) => void) {
    this.#socket = socket;
    this.#port = port;
    this.#done = done;
    this.#owned = socket instanceof Socket;
  }

  /** Start moving bytes (queued sockets stay paused until a handler takes them). */
  start(): void {
    const socket = this.#socket;
    this.#port.on('message', this.#onMessage);
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('error', this.#onError);
    socket.on('close', this.#onClose);
    if (socket.destroyed) this.#onClose();
    else if (socket.readableEnded) this.#onEnd();
    else socket.resume();
  }

  readonly #onData = (chunk: Buffer): void => {
    this.#inFlight += chunk.byteLength; // before the transfer empties the chunk
    const buf = transferable(chunk, this.#owned);
    this.#port.postMessage({ t: 'data', buf } satisfies ChannelMessage, [buf]);
    if (!this.#paused && this.#inFlight > INPUT_HIGH_WATER) {
      this.#paused = true;
      this.#socket.pause();
    }
  };

  readonly #onEnd = (): void => this.#port.postMessage({ t: 'end' } satisfies ChannelMessage);

  readonly #onError = (err: Error): void => {
    this.#errorCode ??= errnoName(err);
  };

  readonly #onClose = (): void => {
    if (this.#finished) return;
    const code = this.#errorCode ?? 'ERR_STREAM_PREMATURE_CLOSE';
    this.#port.postMessage({ t: 'abort', code } satisfies ChannelMessage);
  };

  readonly #onMessage = (msg: ChannelMessage): void => {
    if (this.#finished) return;
    switch (msg.t) {
      case 'data':
        this.#write(msg.buf);
        break;
      case 'ack':
        this.#acknowledged(msg.n);
        break;
      case 'end':
        this.#socket.end();
        break;
      case 'option':
        this.#option(msg);
        break;
      case 'done':
        this.finish(msg.error ? fromWire(msg.error) : undefined);
        break;
    }
  };

  /** Write the worker's bytes; the ack goes back once the kernel has them. */
  #write(buf: ArrayBuffer): void {
    const n = buf.byteLength;
    this.#socket.write(Buffer.from(buf), (err) => {
      if (err || this.#finished) return;
      this.#written += n;
      if (this.#written >= ACK_BATCH) {
        this.#port.postMessage({ t: 'ack', n: this.#written } satisfies ChannelMessage);
        this.#written = 0;
      }
    });
  }

  #acknowledged(n: number): void {
    this.#inFlight -= n;
    if (this.#paused && this.#inFlight <= INPUT_LOW_WATER) {
      this.#paused = false;
      this.#socket.resume();
    }
  }

  #option(msg: Extract<ChannelMessage, { t: 'option' }>): void {
    if (!(this.#socket instanceof Socket)) return;
    if (msg.noDelay !== undefined) this.#socket.setNoDelay(msg.noDelay);
    if (msg.keepAlive) this.#socket.setKeepAlive(...msg.keepAlive);
  }

  /** The one close path: stop listening, close the channel, report. Idempotent. */
  finish(err?: Error): void {
    if (this.#finished) return;
    this.#finished = true;
    const socket = this.#socket;
    socket.off('data', this.#onData);
    socket.off('end', this.#onEnd);
    socket.off('error', this.#onError);
    socket.off('close', this.#onClose);
    this.#port.close();
    this.#done(err);
  }
}
