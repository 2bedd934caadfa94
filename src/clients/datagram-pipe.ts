/**
 * The datagram pipe behind `sockit connect -u` and `connect --unix --datagram`:
 * every chunk of the input is one datagram out, every datagram in is written
 * to the output.
 */
import type { Readable, Writable } from 'node:stream';
import { Buffer } from 'node:buffer';
import type { Target } from '../net/address.js';
import type { DatagramSocket } from '../net/datagram-socket.js';
import { ERR, NetworkError, errnoName, oneLine } from '../net/errors.js';
import { openTowards, remoteUrl, sendError, type DatagramOptions } from './datagram-target.js';
import { Deferred } from './deferred.js';
import type { PipePrompt } from './socket-pipe.js';
import { OUTPUT_BACKLOG } from '../net/limits.js';

/** Options of {@link datagramPipe}. */
export interface DatagramPipeOptions extends DatagramOptions {
  /** After input EOF, keep receiving until aborted. */
  keepOpen?: boolean;
  /** Seconds to keep receiving after input EOF (default 1). */
  quitAfterEof?: number;
  /** Never read the input. */
  recvOnly?: boolean;
  /** Discard what arrives. */
  sendOnly?: boolean;
  /** End after this many seconds without a datagram either way. */
  idleTimeout?: number;
  /** Translate bare LF to CRLF in what is sent. */
  transform?: (chunk: Buffer) => Buffer;
  /** Stop. */
  signal?: AbortSignal;
  /** Called once the socket is ready. */
  onReady?: (remote: string) => void;
  /** A datagram was dropped: the output had `outputBacklog` bytes waiting. */
  onDrop?: () => void;
  /** Bytes that may wait for a slow output before datagrams are dropped (16 MiB). */
  outputBacklog?: number;
  /** Interactive use: a prompt shown at the start and after each datagram, hidden while one is written. */
  prompt?: PipePrompt;
}

/** Why a datagram pipe ended. */
export type DatagramPipeEnd = 'quit-timer' | 'idle-timeout' | 'output-closed' | 'aborted';

/** What a finished {@link datagramPipe} reports. */
export interface DatagramPipeResult {
  /** Datagrams sent. */
  readonly sent: number;
  /** Datagrams received. */
  readonly received: number;
  /** Why it ended. */
  readonly reason: DatagramPipeEnd;
}

/** Default seconds `connect -u` keeps listening after input EOF. */
export const DEFAULT_DATAGRAM_LINGER = 1;

/** One datagram pipe: state in fields, named listeners, one way to end. */
class DatagramPipe {
  readonly #socket: DatagramSocket;
  readonly #input: Readable;
  readonly #output: Writable;
  readonly #opts: DatagramPipeOptions;
  readonly #done = new Deferred<DatagramPipeResult>();
  #sent = 0;
  #received = 0;
  #finished = false;
  #quitTimer: NodeJS.Timeout | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  /** The last byte written to the output (where the prompt goes). */
  #lastByte = 0x0a;
  /** The datagrams of the chunk being sent (the input is paused meanwhile). */
  #sending: Promise<void> = Promise.resolve();

  constructor(
    socket: DatagramSocket,
    input: Readable,
    output: Writable,
    opts: DatagramPipeOptions,
  ) {
    this.#socket = socket;
    this.#input = input;
    this.#output = output;
    this.#opts = opts;
  }

  start(): Promise<DatagramPipeResult> {
    const { signal, recvOnly } = this.#opts;
    this.#socket.on('error', this.#onSocketError);
    this.#socket.on('message', this.#onMessage);
    this.#output.on('error', this.#onOutputError);
    if (signal?.aborted) {
      this.#finish('aborted');
      return this.#done.promise;
    }
    signal?.addEventListener('abort', this.#onAbort, { once: true });
    this.#touch();
    this.#opts.prompt?.show(false);
    if (!recvOnly) {
      this.#input.on('data', this.#onInput);
      this.#input.once('end', this.#onInputEnd);
      this.#input.resume();
    }
    return this.#done.promise;
  }

  #finish(reason: DatagramPipeEnd | 'error', error?: NetworkError): void {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#quitTimer) clearTimeout(this.#quitTimer);
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#input.off('data', this.#onInput);
    this.#input.off('end', this.#onInputEnd);
    this.#input.pause();
    this.#output.off('error', this.#onOutputError);
    this.#output.on('error', noop);
    this.#opts.signal?.removeEventListener('abort', this.#onAbort);
    void this.#socket.close();
    if (error) this.#done.reject(error);
    else if (reason !== 'error') {
      this.#done.resolve({ sent: this.#sent, received: this.#received, reason });
    }
  }

