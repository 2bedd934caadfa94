/**
 * One connection of the stdio handler: the peer's bytes go to the output
 * (stdout), byte-exact and with backpressure; the input (stdin) goes to the peer
 * while this connection holds it. Input EOF half-closes the connection and the
 * peer's bytes keep flowing until it closes; when the peer closes first, our
 * side is closed too and the connection is done.
 */
import type { Buffer } from 'node:buffer';
import type { Duplex, Readable, Writable } from 'node:stream';
import { errnoName } from '../net/errors.js';

/** Who reads the shared input for a while (the connection being served). */
export interface InputConsumer {
  /** A chunk of input; false asks for a pause until the port's `resumeInput()`. */
  data(chunk: Buffer): boolean;
  /** The input ended (now, or before this consumer took it). */
  end(): void;
}

/** What a session needs of the shared stdio port. */
export interface SessionPort {
  readonly output: Writable;
  attachInput(consumer: InputConsumer): void;
  detachInput(consumer: InputConsumer): void;
  resumeInput(): void;
  /** A connection ended with a reset (ECONNRESET). */
  reset(err: unknown): void;
}

/** A connection served with the terminal's stdin and stdout: state in fields, one way to end. */
export class StdioSession implements InputConsumer {
  readonly #port: SessionPort;
  readonly #socket: Duplex;
  readonly #output: Writable;
  #resolve!: () => void;
  #reject!: (err: unknown) => void;
  #finished = false;
  #peerEnded = false;
  /** Writes to the output not yet taken. */
  #pending = 0;
  #waitingDrain = false;

  constructor(port: SessionPort, socket: Duplex) {
    this.#port = port;
    this.#socket = socket;
    this.#output = port.output;
  }

  /** Serve the connection; resolves when it is done, rejects with a reset. */
  run(): Promise<void> {
    const done = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    const socket = this.#socket;
    if (socket.destroyed) {
      this.#finish();
      return done;
    }
    socket.on('data', this.#onSocketData);
    socket.once('end', this.#onPeerEnd);
    socket.on('error', this.#onSocketError);
    socket.once('close', this.#onSocketClose);
    this.#output.on('error', this.#onOutputError);
    this.#port.attachInput(this);
    return done;
  }

  // input → socket

  data(chunk: Buffer): boolean {
    const socket = this.#socket;
    if (socket.writableEnded || socket.destroyed) return true;
    if (socket.write(chunk)) return true;
    socket.once('drain', this.#onSocketDrain);
    return false;
  }

  end(): void {
    const socket = this.#socket;
    if (!socket.writableEnded && !socket.destroyed) socket.end();
  }

  readonly #onSocketDrain = (): void => {
    if (!this.#finished) this.#port.resumeInput();
  };

  // socket → output

  readonly #onSocketData = (chunk: Buffer): void => {
    this.#pending += 1;
    if (!this.#output.write(chunk, this.#onWritten) && !this.#waitingDrain) {
      this.#waitingDrain = true;
      this.#socket.pause();
      this.#output.once('drain', this.#onOutputDrain);
    }
  };

  readonly #onOutputDrain = (): void => {
    this.#waitingDrain = false;
    if (!this.#finished) this.#socket.resume();
  };

  readonly #onWritten = (): void => {
    this.#pending -= 1;
    if (this.#peerEnded && this.#pending === 0) this.#finish();
  };

  /** The peer closed its side: close ours and stop once the output has every byte. */
  readonly #onPeerEnd = (): void => {
    this.#peerEnded = true;
    this.#port.detachInput(this);
    this.end();
    if (this.#pending === 0) this.#finish();
  };

  readonly #onSocketError = (err: unknown): void => {
    if (errnoName(err) === 'ECONNRESET') this.#port.reset(err);
    this.#finish(err);
  };

  /** Closed: after the peer's end once the output has every byte; else the server ended it. */
  readonly #onSocketClose = (): void => {
    if (!this.#peerEnded || this.#pending === 0) this.#finish();
  };

  /** The output's reader went away (EPIPE): the connection has nowhere to go. */
  readonly #onOutputError = (err: unknown): void => {
    this.#socket.destroy();
    this.#finish(err);
  };

  #finish(err?: unknown): void {
    if (this.#finished) return;
    this.#finished = true;
    const socket = this.#socket;
    this.#port.detachInput(this);
    socket.off('data', this.#onSocketData);
    socket.off('end', this.#onPeerEnd);
    socket.off('error', this.#onSocketError);
    socket.off('close', this.#onSocketClose);
    socket.off('drain', this.#onSocketDrain);
    this.#output.off('error', this.#onOutputError);
    this.#output.off('drain', this.#onOutputDrain);
    if (err === undefined) this.#resolve();
    else this.#reject(err);
  }
}

/** Release an input stream so that the process can exit while its writer is still open. */
export function releaseStream(input: Readable): void {
  input.pause();
  input.destroy();
}
