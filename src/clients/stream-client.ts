/**
 * Stream clients over TCP or a unix stream socket: open a connection (every
 * resolved address tried in turn), pipe an input stream to it and its replies
 * to an output stream with netcat's half-close semantics, and `send` one
 * request and collect its reply.
 */
import type { Socket } from 'node:net';
import { Buffer } from 'node:buffer';
import type { Readable, Writable } from 'node:stream';
import {
  checkUnixPath,
  formatEndpoint,
  isPathTarget,
  remoteAddress,
  type Target,
} from '../net/address.js';
import type { Tap } from '../net/tap.js';
import { ERR, NetworkError, errnoName, oneLine } from '../net/errors.js';
import { resolveHost, type IpFamily, type Resolver } from '../net/resolve.js';
import { Deferred } from './deferred.js';
import { raceAddresses } from '../net/happy-eyeballs.js';
import { ConnectAttempt } from './connect-attempt.js';
import { tlsClientOf } from './tls-client.js';
import type { TlsClient, TlsClientOptions } from '../net/tls.js';
import {
  isBenignOutputError,
  pipeSocket,
  type PipeOptions,
  type PipeResult,
} from './socket-pipe.js';

export {
  CrlfTranslator,
  pipeSocket,
  type PipeEnd,
  type PipeOptions,
  type PipeResult,
} from './socket-pipe.js';

/** Default seconds to wait for a connection. */
export const DEFAULT_CONNECT_TIMEOUT = 10;

/** Options of {@link openConnection}. */
export interface OpenOptions {
  /**
   * Seconds to wait for a connection, across every address of the name (default 10;
   * 0 = the system's own limit). The addresses race, Happy Eyeballs style.
   */
  timeout?: number;
  /** Only IPv4 or only IPv6 addresses. */
  family?: IpFamily;
  /** Source address (`-s`). */
  localAddress?: string;
  /** Source port (`-p`). */
  localPort?: number;
  /** Abort the attempt. */
  signal?: AbortSignal;
  /** Resolve host names with this instead of the system resolver. */
  lookup?: Resolver;
  /** Speak TLS, verified unless told otherwise (options, or a {@link TlsClient} made once). */
  tls?: TlsClientOptions | TlsClient;
  /** Record the connection's bytes (`-x`, `-o`) from the moment it is open (the plaintext, over TLS). */
  tap?: Tap;
}

function noop(): void {}

/**
 * Connect to a TCP host (every address it resolves to, raced Happy Eyeballs
 * style: the next starts 250 ms later or when the one before fails, the first
 * to connect wins, within one timeout) or a unix stream socket. The socket is half-open capable
 * (`allowHalfOpen: true`). Rejects with a NetworkError carrying the OS wording
 * (`connect ECONNREFUSED 127.0.0.1:9`).
 */
export async function openConnection(target: Target, opts: OpenOptions = {}): Promise<Socket> {
  const tls = await tlsClientOf(opts);
  const plain = await openPlain(target, opts);
  let socket: Socket = plain;
  if (tls) {
    const { tlsConnect } = await import('../net/tls.js');
    const host = isPathTarget(target) ? undefined : target.host;
    socket = await tlsConnect(plain, tls, {
      host,
      label: formatEndpoint(target),
      signal: opts.signal,
    });
  }
  if (opts.tap) {
    const unix = isPathTarget(target);
    opts.tap.attach(socket, remoteAddress(plain, unix ? target.path : ''), unix ? 'unix' : 'tcp');
  }
  return socket;
}

/** {@link openConnection} up to the TCP or unix connection. */
async function openPlain(target: Target, opts: OpenOptions): Promise<Socket> {
  if (isPathTarget(target)) {
    const path = checkUnixPath(target.path);
    try {
      return await new ConnectAttempt({ path }, opts, path, timeoutMsOf(opts)).result;
    } catch (err) {
      throw new NetworkError(oneLine(err), err, ERR.CONNECT);
    }
  }
  let addresses = await resolveHost(target.host, opts.family, opts.lookup);
  if (opts.localAddress) {
    const want = opts.localAddress.includes(':') ? 6 : 4;
    const same = addresses.filter((a) => a.family === want);
    if (same.length > 0) addresses = same;
  }
  const ms = timeoutMsOf(opts);
  const outcome = await raceAddresses(
    addresses,
    ms,
    (a, leftMs) => {
      const to = { host: a.address, port: target.port, family: a.family };
      const label = formatEndpoint({ host: a.address, port: target.port });
      return new ConnectAttempt(to, { ...opts, totalMs: ms }, label, leftMs);
    },
    { signal: opts.signal },
  );
  if (outcome.won) return outcome.value;
  const errors = outcome.failures;
  const last = errors[errors.length - 1];
  const message =
    errors.length <= 1
      ? oneLine(last)
      : `cannot connect to ${formatEndpoint(target)} — ${errors.map((e) => oneLine(e)).join('; ')}`;
  throw new NetworkError(message, last, ERR.CONNECT);
}

