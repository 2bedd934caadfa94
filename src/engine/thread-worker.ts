/**
 * Entry of a `threading` worker thread (see thread-pool.ts for the protocol).
 * Loads the handler module once, then runs each request it is given: a
 * connection arrives as a MessagePort and is served through a
 * {@link BridgeConnection}, a Duplex whose readable side yields the bytes the
 * main thread forwards and whose writes go back to it; a datagram arrives whole.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { Duplex } from 'node:stream';
import { finished } from 'node:stream/promises';
import { Buffer } from 'node:buffer';
import type { SocketAddress } from '../net/address.js';
import { runDatagramHandler, runHandler, type HandlerClass } from './request-handler.js';
import { DatagramConnection } from './datagram-connection.js';
import { toWire } from './concurrency.js';
import { loadHandlerClass } from './handler-module.js';
import {
  ACK_BATCH,
  OUTPUT_WINDOW,
  type ChannelMessage,
  type ThreadServerInfo,
  type ThreadWorkerData,
} from './thread-pool.js';

/** An error with the code the main thread saw on the socket (ECONNRESET…). */
function peerError(code: string): Error {
  const err = new Error(`connection closed (${code})`) as Error & { code: string };
  err.code = code;
  return err;
}

/**
 * A connection as a worker thread sees it: reads yield what the peer sent,
 * writes go to the peer, with backpressure both ways (see thread-pool.ts).
 */
export class BridgeConnection extends Duplex {
  readonly #port: MessagePort;
  /** Input bytes pushed but not yet acknowledged. */
  #unacked = 0;
  /** Output bytes posted and not yet acknowledged. */
  #outstanding = 0;
  #waiting: ((err?: Error | null) => void) | undefined;
  /** Peer address, as `net.Socket` has it (empty on unix sockets). */
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly remoteFamily: string | undefined;

  constructor(port: MessagePort, clientAddress: SocketAddress) {
    super({ allowHalfOpen: true, decodeStrings: true });
    this.#port = port;
    if (clientAddress.family !== 'unix') {
      this.remoteAddress = clientAddress.address;
      this.remotePort = clientAddress.port;
      this.remoteFamily = clientAddress.family;
    }
    port.on('message', (msg: ChannelMessage) => this.#onMessage(msg));
    port.once('close', () => this.destroy());
  }

  #onMessage(msg: ChannelMessage): void {
    switch (msg.t) {
      case 'data': {
        this.#unacked += msg.buf.byteLength;
        if (this.push(Buffer.from(msg.buf))) this.#ack();
        break;
      }
      case 'end':
        this.push(null);
        break;
      case 'ack': {
        this.#outstanding -= msg.n;
        const cb = this.#waiting;
        if (cb && this.#outstanding <= OUTPUT_WINDOW) {
          this.#waiting = undefined;
          cb();
        }
        break;
      }
      case 'abort':
        this.destroy(peerError(msg.code));
        break;
    }
  }

  #ack(): void {
    if (this.#unacked < ACK_BATCH) return;
    this.#port.postMessage({ t: 'ack', n: this.#unacked });
    this.#unacked = 0;
  }

  override _read(): void {
    this.#ack(); // the consumer wants more: let the main thread send it
  }

  #post(data: Buffer, cb: (err?: Error | null) => void): void {
    const buf = new ArrayBuffer(data.byteLength);
    new Uint8Array(buf).set(data);
    this.#port.postMessage({ t: 'data', buf }, [buf]);
    this.#outstanding += data.byteLength;
    if (this.#outstanding <= OUTPUT_WINDOW) cb();
    else this.#waiting = cb;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#post(chunk, cb);
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    this.#post(Buffer.concat(chunks.map((c) => c.chunk)), cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#port.postMessage({ t: 'end' });
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.(err ?? peerError('ERR_STREAM_DESTROYED'));
    cb(err);
  }
}

const port = parentPort!;
const data = workerData as ThreadWorkerData;
/** What handlers get as `this.server`: a plain description (the server object lives on the main thread). */
const serverInfo: { -readonly [K in keyof ThreadServerInfo]: ThreadServerInfo[K] } = {
  ...data.server,
};

let Handler: HandlerClass<unknown> | undefined;
let fatal: unknown;
try {
  Handler = await loadHandlerClass(data.handlerModule);
} catch (err) {
  fatal = err;
}

async function serveStream(channel: MessagePort, clientAddress: SocketAddress): Promise<void> {
  const conn = new BridgeConnection(channel, clientAddress);
  conn.on('error', () => undefined); // the handler sees failures through its reads and writes
  try {
    await runHandler(new Handler!(conn, clientAddress, serverInfo as never) as never);
    // As shutdownRequest() would: flush what the handler wrote, then half-close.
    if (!conn.destroyed && !conn.writableFinished) {
      if (!conn.writableEnded) conn.end();
      await finished(conn, { readable: false }).catch(() => undefined);
    }
    channel.postMessage({ t: 'done' });
  } catch (err) {
    channel.postMessage({ t: 'done', error: toWire(err) });
  }
}

/** The datagram as a worker sees it: replies go back to the main thread, which sends them. */
class ForwardedDatagram extends DatagramConnection {
  constructor(
    readonly id: number,
    data: Buffer,
    clientAddress: SocketAddress,
  ) {
    super(data, clientAddress);
  }
  reply(reply: Uint8Array): Promise<void> {
    const buf = new ArrayBuffer(reply.byteLength);
    new Uint8Array(buf).set(reply);
    port.postMessage({ type: 'reply', id: this.id, data: buf }, [buf]);
    this.bytesOut += reply.byteLength;
    return Promise.resolve();
  }
}

async function serveDatagram(
  id: number,
  bytes: ArrayBuffer,
  clientAddress: SocketAddress,
): Promise<void> {
  const datagram = new ForwardedDatagram(id, Buffer.from(bytes), clientAddress);
  try {
    // as DatagramServer.finishRequest does in-thread
    await runDatagramHandler(new Handler!(datagram, clientAddress, serverInfo as never), datagram);
    port.postMessage({ type: 'done', id });
  } catch (err) {
    port.postMessage({ type: 'done', id, error: toWire(err) });
  }
}

type Job =
  | { type: 'address'; address: SocketAddress }
  | { type: 'stream'; id: number; port: MessagePort; clientAddress: SocketAddress }
  | { type: 'datagram'; id: number; data: ArrayBuffer; clientAddress: SocketAddress };

if (fatal === undefined) {
  port.on('message', (job: Job) => {
    if (job.type === 'stream') void serveStream(job.port, job.clientAddress);
    else if (job.type === 'datagram') void serveDatagram(job.id, job.data, job.clientAddress);
    else serverInfo.serverAddress = job.address;
  });
  port.postMessage({ type: 'ready' });
} else {
  // Nothing else keeps this thread alive: it ends once the message is out.
  port.postMessage({ type: 'fatal', error: toWire(fatal) });
}
