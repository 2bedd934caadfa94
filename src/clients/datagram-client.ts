/**
 * Datagram clients over UDP or unix datagram sockets: `sendto` (datagrams out,
 * replies optionally awaited), `recvfrom` (datagrams in, optionally answered)
 * and the datagram pipe behind `connect -u`. Datagram boundaries are kept:
 * one send is one datagram.
 */
import type { SocketAddress } from '../net/address.js';
import { bindDatagramSocket, type DatagramSocket } from '../net/datagram-socket.js';
import { errorCode } from '../net/errors.js';
import type { Tap } from '../net/tap.js';
import {
  datagramAddress,
  msgSizeError,
  openTowards,
  sendError,
  type DatagramOptions,
  type ReceivedDatagram,
} from './datagram-target.js';
import type { Target } from '../net/address.js';
import { Deferred } from './deferred.js';
import { pause } from './pause.js';

export { UDP_MAX_IPV4, UDP_MAX_IPV6 } from '../net/datagram-socket.js';
export type { DatagramOptions, ReceivedDatagram } from './datagram-target.js';
export * from './datagram-pipe.js';

/** Options of {@link sendto}. */
export interface SendtoOptions extends DatagramOptions {
  /** Send the whole list this many times (default 1). */
  count?: number;
  /** Milliseconds between two datagrams (default 0). */
  interval?: number;
  /** Allow sending to a broadcast address. */
  broadcast?: boolean;
  /**
   * Seconds to wait for replies after the last datagram (default: none, return
   * right after sending). Waiting stops early once every datagram got a reply
   * (not with `broadcast`). Without it no reply is read, not even one that comes
   * while the datagrams are still being sent: `onReply` is never called.
   */
  wait?: number;
  /** Called for each reply. */
  onReply?: (reply: ReceivedDatagram) => void;
  /** Stop sending and waiting. */
  signal?: AbortSignal;
}

/** What {@link sendto} reports. */
export interface SendtoResult {
  /** Datagrams sent. */
  readonly sent: number;
  /** Payload bytes sent. */
  readonly bytes: number;
  /** Replies received. */
  readonly replies: number;
}

/** One `sendto` run: the datagrams out, then the wait for their replies. */
class DatagramSender {
  readonly #socket: DatagramSocket;
  readonly #opts: SendtoOptions;
  #sent = 0;
  #bytes = 0;
  #replies = 0;
  #asyncError: Error | undefined;
  /** Ends the wait for replies early (every datagram answered, or an error). */
  #wake: (() => void) | undefined;

