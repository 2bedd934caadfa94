/**
 * The stream pipe behind `sockit connect`: input → socket and socket → output,
 * byte-exact, with backpressure both ways and netcat's half-close semantics.
 */
import { settleMallocHeap } from '../net/heap.js';
import type { Socket } from 'node:net';
import { Buffer } from 'node:buffer';
import type { Readable, Writable } from 'node:stream';
import { ERR, NetworkError, errnoName, oneLine } from '../net/errors.js';
import { Deferred } from './deferred.js';

/** Why a pipe ended. */
export type PipeEnd =
  'peer-closed' | 'input-ended' | 'quit-timer' | 'idle-timeout' | 'output-closed' | 'aborted';

/** What a finished pipe reports. */
export interface PipeResult {
  readonly reason: PipeEnd;
  /** Bytes written to the socket (after CRLF translation). */
  readonly bytesSent: number;
  /** Bytes received from the socket. */
  readonly bytesReceived: number;
}

/** Options of {@link pipeSocket}. */
export interface PipeOptions {
  /** After the peer closes, keep sending input until it ends (`-k`). */
  keepOpen?: boolean;
  /** Quit this many seconds after input EOF, even if the peer has not closed (`-q`). */
  quitAfterEof?: number;
  /** Only send: what the peer sends is discarded; done once the input is sent. */
  sendOnly?: boolean;
  /** Only receive: the input is never read and nothing is sent. */
  recvOnly?: boolean;
  /** Translate bare LF to CRLF in what is sent from the input (`-C`). */
  crlf?: boolean;
  /** End after this many seconds without traffic either way. */
  idleTimeout?: number;
  /** Call `output.end()` when done (default false: the output stays usable). */
  endOutput?: boolean;
  /** Interactive use: a prompt shown at the start and after each reply, hidden while one is written. */
  prompt?: PipePrompt;
  /** Stop (the result's reason is `aborted`). */
  signal?: AbortSignal;
}

/**
 * A prompt on a terminal (interactive `connect`), kept whole around what the peer
 * sends: hidden before the peer's bytes are written to the output, shown again
 * (with what is being typed) once the output has taken them. It never touches the
 * output's bytes.
 */
export interface PipePrompt {
  /** Show the prompt, on a new line when `newline` (the output's last byte was not \n). */
  show(newline: boolean): void;
  /** Take the prompt line away before the peer's bytes are written. */
  hide(): void;
}

/** Turns bare LF into CRLF, remembering whether the previous chunk ended in CR. */
export class CrlfTranslator {
  #lastCR = false;

  /** Translate one chunk. */
  push(chunk: Buffer): Buffer {
    let extra = 0;
    let prevCR = this.#lastCR;
    for (const b of chunk) {
      if (b === 0x0a && !prevCR) extra += 1;
      prevCR = b === 0x0d;
    }
    const startCR = this.#lastCR;
    this.#lastCR = prevCR;
    if (extra === 0) return chunk;
    const out = Buffer.allocUnsafe(chunk.length + extra);
    let j = 0;
    prevCR = startCR;
    for (const b of chunk) {
      if (b === 0x0a && !prevCR) out[j++] = 0x0d;
      out[j++] = b;
      prevCR = b === 0x0d;
    }
    return out;
  }
}

/** An output error that only means the reader went away. */
export function isBenignOutputError(err: unknown): boolean {
  const code = errnoName(err);
  return code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED' || code === 'ECONNRESET';
}

function noop(): void {}

/** One pipe between a connected socket and an input and output: state in fields, one way to end. */
class SocketPipe {
  readonly #socket: Socket;
  readonly #input: Readable;
  readonly #output: Writable;
  readonly #opts: PipeOptions;
  readonly #crlf: CrlfTranslator | undefined;
  readonly #done = new Deferred<PipeResult>();
  #finished = false;
  #bytesSent = 0;
  #bytesReceived = 0;
  #inputEnded = false;
  #peerEnded = false;
  /** Chunks handed to the output that it has not taken yet. */
  #pendingWrites = 0;
  #quitTimer: NodeJS.Timeout | undefined;
  /** The last byte written to the output (where the prompt goes). */
  #lastByte = 0x0a;

