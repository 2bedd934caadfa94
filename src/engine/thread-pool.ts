/**
 * The `threading` concurrency model: the honest ThreadingMixIn for Node. Socket
 * I/O stays on the main thread; each request's handler runs on a pool of
 * `worker_threads`, so CPU-heavy handlers use every core.
 *
 * A Worker cannot receive a socket (DataCloneError), so streams are bridged:
 * every connection gets a MessageChannel; the bytes read from the socket go to
 * the worker (ArrayBuffers transferred, not copied), the worker's writes come
 * back and are written to the socket here. Both directions are flow-controlled
 * by acknowledgements: the socket is paused while the worker holds more than
 * {@link INPUT_HIGH_WATER} unacknowledged bytes, and a worker's write waits once
 * {@link OUTPUT_WINDOW} bytes are not yet handed to the kernel here. Datagrams
 * travel as one message each way.
 *
 * Protocol (main ⇄ worker, on the worker's own port):
 * - `{type:'stream', id, port, clientAddress}` → per-connection channel (below)
 * - `{type:'datagram', id, data, clientAddress}` → `{type:'reply', id, data}`* then `{type:'done', id, error?}`
 * - `{type:'address', address}`: the bound address, before the worker's first request
 * - from the worker at start: `{type:'ready'}` or `{type:'fatal', error}`
 *
 * On a connection's channel, both ways: `{t:'data', buf}`, `{t:'ack', n}`, `{t:'end'}`;
 * main → worker `{t:'abort', code}` (the socket died); worker → main `{t:'done', error?}`.
 */
import { Worker, MessageChannel } from 'node:worker_threads';
import { Socket } from 'node:net';
import { Buffer } from 'node:buffer';
import type { Duplex } from 'node:stream';
import type { SocketAddress } from '../net/address.js';
import type { BaseServer, ConcurrencyStrategy } from './base-server.js';
import type { Datagram } from './request-handler.js';
import { errnoName, oneLine } from '../net/errors.js';
import { debug } from '../net/debug.js';
import { fromWire, poolSize, workerEntry, type WireError } from './concurrency.js';

/** Pause the socket while the worker holds more unacknowledged input than this. */
export const INPUT_HIGH_WATER = 1024 * 1024;
/** Resume it once the worker has acknowledged down to this. */
export const INPUT_LOW_WATER = 256 * 1024;
/** Bytes a worker may have written that the main thread has not yet handed to the kernel. */
export const OUTPUT_WINDOW = 1024 * 1024;
/**
 * Acknowledgements go out once this many bytes are due (less than both the low
 * water mark and the window, so neither side can wait on an ack that never
 * comes): a small request costs no ack message at all.
 */
export const ACK_BATCH = 64 * 1024;

/** A worker dying this soon after its start counts as a failed start. */
const QUICK_DEATH_MS = 1000;
/** Failed starts in a row after which the pool stops replacing workers. */
const MAX_QUICK_DEATHS = 5;

/** What a worker thread is told at start. */
export interface ThreadWorkerData {
  readonly handlerModule: { url: string; exportName?: string };
  /** What handlers see as `this.server` in a worker (the real server lives on the main thread). */
  readonly server: ThreadServerInfo;
}

/** The part of the server a handler in a worker thread can see. */
export interface ThreadServerInfo {
  readonly transport: string;
  readonly serverAddress: SocketAddress;
  readonly mode: 'threading';
  readonly workers: number;
}

/** Messages from a worker thread on its own port. */
export type FromThread =
  | { type: 'ready' }
  | { type: 'fatal'; error: WireError }
  | { type: 'reply'; id: number; data: ArrayBuffer }
  | { type: 'done'; id: number; error?: WireError };

/** Messages on a connection's channel (both directions share the shape). */
export type ChannelMessage =
  | { t: 'data'; buf: ArrayBuffer }
  | { t: 'ack'; n: number }
  | { t: 'end' }
  | { t: 'abort'; code: string }
  | { t: 'done'; error?: WireError };

interface Thread {
  readonly worker: Worker;
  /** Kept: `worker.threadId` is -1 once the thread has exited. */
  readonly threadId: number;
  readonly started: number;
  /** Requests running on it. */
  load: number;
  ready: boolean;
  /** Has it been told the bound address? */
  knowsAddress: boolean;
  /** How to fail each request running on it, should it die. */
  readonly jobs: Map<number, (err: Error) => void>;
  lastError?: Error;
}

interface DatagramJob {
  readonly datagram: Datagram;
  readonly replies: Promise<void>[];
  resolve(): void;
  reject(err: unknown): void;
}

let live = 0;

/** Worker threads alive right now, across every pool of this process (for tests and leak checks). */
export function liveThreadWorkers(): number {
  return live;
}

/**
 * Copy a chunk into an ArrayBuffer of its own, or hand over the one it owns
 * when it is a socket's read buffer (exactly the chunk, nobody else holds it).
 */
