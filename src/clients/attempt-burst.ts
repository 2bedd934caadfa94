/**
 * A scan's attempts: many TCP connection attempts to one address on Node's TCP
 * handle, with one shared timer and no promise or closure per port. A socket
 * whose attempt was refused connects again for the next port.
 */
import { errnoNumber } from '../net/errors.js';
import {
  connectHandle,
  isSelfConnect,
  tcpBinding,
  type ConnectReq,
  type TcpBinding,
  type TcpHandle,
} from './tcp-attempt.js';

/** What {@link AttemptBurst} reports for a port that timed out. */
export const BURST_TIMEOUT = 1;
/** What {@link AttemptBurst} reports for a probe that connected to itself. */
export const BURST_SELF = 2;

/**
 * Where an {@link AttemptBurst} reports each port: `status` is 0 (connected), a
 * negative errno (libuv's numbering, as `getSystemErrorName` takes it),
 * {@link BURST_TIMEOUT} or {@link BURST_SELF}.
 */
export type BurstSink = (port: number, status: number) => void;

interface BurstReq extends ConnectReq {
  burst: AttemptBurst;
  handle: TcpHandle;
  deadline: number;
  done: boolean;
}

// Called by the binding with the request as `this`: one function for every attempt.
function burstComplete(this: BurstReq, status: number): void {
  this.burst.complete(this, status);
}

/**
 * Many attempts to one address on Node's TCP handle, for scans: no promise, timer
 * or closure per port. They all share one timeout, so they expire in the order
 * they started, and one timer at the oldest deadline serves them all.
 */
export class AttemptBurst {
  readonly #b: TcpBinding;
  /** ECONNREFUSED as the binding reports it (libuv's status: the negative errno). */
  readonly #refused = -errnoNumber('ECONNREFUSED');
  readonly #address: string;
  readonly #family: 4 | 6;
  readonly #timeoutMs: number;
  readonly #sink: BurstSink;
  #queue: BurstReq[] = [];
  #head = 0;
  #timer: NodeJS.Timeout | undefined;
  /** Sockets whose last attempt was refused, ready to connect again. */
  #spare: TcpHandle[] = [];
  #reused = 0;

  private constructor(b: TcpBinding, address: string, family: 4 | 6, ms: number, sink: BurstSink) {
    this.#b = b;
    this.#address = address;
    this.#family = family;
    this.#timeoutMs = ms;
    this.#sink = sink;
  }

  /** A burst towards `address`, or null when this Node offers no TCP handle binding. */
  static open(address: string, family: 4 | 6, timeoutMs: number, sink: BurstSink) {
    const b = tcpBinding();
    return b ? new AttemptBurst(b, address, family, timeoutMs, sink) : null;
  }

  /** Attempt `port`; its outcome goes to the sink, at once or later. */
  start(port: number): void {
    const b = this.#b;
    const req = new b.TCPConnectWrap() as BurstReq;
    req.address = this.#address;
    req.port = port;
    req.oncomplete = burstComplete;
    req.burst = this;
    req.deadline = Date.now() + this.#timeoutMs;
    req.done = false;
    const err = this.#connectSpare(req) ?? this.#connectFresh(req);
    if (err !== 0) return this.#finish(req, err);
    this.#queue.push(req);
    this.#timer ??= setTimeout(expire, this.#timeoutMs, this);
  }

  /**
   * Connect `req` on a socket whose last attempt was refused: 0 when under way,
   * undefined when there is no such socket or it would not connect again. The
   * kernel lets a TCP socket connect again once an attempt failed, but the first
   * connect() after a failure that SO_ERROR already reported only returns the
   * socket to "unconnected" (ECONNABORTED), so a second one is needed; a socket
   * that fails both is closed.
   */
  #connectSpare(req: BurstReq): number | undefined {
    const handle = this.#spare.pop();
    if (!handle) return undefined;
    req.handle = handle;
    if (
      connectHandle(handle, req, this.#family) === 0 ||
      connectHandle(handle, req, this.#family) === 0
    ) {
      this.#reused += 1;
      return 0;
    }
    handle.close();
    return undefined;
  }

  /** How many attempts so far went out on a socket kept from a refused one. */
  get reused(): number {
    return this.#reused;
  }

  #connectFresh(req: BurstReq): number {
    const b = this.#b;
    req.handle = new b.TCP(b.constants.SOCKET);
    return connectHandle(req.handle, req, this.#family);
  }

  /** The binding's answer for `req` (do not call). */
  complete(req: BurstReq, status: number): void {
    if (req.done) return;
    if (status === 0) {
      const local: { address?: string; port?: number } = {};
      req.handle.getsockname(local);
      if (isSelfConnect(this.#address, req.port, local.address, local.port)) status = BURST_SELF;
    }
    this.#finish(req, status);
  }

  // The oldest attempt in flight is always at the head: finished ones leave from there.
  #finish(req: BurstReq, status: number): void {
    req.done = true;
    // a refused socket is connected again for the next port: no socket() and close()
    if (status === this.#refused) this.#spare.push(req.handle);
    else req.handle.close();
    const q = this.#queue;
    while (this.#head < q.length && q[this.#head]!.done) this.#head += 1;
    if (this.#head === q.length) {
      this.#queue = [];
      this.#head = 0;
      clearTimeout(this.#timer);
      this.#timer = undefined;
    } else if (this.#head > 4096 && this.#head * 2 > q.length) {
      this.#queue = q.slice(this.#head);
      this.#head = 0;
    }
    this.#sink(req.port, status);
  }

  /** The timer: every attempt past its deadline times out; the timer follows the next. */
  expire(): void {
    this.#timer = undefined;
    const now = Date.now();
    for (let r = this.#queue[this.#head]; r && r.deadline <= now; r = this.#queue[this.#head]) {
      this.#finish(r, BURST_TIMEOUT);
    }
    const next = this.#queue[this.#head];
    if (next) this.#timer = setTimeout(expire, Math.max(1, next.deadline - now), this);
  }

  /** Call off every attempt in flight (their outcome is not reported), and close every socket. */
  cancel(): void {
    for (const handle of this.#spare) handle.close();
    this.#spare = [];
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (let i = this.#head; i < this.#queue.length; i += 1) {
      const req = this.#queue[i]!;
      if (!req.done) {
        req.done = true;
        req.handle.close();
      }
    }
    this.#queue = [];
    this.#head = 0;
  }
}

function expire(burst: AttemptBurst): void {
  burst.expire();
}