  constructor(socket: Socket, input: Readable, output: Writable, opts: PipeOptions) {
    this.#socket = socket;
    this.#input = input;
    this.#output = output;
    this.#opts = opts;
    this.#crlf = opts.crlf ? new CrlfTranslator() : undefined;
  }

  start(): Promise<PipeResult> {
    settleMallocHeap();
    const { idleTimeout, signal, prompt, recvOnly } = this.#opts;
    const socket = this.#socket;
    socket.on('data', this.#onSocketData);
    socket.on('end', this.#onSocketEnd);
    socket.on('error', this.#onSocketError);
    socket.on('drain', this.#onSocketDrain);
    this.#output.on('drain', this.#onOutputDrain);
    this.#output.on('error', this.#onOutputError);
    if (idleTimeout !== undefined && idleTimeout > 0) {
      socket.setTimeout(idleTimeout * 1000, this.#onIdle);
    }
    if (signal?.aborted) {
      this.#finish('aborted');
      return this.#done.promise;
    }
    signal?.addEventListener('abort', this.#onAbort, { once: true });
    prompt?.show(false);
    if (!recvOnly) {
      this.#input.on('data', this.#onInput);
      this.#input.once('end', this.#onInputEnd);
      this.#input.on('error', this.#onInputError);
      this.#input.resume();
    }
    return this.#done.promise;
  }

  #finish(reason: PipeEnd, error?: NetworkError): void {
    if (this.#finished) return;
    this.#finished = true;
    const socket = this.#socket;
    const input = this.#input;
    const output = this.#output;
    if (this.#quitTimer) clearTimeout(this.#quitTimer);
    socket.setTimeout(0);
    input.off('data', this.#onInput);
    input.off('end', this.#onInputEnd);
    input.off('error', this.#onInputError);
    input.pause();
    socket.off('data', this.#onSocketData);
    socket.off('end', this.#onSocketEnd);
    socket.off('drain', this.#onSocketDrain);
    output.off('error', this.#onOutputError);
    output.off('drain', this.#onOutputDrain);
    this.#opts.signal?.removeEventListener('abort', this.#onAbort);
    // a late error on a socket we are done with must not crash anything
    socket.on('error', noop);
    output.on('error', noop);
    socket.destroy();
    if (error !== undefined) return this.#done.reject(error);
    const result: PipeResult = {
      reason,
      bytesSent: this.#bytesSent,
      bytesReceived: this.#bytesReceived,
    };
    if (this.#opts.endOutput && reason !== 'output-closed') {
      output.end(() => this.#done.resolve(result));
    } else this.#done.resolve(result);
  }

  /** The peer closed and the output took every byte: the pipe is done (unless `-k`). */
  #maybeDone(): void {
    if (this.#finished || !this.#peerEnded || this.#pendingWrites > 0) return;
    const { keepOpen, recvOnly } = this.#opts;
    if (keepOpen && !this.#inputEnded && !recvOnly) return;
    if (keepOpen && !recvOnly && !this.#socket.writableFinished) {
      // -k: our last bytes are still on their way; end once they are out
      this.#socket.once('finish', this.#onSentAfterPeer);
      return;
    }
    this.#finish('peer-closed');
  }

  // socket → output

  readonly #onSocketData = (chunk: Buffer): void => {
    this.#bytesReceived += chunk.length;
    if (this.#opts.sendOnly) return;
    this.#pendingWrites += 1;
    this.#lastByte = chunk[chunk.length - 1] ?? this.#lastByte;
    this.#opts.prompt?.hide();
    if (!this.#output.write(chunk, this.#onOutputWritten)) this.#socket.pause();
  };

  readonly #onOutputWritten = (err?: Error | null): void => {
    this.#pendingWrites -= 1;
    if (err) return;
    const prompt = this.#opts.prompt;
    if (prompt && this.#pendingWrites === 0 && !this.#peerEnded) {
      prompt.show(this.#lastByte !== 0x0a);
    }
    this.#maybeDone();
  };

  readonly #onOutputDrain = (): void => {
    if (!this.#finished) this.#socket.resume();
  };

  readonly #onSocketEnd = (): void => {
    this.#peerEnded = true;
    this.#maybeDone();
  };

  readonly #onOutputError = (err: unknown): void => {
    if (isBenignOutputError(err)) return this.#finish('output-closed');
    const message = `cannot write the output — ${oneLine(err)}`;
    this.#finish('output-closed', new NetworkError(message, err, ERR.OUTPUT));
  };

  readonly #onSocketError = (err: unknown): void => {
    if (this.#finished) return;
    const code = errnoName(err);
    // the peer is gone after its FIN: our late write meeting a RST is the normal end
    if (this.#peerEnded && (code === 'EPIPE' || code === 'ECONNRESET')) {
      return this.#finish('peer-closed');
    }
    const message = `connection lost — ${oneLine(err)}`;
    this.#finish('peer-closed', new NetworkError(message, err, ERR.CONNECTION));
  };

  // input → socket

  readonly #onInput = (chunk: Buffer | string): void => {
    let data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (this.#crlf) data = this.#crlf.push(data);
    this.#bytesSent += data.length;
    const socket = this.#socket;
    if (socket.writableEnded || socket.destroyed) return;
    if (!socket.write(data)) this.#input.pause();
  };

  readonly #onSocketDrain = (): void => {
    if (!this.#finished && !this.#inputEnded) this.#input.resume();
  };

  readonly #onInputEnd = (): void => {
    this.#inputEnded = true;
    const socket = this.#socket;
    if (!socket.writableEnded && !socket.destroyed) socket.end();
    if (socket.writableFinished) this.#onInputSent();
    else socket.once('finish', this.#onInputSent);
  };

  /** The input ended and the socket sent its last byte (and its FIN). */
  readonly #onInputSent = (): void => {
    if (this.#finished) return;
    const { sendOnly, quitAfterEof } = this.#opts;
    if (sendOnly) return this.#finish('input-ended');
    if (quitAfterEof !== undefined) {
      if (quitAfterEof <= 0) return this.#finish('quit-timer');
      this.#quitTimer = setTimeout(this.#onQuit, quitAfterEof * 1000);
    }
    this.#maybeDone();
  };

  readonly #onInputError = (err: unknown): void => {
    const message = `cannot read the input — ${oneLine(err)}`;
    this.#finish('input-ended', new NetworkError(message, err, ERR.INPUT));
  };

  readonly #onSentAfterPeer = (): void => this.#finish('input-ended');
  readonly #onIdle = (): void => this.#finish('idle-timeout');
  readonly #onQuit = (): void => this.#finish('quit-timer');
  readonly #onAbort = (): void => this.#finish('aborted');
}

/**
 * Pipe `input` → `socket` and `socket` → `output`, byte-exact, with
 * backpressure both ways (netcat semantics):
 * - on input EOF the socket is half-closed (`end()`) and replies are still read;
 * - when the peer closes, the pipe ends as soon as the output has taken every
 *   byte, even if the input is still open (unless `keepOpen`);
 * - an EPIPE on the output ends the pipe quietly (`output-closed`).
 * The socket is destroyed when the pipe ends; the input is paused and left to
 * the caller. Rejects with a NetworkError on a socket error (ECONNRESET…).
 */
export function pipeSocket(
  socket: Socket,
  input: Readable,
  output: Writable,
  opts: PipeOptions = {},
): Promise<PipeResult> {
  return new SocketPipe(socket, input, output, opts).start();
}