  constructor(socket: DatagramSocket, opts: SendtoOptions) {
    this.#socket = socket;
    this.#opts = opts;
    socket.on('error', this.#onError);
    // without a wait, replies are not read: how many came during the sending would vary
    if (opts.wait !== undefined && opts.wait > 0) socket.on('message', this.#onMessage);
  }

  readonly #onError = (err: Error): void => {
    this.#asyncError = err;
    this.#wake?.();
  };

  readonly #onMessage = (data: Buffer, from: SocketAddress): void => {
    this.#replies += 1;
    this.#opts.onReply?.({ data, from });
    if (!this.#opts.broadcast && this.#replies >= this.#sent) this.#wake?.();
  };

  async run(list: readonly Uint8Array[]): Promise<SendtoResult> {
    const socket = this.#socket;
    const tooBig = list.find((p) => p.length > socket.maxPayload);
    if (tooBig) throw msgSizeError(tooBig.length, socket);
    await this.#sendAll(list);
    await this.#waitForReplies();
    if (this.#asyncError && this.#replies === 0) throw sendError(this.#asyncError, socket);
    return { sent: this.#sent, bytes: this.#bytes, replies: this.#replies };
  }

  async #sendAll(list: readonly Uint8Array[]): Promise<void> {
    const { count = 1, interval, signal } = this.#opts;
    for (let round = 0; round < count; round += 1) {
      for (const p of list) {
        if (signal?.aborted) return;
        if (this.#sent > 0 && interval) await pause(interval, signal);
        try {
          await this.#socket.send(p);
        } catch (err) {
          if (errorCode(err) === 'EMSGSIZE') throw msgSizeError(p.length, this.#socket);
          throw sendError(err, this.#socket);
        }
        this.#sent += 1;
        this.#bytes += p.length;
      }
    }
  }

  async #waitForReplies(): Promise<void> {
    const { wait, broadcast, signal } = this.#opts;
    if (wait === undefined || wait <= 0 || signal?.aborted) return;
    if (!broadcast && this.#replies >= this.#sent) return;
    const stop = new AbortController();
    this.#wake = () => stop.abort();
    signal?.addEventListener('abort', this.#wake, { once: true });
    try {
      await pause(wait * 1000, stop.signal);
    } finally {
      signal?.removeEventListener('abort', this.#wake);
      this.#wake = undefined;
    }
  }
}

/**
 * Python's `sendto` as a command: send each payload as one datagram to
 * `target` (UDP `host:port`, or a unix datagram path, from a private bound
 * path that is removed afterwards), `count` times, `interval` ms apart; with
 * `wait`, collect replies for that many seconds. Oversized datagrams reject
 * with EMSGSIZE (65,507 bytes over IPv4, 65,527 over IPv6) before anything is sent.
 */
export async function sendto(
  target: Target,
  payloads: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
  opts: SendtoOptions = {},
): Promise<SendtoResult> {
  const list: Uint8Array[] = [];
  for await (const p of payloads) list.push(p);
  // without a wait nothing is read: the socket may be a bare send-only one
  const sendOnly = opts.wait === undefined || opts.wait <= 0;
  const socket = await openTowards(target, { ...opts, sendOnly });
  try {
    return await new DatagramSender(socket, opts).run(list);
  } finally {
    await socket.close();
  }
}

/** Where `recvfrom` binds: UDP host and port (0 = any free port), or a unix path. */
export type BindTarget = { host: string; port: number } | { path: string };

/** Options of {@link recvfrom}. */
export interface RecvfromOptions {
  /** Stop after this many datagrams. */
  count?: number;
  /** Stop after this many seconds. */
  timeout?: number;
  /** Send each datagram back to its sender. */
  echo?: boolean;
  /** Answer each sender with these bytes. */
  reply?: Uint8Array;
  /** Called once bound, with the real address (port 0 resolved). */
  onListening?: (address: SocketAddress) => void;
  /** Called for each datagram, in arrival order. */
  onDatagram?: (d: ReceivedDatagram) => void;
  /** On `::`, receive IPv6 only. */
  ipv6Only?: boolean;
  /** Record every datagram in and out (`-x`, `-o`). */
  tap?: Tap;
  /** Stop. */
  signal?: AbortSignal;
}

/** What {@link recvfrom} reports. */
export interface RecvfromResult {
  /** Datagrams received. */
  readonly received: number;
  /** Why it stopped. */
  readonly reason: 'count' | 'timeout' | 'aborted';
  /** The address it was bound to. */
  readonly address: SocketAddress;
}

/** One `recvfrom` run: datagrams in until the count, the time or the signal says stop. */
class DatagramReceiver {
  readonly #socket: DatagramSocket;
  readonly #opts: RecvfromOptions;
  readonly #done = new Deferred<RecvfromResult['reason']>();
  #received = 0;
  #finished = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(socket: DatagramSocket, opts: RecvfromOptions) {
    this.#socket = socket;
    this.#opts = opts;
    socket.on('error', noop); // ICMP noise on an unconnected socket is not fatal
  }

  get received(): number {
    return this.#received;
  }

  run(): Promise<RecvfromResult['reason']> {
    const { signal, timeout, count } = this.#opts;
    if (signal?.aborted) this.#finish('aborted');
    else if (count !== undefined && count <= 0) this.#finish('count');
    else {
      signal?.addEventListener('abort', this.#onAbort, { once: true });
      if (timeout !== undefined) this.#timer = setTimeout(this.#onTimeout, timeout * 1000);
      this.#socket.on('message', this.#onMessage);
    }
    return this.#done.promise;
  }

  #finish(reason: RecvfromResult['reason']): void {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#opts.signal?.removeEventListener('abort', this.#onAbort);
    this.#socket.off('message', this.#onMessage);
    this.#done.resolve(reason);
  }

  readonly #onAbort = (): void => this.#finish('aborted');
  readonly #onTimeout = (): void => this.#finish('timeout');

  readonly #onMessage = (data: Buffer, from: SocketAddress): void => {
    const opts = this.#opts;
    if (this.#finished || opts.signal?.aborted) return;
    this.#received += 1;
    opts.onDatagram?.({ data, from });
    const answer = opts.echo ? data : opts.reply;
    // an unbound unix sender has no address to answer
    if (answer && !(from.family === 'unix' && from.path === '')) {
      this.#socket.send(answer, from).catch(noop);
    }
    if (opts.count !== undefined && this.#received >= opts.count) this.#finish('count');
  };
}

function noop(): void {}

/**
 * Python's `recvfrom` as a command: bind (UDP host and port, or a unix datagram
 * path) and hand each datagram to `onDatagram` as it arrives, until `count`
 * datagrams came, `timeout` seconds passed, or `signal` aborts. With `echo` or
 * `reply`, each sender is answered. Rejects when the bind fails.
 */
export async function recvfrom(
  bind: BindTarget,
  opts: RecvfromOptions = {},
): Promise<RecvfromResult> {
  const local: SocketAddress =
    'path' in bind
      ? { family: 'unix', path: bind.path }
      : await datagramAddress(bind.host, bind.port);
  const socket = await bindDatagramSocket(local, { ipv6Only: opts.ipv6Only });
  socket.tap = opts.tap;
  const address = socket.address!;
  opts.onListening?.(address);
  const receiver = new DatagramReceiver(socket, opts);
  try {
    const reason = await receiver.run();
    return { received: receiver.received, reason, address };
  } finally {
    await socket.close();
  }
}