  /** Traffic either way: the idle timeout starts again. */
  #touch(): void {
    const idle = this.#opts.idleTimeout;
    if (idle === undefined || idle <= 0) return;
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(this.#onIdle, idle * 1000);
  }

  readonly #onInput = (chunk: Buffer | string): void => {
    let data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (this.#opts.transform) data = this.#opts.transform(data);
    this.#touch();
    this.#input.pause();
    this.#sending = this.#sendChunk(this.#sending, data);
  };

  /** Send a chunk as datagrams of at most the socket's limit, after the chunk before it. */
  async #sendChunk(ahead: Promise<void>, data: Buffer): Promise<void> {
    await ahead;
    const max = this.#socket.maxPayload;
    for (let i = 0; i < data.length; i += max) {
      if (this.#finished) return;
      try {
        await this.#socket.send(data.subarray(i, i + max));
        this.#sent += 1;
      } catch (err) {
        this.#finish('error', sendError(err, this.#socket));
        return;
      }
    }
    if (!this.#finished) this.#input.resume();
  }

  readonly #onInputEnd = (): void => {
    void this.#sending.then(this.#afterLastChunk);
  };

  readonly #afterLastChunk = (): void => {
    if (this.#finished || this.#opts.keepOpen) return;
    const linger = this.#opts.quitAfterEof ?? DEFAULT_DATAGRAM_LINGER;
    if (linger <= 0) this.#finish('quit-timer');
    else this.#quitTimer = setTimeout(this.#onQuit, linger * 1000);
  };

  readonly #onMessage = (data: Buffer): void => {
    this.#received += 1;
    this.#touch();
    if (this.#opts.sendOnly) return;
    // UDP cannot wait for a slow output: past the backlog, drop (counted by the caller)
    if (this.#output.writableLength >= (this.#opts.outputBacklog ?? OUTPUT_BACKLOG)) {
      this.#opts.onDrop?.();
      return;
    }
    const prompt = this.#opts.prompt;
    if (!prompt) {
      this.#output.write(data);
      return;
    }
    prompt.hide();
    this.#lastByte = data[data.length - 1] ?? this.#lastByte;
    this.#output.write(data, this.#showPrompt);
  };

  readonly #showPrompt = (): void => this.#opts.prompt?.show(this.#lastByte !== 0x0a);

  readonly #onSocketError = (err: Error): void =>
    this.#finish('error', sendError(err, this.#socket));

  readonly #onOutputError = (err: unknown): void => {
    const code = errnoName(err);
    if (code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED') this.#finish('output-closed');
    else {
      const message = `cannot write the output — ${oneLine(err)}`;
      this.#finish('error', new NetworkError(message, err, ERR.OUTPUT));
    }
  };

  readonly #onAbort = (): void => this.#finish('aborted');
  readonly #onIdle = (): void => this.#finish('idle-timeout');
  readonly #onQuit = (): void => this.#finish('quit-timer');
}

function noop(): void {}

/**
 * `sockit connect -u` / `--unix --datagram`: every chunk read from `input` is
 * sent as one datagram (chunks above the datagram limit are split), every
 * datagram from the peer is written to `output`. After input EOF it keeps
 * receiving for `quitAfterEof` seconds (default 1), or until aborted with
 * `keepOpen`. A UDP refusal (ICMP port unreachable) rejects with ECONNREFUSED.
 */
export async function datagramPipe(
  target: Target,
  input: Readable,
  output: Writable,
  opts: DatagramPipeOptions = {},
): Promise<DatagramPipeResult> {
  const socket = await openTowards(target, { ...opts, connect: true });
  opts.onReady?.(remoteUrl(socket));
  return new DatagramPipe(socket, input, output, opts).start();
}