/** The connect timeout of `opts` in milliseconds (0: none of our own). */
function timeoutMsOf(opts: OpenOptions): number {
  return Math.max(0, (opts.timeout ?? DEFAULT_CONNECT_TIMEOUT) * 1000);
}

/** Options of {@link connectPipe}. */
export interface ConnectPipeOptions extends OpenOptions, PipeOptions {
  /** Called once connected (for a `-v` line). */
  onConnect?: (socket: Socket) => void;
}

/**
 * `sockit connect`: connect to `target`, then {@link pipeSocket} `input` and
 * `output` through it. Resolves when the pipe ends.
 */
export async function connectPipe(
  target: Target,
  input: Readable,
  output: Writable,
  opts: ConnectPipeOptions = {},
): Promise<PipeResult> {
  const socket = await openConnection(target, opts);
  opts.onConnect?.(socket);
  return pipeSocket(socket, input, output, opts);
}

/** Options of {@link send}. */
export interface SendOptions extends OpenOptions {
  /**
   * Seconds to wait for the whole exchange after connecting (default 10): when they
   * pass, what came so far is the reply.
   */
  replyTimeout?: number;
  /** Write the reply here as it arrives instead of collecting it. */
  output?: Writable;
  /** Without `output`: the most reply bytes held in memory (default {@link DEFAULT_MAX_REPLY}). */
  maxReply?: number;
  /** Called once connected, before anything is sent. */
  onConnect?: (socket: Socket) => void;
}

/** What {@link send} reports. */
export interface SendResult {
  /** Bytes sent. */
  readonly sent: number;
  /** Bytes received. */
  readonly received: number;
  /** The reply (empty when it was streamed to `output`). */
  readonly reply: Buffer;
  /** Milliseconds from the first byte sent to the first reply byte (undefined: no reply). */
  readonly rttMs: number | undefined;
  /** Milliseconds from connected to done. */
  readonly totalMs: number;
  /** How the reply ended: the peer closed, the time ran out, or the output closed. */
  readonly ended: 'peer-closed' | 'timeout' | 'output-closed' | 'aborted';
}

/** Default seconds `send` waits for the reply. */
export const DEFAULT_REPLY_TIMEOUT = 10;

/** The most reply bytes `send` holds in memory when it does not stream them (16 MiB). */
export const DEFAULT_MAX_REPLY = 16 * 1024 * 1024;

/** One request and its reply on a connected socket: state in fields, one way to end. */
class Exchange {
  readonly #socket: Socket;
  readonly #opts: SendOptions;
  readonly #out: Writable | undefined;
  readonly #done = new Deferred<SendResult>();
  readonly #started = performance.now();
  readonly #chunks: Buffer[] = [];
  #held = 0;
  #payload: Readable | undefined;
  #finished = false;
  #timer: NodeJS.Timeout | undefined;
  #sent = 0;
  #received = 0;
  #firstSent: number | undefined;
  #firstReply: number | undefined;
  /** Reply chunks handed to the output that it has not taken yet. */
  #pendingWrites = 0;
  #peerEnded = false;

  constructor(socket: Socket, opts: SendOptions) {
    this.#socket = socket;
    this.#opts = opts;
    this.#out = opts.output;
  }