function transferable(chunk: Buffer, owned: boolean): ArrayBuffer {
  const ab = chunk.buffer;
  if (
    owned &&
    ab instanceof ArrayBuffer &&
    chunk.byteOffset === 0 &&
    chunk.byteLength === ab.byteLength
  ) {
    return ab;
  }
  const copy = new ArrayBuffer(chunk.byteLength);
  new Uint8Array(copy).set(chunk);
  return copy;
}

/** The `threading` strategy: a pool of worker threads running handlers. */
export class ThreadingStrategy implements ConcurrencyStrategy<unknown> {
  readonly #server: BaseServer<unknown>;
  readonly #size: number;
  readonly #entry: URL;
  readonly #data: ThreadWorkerData;
  readonly #datagram: boolean;
  readonly #threads: Thread[] = [];
  readonly #datagrams = new Map<number, DatagramJob>();
  #nextId = 0;
  #rotate = 0;
  #quickDeaths = 0;
  #started = false;
  #closing = false;

  private constructor(server: BaseServer<unknown>) {
    this.#server = server;
    this.#size = poolSize(server);
    this.#entry = workerEntry('thread-worker');
    this.#datagram = server.transport === 'udp' || server.transport === 'unix-dgram';
    this.#data = {
      handlerModule: { ...server.handlerModule! },
      server: {
        transport: server.transport,
        serverAddress: server.serverAddress,
        mode: 'threading',
        workers: this.#size,
      },
    };
  }

  /** Start the pool; resolves once every worker has loaded the handler module. */
  static async start(server: BaseServer<unknown>): Promise<ThreadingStrategy> {
    const strategy = new ThreadingStrategy(server);
    const starts = Array.from({ length: strategy.#size }, () => strategy.#spawn());
    try {
      await Promise.all(starts);
    } catch (err) {
      await strategy.close();
      throw err;
    }
    strategy.#started = true;
    return strategy;
  }

  /** Worker threads in the pool. */
  get size(): number {
    return this.#threads.length;
  }

  #spawn(): Promise<void> {
    const worker = new Worker(this.#entry, { workerData: this.#data });
    live += 1;
    const thread: Thread = {
      worker,
      threadId: worker.threadId,
      started: Date.now(),
      load: 0,
      ready: false,
      knowsAddress: false,
      jobs: new Map(),
    };
    this.#threads.push(thread);
    return new Promise<void>((resolve, reject) => {
      worker.on('message', (msg: FromThread) => {
        switch (msg.type) {
          case 'ready':
            thread.ready = true;
            // From now on only requests in flight keep the process alive.
            if (thread.load === 0) worker.unref();
            resolve();
            break;
          case 'fatal':
            thread.lastError = fromWire(msg.error);
            reject(thread.lastError);
            break;
          case 'reply':
          case 'done':
            this.#onDatagramMessage(msg);
            break;
        }
      });
      worker.on('error', (err) => {
        thread.lastError = err;
        reject(err);
      });
      worker.once('exit', (code) => {
        live -= 1;
        reject(thread.lastError ?? new Error(`worker thread exited with code ${code} at start`));
        this.#onExit(thread, code);
      });
    });
  }

  #onExit(thread: Thread, code: number): void {
    const i = this.#threads.indexOf(thread);
    if (i >= 0) this.#threads.splice(i, 1);
    if (this.#closing || !this.#started) return; // a failed start rejects start() instead
    const why = thread.lastError ? oneLine(thread.lastError) : `exit code ${code}`;
    const err = new Error(`worker thread ${thread.threadId} died — ${why}`);
    for (const fail of [...thread.jobs.values()]) fail(err);
    thread.jobs.clear();
    const quick = !thread.ready || Date.now() - thread.started < QUICK_DEATH_MS;
    this.#quickDeaths = quick ? this.#quickDeaths + 1 : 0;
    const giveUp = this.#quickDeaths >= MAX_QUICK_DEATHS;
    const info = { threadId: thread.threadId, code, error: thread.lastError, gaveUp: giveUp };
    if (this.#server.listenerCount('workerExit') > 0) this.#server.emit('workerExit', info);
    else
      this.#server.log(
        `sockit: ${err.message}${giveUp ? ' — workers keep dying at start, not replacing it' : ' — starting a new one'}`,
      );
    if (!giveUp)
      this.#spawn().catch((e: unknown) => debug('replacement worker failed: %s', oneLine(e)));
  }

  /** Least-loaded worker; ties go round-robin so that idle workers all get work. */
  #pick(): Thread | undefined {
    const n = this.#threads.length;
    let best: Thread | undefined;
    for (let k = 0; k < n; k++) {
      const t = this.#threads[(this.#rotate + k) % n]!;
      if (!best || t.load < best.load) best = t;
    }
    this.#rotate = n > 0 ? (this.#rotate + 1) % n : 0;
    return best;
  }

  #begin(thread: Thread, id: number, fail: (err: Error) => void): void {
    thread.jobs.set(id, fail);
    if (thread.load++ === 0) thread.worker.ref(); // a request in flight keeps the process alive
    if (!thread.knowsAddress) {
      // Workers start before the bind: they learn the bound address (port 0 resolved) now.
      thread.knowsAddress = true;
      thread.worker.postMessage({ type: 'address', address: this.#server.serverAddress });
    }
  }

  #end(thread: Thread, id: number): void {
    thread.jobs.delete(id);
    if (--thread.load === 0 && thread.ready) thread.worker.unref();
  }

  /** Run one request's handler on the least-loaded worker. */
  finishRequest(request: unknown, clientAddress: SocketAddress): Promise<void> {
    const thread = this.#pick();
    if (!thread) return Promise.reject(new Error('no worker thread is left to run the handler'));
    return this.#datagram
      ? this.#runDatagram(thread, request as Datagram, clientAddress)
      : this.#runStream(thread, request as Duplex, clientAddress);
  }

  #runDatagram(thread: Thread, datagram: Datagram, clientAddress: SocketAddress): Promise<void> {
    const id = ++this.#nextId;
    // Copied, not transferred: request.data stays readable here (stats, listeners).
    const data = transferable(datagram.data, false);
    return new Promise<void>((resolve, reject) => {
      const settle = (): void => {
        this.#datagrams.delete(id);
        this.#end(thread, id);
      };
      this.#datagrams.set(id, {
        datagram,
        replies: [],
        resolve: () => {
          settle();
          resolve();
        },
        reject: (err) => {
          settle();
          reject(err);
        },
      });
      this.#begin(thread, id, (err) => this.#datagrams.get(id)?.reject(err));
      thread.worker.postMessage({ type: 'datagram', id, data, clientAddress }, [data]);
    });
  }

  #onDatagramMessage(msg: Extract<FromThread, { id: number }>): void {
    const job = this.#datagrams.get(msg.id);
    if (!job) return;
    if (msg.type === 'reply') {
      const sent = job.datagram.reply(Buffer.from(msg.data));
      sent.catch(() => undefined); // reported through Promise.all below
      job.replies.push(sent);
      return;
    }
    if (msg.error) {
      job.reject(fromWire(msg.error));
      return;
    }
    Promise.all(job.replies).then(
      () => job.resolve(),
      (err: unknown) => job.reject(err),
    );
  }

  #runStream(thread: Thread, socket: Duplex, clientAddress: SocketAddress): Promise<void> {
    const id = ++this.#nextId;
    const owned = socket instanceof Socket; // a socket's read buffers are its own
    const { port1: port, port2 } = new MessageChannel();
    return new Promise<void>((resolve, reject) => {
      let inFlight = 0;
      let written = 0; // handed to the kernel, not yet acknowledged to the worker
      let paused = false;
      let done = false;
      let errorCode: string | undefined;

      const onData = (chunk: Buffer): void => {
        inFlight += chunk.byteLength; // before the transfer empties the chunk
        const buf = transferable(chunk, owned);
        port.postMessage({ t: 'data', buf }, [buf]);
        if (!paused && inFlight > INPUT_HIGH_WATER) {
          paused = true;
          socket.pause();
        }
      };
      const onEnd = (): void => port.postMessage({ t: 'end' });
      const onError = (err: Error): void => {
        errorCode ??= errnoName(err);
      };
      const onClose = (): void => {
        if (!done)
          port.postMessage({ t: 'abort', code: errorCode ?? 'ERR_STREAM_PREMATURE_CLOSE' });
      };
      const settle = (err?: Error): void => {
        if (done) return;
        done = true;
        socket.removeListener('data', onData);
        socket.removeListener('end', onEnd);
        socket.removeListener('error', onError);
        socket.removeListener('close', onClose);
        port.close();
        this.#end(thread, id);
        if (err) reject(err);
        else resolve();
      };

      port.on('message', (msg: ChannelMessage) => {
        if (done) return;
        switch (msg.t) {
          case 'data': {
            const n = msg.buf.byteLength;
            // The ack goes back once the socket has handed the bytes to the kernel:
            // a worker writing faster than the peer reads waits for it.
            socket.write(Buffer.from(msg.buf), (err) => {
              if (err || done) return;
              written += n;
              if (written >= ACK_BATCH) {
                port.postMessage({ t: 'ack', n: written });
                written = 0;
              }
            });
            break;
          }
          case 'ack':
            inFlight -= msg.n;
            if (paused && inFlight <= INPUT_LOW_WATER) {
              paused = false;
              socket.resume();
            }
            break;
          case 'end':
            socket.end();
            break;
          case 'done':
            settle(msg.error ? fromWire(msg.error) : undefined);
            break;
        }
      });

      this.#begin(thread, id, (err) => settle(err));
      thread.worker.postMessage({ type: 'stream', id, port: port2, clientAddress }, [port2]);
      socket.on('data', onData);
      socket.on('end', onEnd);
      socket.on('error', onError);
      socket.on('close', onClose);
      if (socket.destroyed) onClose();
      else if (socket.readableEnded) onEnd();
      else socket.resume(); // queued sockets stay paused until a handler takes them
    });
  }

  /** Stop the workers (the server has drained its requests already). */
  async close(): Promise<void> {
    this.#closing = true;
    await Promise.all(this.#threads.map((t) => t.worker.terminate()));
    this.#threads.length = 0;
  }
}
