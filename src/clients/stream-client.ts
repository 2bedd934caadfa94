/**
 * Stream clients over TCP or a unix stream socket: open a connection (every
 * resolved address tried in turn), pipe an input stream to it and its replies
 * to an output stream with netcat's half-close semantics, and `send` one
 * request and collect its reply.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { Buffer } from 'node:buffer';
import type { Readable, Writable } from 'node:stream';
import { checkUnixPath, formatEndpoint } from '../net/address.js';
import { ERR, NetworkError, errnoName } from '../net/errors.js';
import { resolveHost, type IpFamily, type Resolver } from '../net/resolve.js';
import { isPathTarget, type Target } from '../net/address.js';
import { oneLine } from '../net/errors.js';

/** Default seconds to wait for a connection. */
export const DEFAULT_CONNECT_TIMEOUT = 10;

/** Options of {@link openConnection}. */
export interface OpenOptions {
  /** Seconds to wait for each address to accept (default 10; 0 = the system's own limit). */
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
}

function secs(s: number): string {
  return `${Number(s.toFixed(3))}s`;
}

function connectOnce(
  options: { host: string; port: number; family: number } | { path: string },
  opts: OpenOptions,
  label: string,
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({
      ...options,
      allowHalfOpen: true,
      noDelay: true,
      ...('host' in options ? { localAddress: opts.localAddress, localPort: opts.localPort } : {}),
    });
    const timeoutMs = (opts.timeout ?? DEFAULT_CONNECT_TIMEOUT) * 1000;
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            const err = Object.assign(
              new Error(`connect ETIMEDOUT ${label} (no answer within ${secs(timeoutMs / 1000)})`),
              { code: 'ETIMEDOUT' },
            );
            fail(err);
          }, timeoutMs)
        : undefined;
    const onAbort = (): void =>
      fail(Object.assign(new Error('connect aborted'), { code: 'ABORT_ERR' }));
    const cleanup = (): void => {
      if (timer) clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('error', fail);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    function fail(err: Error): void {
      cleanup();
      socket.destroy();
      reject(err);
    }
    function onConnect(): void {
      cleanup();
      resolve(socket);
    }
    socket.once('connect', onConnect);
    socket.once('error', fail);
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Connect to a TCP host (trying every address it resolves to, in order, until
 * one accepts) or a unix stream socket. The socket is half-open capable
 * (`allowHalfOpen: true`). Rejects with a NetworkError carrying the OS wording
 * (`connect ECONNREFUSED 127.0.0.1:9`).
 */
export async function openConnection(target: Target, opts: OpenOptions = {}): Promise<Socket> {
  if (isPathTarget(target)) {
    const path = checkUnixPath(target.path);
    try {
      return await connectOnce({ path }, opts, path);
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
  const errors: unknown[] = [];
  for (const a of addresses) {
    const label = a.family === 6 ? `[${a.address}]:${target.port}` : `${a.address}:${target.port}`;
    try {
      return await connectOnce(
        { host: a.address, port: target.port, family: a.family },
        opts,
        label,
      );
    } catch (err) {
      errors.push(err);
      if (opts.signal?.aborted) break;
    }
  }
  const last = errors[errors.length - 1];
  const message =
    errors.length <= 1
      ? oneLine(last)
      : `cannot connect to ${formatEndpoint(target)} — ${errors.map((e) => oneLine(e)).join('; ')}`;
  throw new NetworkError(message, last, ERR.CONNECT);
}

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
  /** Interactive use: a prompt is written here at the start and after each reply. */
  prompt?: { stream: Writable; text: string };
  /** Stop (the result's reason is `aborted`). */
  signal?: AbortSignal;
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

function isBenignOutputError(err: unknown): boolean {
  const code = errnoName(err);
  return code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED' || code === 'ECONNRESET';
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
  return new Promise((resolve, reject) => {
    let settled = false;
    let bytesSent = 0;
    let bytesReceived = 0;
    let inputEnded = false;
    let peerEnded = false;
    let pendingWrites = 0;
    let quitTimer: NodeJS.Timeout | undefined;
    let lastByte = 0x0a;
    const crlf = opts.crlf ? new CrlfTranslator() : undefined;
    const prompt = opts.prompt;

    const finish = (reason: PipeEnd, err?: NetworkError): void => {
      if (settled) return;
      settled = true;
      if (quitTimer) clearTimeout(quitTimer);
      socket.setTimeout(0);
      input.off('data', onInput);
      input.off('end', onInputEnd);
      input.off('error', onInputError);
      input.pause();
      socket.off('data', onSocketData);
      socket.off('end', onSocketEnd);
      output.off('error', onOutputError);
      output.off('drain', onOutputDrain);
      socket.off('drain', onSocketDrain);
      opts.signal?.removeEventListener('abort', onAbort);
      // a late error on a socket we are done with must not crash anything
      socket.on('error', () => undefined);
      output.on('error', () => undefined);
      socket.destroy();
      if (err !== undefined) {
        reject(err);
        return;
      }
      const result: PipeResult = { reason, bytesSent, bytesReceived };
      if (opts.endOutput && reason !== 'output-closed') output.end(() => resolve(result));
      else resolve(result);
    };

    const maybeDone = (): void => {
      if (settled) return;
      if (peerEnded && pendingWrites === 0) {
        if (!opts.keepOpen || inputEnded || opts.recvOnly) {
          if (opts.keepOpen && !socket.writableFinished && !opts.recvOnly) {
            // -k: our last bytes are still on their way; end once they are out
            socket.once('finish', () => finish('input-ended'));
            return;
          }
          finish('peer-closed');
        }
      }
    };

    // socket → output
    const onSocketData = (chunk: Buffer): void => {
      bytesReceived += chunk.length;
      if (opts.sendOnly) return;
      pendingWrites += 1;
      lastByte = chunk[chunk.length - 1] ?? lastByte;
      const ok = output.write(chunk, (err) => {
        pendingWrites -= 1;
        if (err) return;
        if (prompt && pendingWrites === 0 && !peerEnded) {
          prompt.stream.write(`${lastByte === 0x0a ? '' : '\n'}${prompt.text}`);
        }
        maybeDone();
      });
      if (!ok) socket.pause();
    };
    const onOutputDrain = (): void => {
      if (!settled) socket.resume();
    };
    const onSocketEnd = (): void => {
      peerEnded = true;
      maybeDone();
    };
    const onOutputError = (err: unknown): void => {
      if (isBenignOutputError(err)) finish('output-closed');
      else
        finish(
          'output-closed',
          new NetworkError(`cannot write the output — ${oneLine(err)}`, err, ERR.OUTPUT),
        );
    };
    const onSocketError = (err: unknown): void => {
      if (settled) return;
      const code = errnoName(err);
      // the peer is gone after its FIN: our late write meeting a RST is the normal end
      if (peerEnded && (code === 'EPIPE' || code === 'ECONNRESET')) {
        finish('peer-closed');
        return;
      }
      finish(
        'peer-closed',
        new NetworkError(`connection lost — ${oneLine(err)}`, err, ERR.CONNECTION),
      );
    };

    // input → socket
    const onInput = (chunk: Buffer | string): void => {
      let data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (crlf) data = crlf.push(data);
      bytesSent += data.length;
      if (socket.writableEnded || socket.destroyed) return;
      if (!socket.write(data)) input.pause();
    };
    const onSocketDrain = (): void => {
      if (!settled && !inputEnded) input.resume();
    };
    const onInputEnd = (): void => {
      inputEnded = true;
      if (!socket.writableEnded && !socket.destroyed) socket.end();
      const afterFlush = (): void => {
        if (settled) return;
        if (opts.sendOnly) return finish('input-ended');
        if (opts.quitAfterEof !== undefined) {
          if (opts.quitAfterEof <= 0) return finish('quit-timer');
          quitTimer = setTimeout(() => finish('quit-timer'), opts.quitAfterEof * 1000);
        }
        maybeDone();
      };
      if (socket.writableFinished) afterFlush();
      else socket.once('finish', afterFlush);
    };
    const onInputError = (err: unknown): void =>
      finish(
        'input-ended',
        new NetworkError(`cannot read the input — ${oneLine(err)}`, err, ERR.INPUT),
      );
    const onAbort = (): void => finish('aborted');

    socket.on('data', onSocketData);
    socket.on('end', onSocketEnd);
    socket.on('error', onSocketError);
    socket.on('drain', onSocketDrain);
    output.on('drain', onOutputDrain);
    output.on('error', onOutputError);
    if (opts.idleTimeout !== undefined && opts.idleTimeout > 0) {
      socket.setTimeout(opts.idleTimeout * 1000, () => finish('idle-timeout'));
    }
    if (opts.signal?.aborted) return finish('aborted');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (prompt) prompt.stream.write(prompt.text);
    if (!opts.recvOnly) {
      input.on('data', onInput);
      input.once('end', onInputEnd);
      input.on('error', onInputError);
      input.resume();
    }
  });
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
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let sent = 0;
    let firstSent: number | undefined;
    let firstReply: number | undefined;
    let settled = false;
    let pendingWrites = 0;
    let peerEnded = false;
    const out = opts.output;
    const replyMs = (opts.replyTimeout ?? DEFAULT_REPLY_TIMEOUT) * 1000;
    const timer = replyMs > 0 ? setTimeout(() => finish('timeout'), replyMs) : undefined;
    const onAbort = (): void => finish('aborted');
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    function finish(ended: SendResult['ended'], err?: unknown): void {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      socket.off('data', onData);
      socket.on('error', () => undefined);
      socket.destroy();
      if (typeof payload === 'object' && 'pipe' in payload) payload.unpipe(socket);
      out?.off('error', onOutputError);
      out?.on('error', () => undefined);
      if (err !== undefined) {
        reject(new NetworkError(`connection lost — ${oneLine(err)}`, err, ERR.CONNECTION));
        return;
      }
      resolve({
        sent,
        received,
        reply: Buffer.concat(chunks),
        rttMs:
          firstReply !== undefined && firstSent !== undefined ? firstReply - firstSent : undefined,
        totalMs: performance.now() - started,
        ended,
      });
    }
    const maybeDone = (): void => {
      if (peerEnded && pendingWrites === 0) finish('peer-closed');
    };
    const onData = (chunk: Buffer): void => {
      if (firstReply === undefined) firstReply = performance.now();
      received += chunk.length;
      if (!out) {
        chunks.push(chunk);
        return;
      }
      pendingWrites += 1;
      if (
        !out.write(chunk, () => {
          pendingWrites -= 1;
          maybeDone();
        })
      ) {
        socket.pause();
        out.once('drain', () => socket.resume());
      }
    };
    const onOutputError = (err: unknown): void => {
      if (isBenignOutputError(err)) finish('output-closed');
      else finish('output-closed', err);
    };
    socket.on('data', onData);
    socket.on('end', () => {
      peerEnded = true;
      maybeDone();
    });
    socket.on('error', (err) => {
      // a reset after the peer's reply still leaves a reply
      if (received > 0 && ['ECONNRESET', 'EPIPE'].includes(errnoName(err) ?? '')) {
        peerEnded = true;
        maybeDone();
        return;
      }
      finish('peer-closed', err);
    });
    out?.on('error', onOutputError);
    const noteSent = (n: number): void => {
      if (n > 0 && firstSent === undefined) firstSent = performance.now();
      sent += n;
    };
    if (typeof payload === 'string' || payload instanceof Uint8Array) {
      const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
      noteSent(data.length);
      if (firstSent === undefined) firstSent = performance.now();
      socket.end(data);
    } else {
      payload.on('data', (c: Buffer | string) =>
        noteSent(typeof c === 'string' ? Buffer.byteLength(c) : c.length),
      );
      payload.once('end', () => {
        if (firstSent === undefined) firstSent = performance.now();
      });
      payload.once('error', (err) => finish('peer-closed', err));
      payload.pipe(socket); // ends the socket (half-close) at the payload's end
    }
  });
}