  run(payload: Uint8Array | string | Readable): Promise<SendResult> {
    const replyMs = (this.#opts.replyTimeout ?? DEFAULT_REPLY_TIMEOUT) * 1000;
    if (replyMs > 0) this.#timer = setTimeout(this.#onTimeout, replyMs);
    this.#opts.signal?.addEventListener('abort', this.#onAbort, { once: true });
    this.#socket.on('data', this.#onData);
    this.#socket.on('end', this.#onEnd);
    this.#socket.on('error', this.#onSocketError);
    this.#out?.on('error', this.#onOutputError);
    if (typeof payload === 'string' || payload instanceof Uint8Array) {
      const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
      this.#noteSent(data.length);
      this.#firstSent ??= performance.now();
      this.#socket.end(data);
    } else {
      this.#payload = payload;
      payload.on('data', this.#onPayloadData);
      payload.once('end', this.#onPayloadEnd);
      payload.once('error', this.#onPayloadError);
      payload.pipe(this.#socket); // ends the socket (half-close) at the payload's end
    }
    return this.#done.promise;
  }

  #finish(ended: SendResult['ended'], error?: unknown): void {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#opts.signal?.removeEventListener('abort', this.#onAbort);
    this.#socket.off('data', this.#onData);
    this.#socket.on('error', noop);
    this.#socket.destroy();
    this.#payload?.unpipe(this.#socket);
    this.#out?.off('error', this.#onOutputError);
    this.#out?.off('drain', this.#onOutputDrain);
    this.#out?.on('error', noop);
    if (error instanceof NetworkError && error.code === ERR.REPLY_TOO_LARGE) {
      return this.#done.reject(error);
    }
    if (error !== undefined) {
      const message = `connection lost — ${oneLine(error)}`;
      return this.#done.reject(new NetworkError(message, error, ERR.CONNECTION));
    }
    const firstReply = this.#firstReply;
    const firstSent = this.#firstSent;
    this.#done.resolve({
      sent: this.#sent,
      received: this.#received,
      reply: Buffer.concat(this.#chunks),
      rttMs:
        firstReply !== undefined && firstSent !== undefined ? firstReply - firstSent : undefined,
      totalMs: performance.now() - this.#started,
      ended,
    });
  }

  #maybeDone(): void {
    if (this.#peerEnded && this.#pendingWrites === 0) this.#finish('peer-closed');
  }

  #noteSent(n: number): void {
    if (n > 0 && this.#firstSent === undefined) this.#firstSent = performance.now();
    this.#sent += n;
  }

  readonly #onData = (chunk: Buffer): void => {
    this.#firstReply ??= performance.now();
    this.#received += chunk.length;
    const out = this.#out;
    if (!out) {
      const max = this.#opts.maxReply ?? DEFAULT_MAX_REPLY;
      if (this.#held + chunk.length > max) {
        const size = max % 1048576 === 0 ? `${max / 1048576} MiB` : `${max} bytes`;
        const message = `the reply passed ${size}, the most held in memory`;
        this.#finish('aborted', new NetworkError(message, undefined, ERR.REPLY_TOO_LARGE));
        return;
      }
      this.#held += chunk.length;
      this.#chunks.push(chunk);
      return;
    }
    this.#pendingWrites += 1;
    if (!out.write(chunk, this.#onOutputWritten)) {
      this.#socket.pause();
      out.once('drain', this.#onOutputDrain);
    }
  };

  readonly #onOutputWritten = (): void => {
    this.#pendingWrites -= 1;
    this.#maybeDone();
  };

  readonly #onOutputDrain = (): void => {
    this.#socket.resume();
  };

  readonly #onEnd = (): void => {
    this.#peerEnded = true;
    this.#maybeDone();
  };

  readonly #onSocketError = (err: Error): void => {
    const code = errnoName(err);
    // a reset after the peer's reply still leaves a reply
    if (this.#received > 0 && (code === 'ECONNRESET' || code === 'EPIPE')) return this.#onEnd();
    this.#finish('peer-closed', err);
  };

  readonly #onOutputError = (err: unknown): void => {
    if (isBenignOutputError(err)) this.#finish('output-closed');
    else this.#finish('output-closed', err);
  };

  readonly #onPayloadData = (c: Buffer | string): void =>
    this.#noteSent(typeof c === 'string' ? Buffer.byteLength(c) : c.length);

  readonly #onPayloadEnd = (): void => {
    this.#firstSent ??= performance.now();
  };

  readonly #onPayloadError = (err: Error): void => this.#finish('peer-closed', err);
  readonly #onTimeout = (): void => this.#finish('timeout');
  readonly #onAbort = (): void => this.#finish('aborted');
}

/**
 * One request: connect, send `payload` (bytes, or a stream read to its end),
 * half-close, and read the reply until the peer closes or `replyTimeout`
 * passes. Rejects with a NetworkError when the connection fails.
 */
export async function send(
  target: Target,
  payload: Uint8Array | string | Readable,
  opts: SendOptions = {},
): Promise<SendResult> {
  const socket = await openConnection(target, opts);
  opts.onConnect?.(socket);
  return new Exchange(socket, opts).run(payload);
}
