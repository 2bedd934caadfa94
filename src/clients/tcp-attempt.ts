/**
 * One TCP connection attempt that reports an errno name instead of throwing:
 * the core of `connect_ex`. Probes make tens of thousands of these, so the
 * attempt is kept small: when Node's own TCP handle binding is available (the
 * one `net.Socket` is built on) it is used directly, with no stream, no Error
 * object and no DNS step; otherwise `net.connect` does the same job, about
 * twice as slowly. Both paths give the same answers.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { errnoName, statusName } from '../net/errors.js';
import { hasMethods, nodeBinding } from '../net/node-binding.js';
import { Deferred } from './deferred.js';

/** The outcome of one attempt. */
export interface AttemptResult {
  /** `'0'` when the connection was established, else the errno name (`ECONNREFUSED`). */
  readonly code: string;
  /** Local address of the established connection. */
  readonly localAddress?: string;
  /** Local port of the established connection (to spot a self-connect). */
  readonly localPort?: number;
}

/** Where and how to attempt. */
export interface AttemptOptions {
  readonly address: string;
  readonly family: 4 | 6;
  readonly port: number;
  /** Give up after this many milliseconds (the result is then ETIMEDOUT). */
  readonly timeoutMs: number;
  /** Source address to bind first. */
  readonly localAddress?: string;
  /** Source port to bind first. */
  readonly localPort?: number;
  /** Use `net.connect` even when the fast path is available. */
  readonly useNet?: boolean;
}

/** The part of Node's TCP handle the attempts use. */
export interface TcpHandle {
  connect(req: ConnectReq, address: string, port: number): number;
  connect6(req: ConnectReq, address: string, port: number): number;
  getsockname(out: { address?: string; port?: number }): number;
  close(cb?: () => void): void;
}

/** A connect request of the binding (`TCPConnectWrap`). */
export interface ConnectReq {
  oncomplete: (status: number) => void;
  address: string;
  port: number;
}

/** Node's `tcp_wrap` binding, in the shape the attempts use. */
export interface TcpBinding {
  TCP: new (type: number) => TcpHandle;
  TCPConnectWrap: new () => ConnectReq;
  constants: { SOCKET: number };
}

let binding: TcpBinding | null | undefined;

/** Node's TCP handle binding, or null when this Node does not offer it in the known shape. */
export function tcpBinding(): TcpBinding | null {
  if (binding !== undefined) return binding;
  const b = nodeBinding('tcp_wrap') as Partial<TcpBinding> | null;
  binding =
    b &&
    typeof b.TCPConnectWrap === 'function' &&
    typeof b.constants?.SOCKET === 'number' &&
    hasMethods(b.TCP, ['connect', 'connect6', 'getsockname'])
      ? (b as TcpBinding)
      : null;
  return binding;
}

/** One attempt in flight: settles once with its result, closing what it opened. */
abstract class Attempt {
  readonly #done = new Deferred<AttemptResult>();
  readonly #timer: NodeJS.Timeout;
  #finished = false;

  protected constructor(timeoutMs: number) {
    this.#timer = setTimeout(timedOut, timeoutMs, this);
  }

  /** The outcome; never rejects. */
  get result(): Promise<AttemptResult> {
    return this.#done.promise;
  }

  /** Whether the attempt has its outcome. */
  get finished(): boolean {
    return this.#finished;
  }

  /** Call the attempt off (its result is then ECANCELED); after the outcome, nothing. */
  cancel(): void {
    this.finish({ code: 'ECANCELED' });
  }

  /** Settle with `r` and close the socket; later calls do nothing. */
  finish(r: AttemptResult): void {
    if (this.#finished) return;
    this.#finished = true;
    clearTimeout(this.#timer);
    this.close();
    this.#done.resolve(r);
  }

  /** Close the socket or handle of the attempt. */
  protected abstract close(): void;
}

function timedOut(attempt: Attempt): void {
  attempt.finish({ code: 'ETIMEDOUT' });
}

/** An attempt straight on Node's TCP handle: no stream, no Error object, no DNS step. */
class HandleAttempt extends Attempt {
  readonly #handle: TcpHandle;

  constructor(b: TcpBinding, o: AttemptOptions) {
    super(o.timeoutMs);
    this.#handle = new b.TCP(b.constants.SOCKET);
    const req = new b.TCPConnectWrap();
    req.address = o.address;
    req.port = o.port;
    req.oncomplete = (status: number) => this.#onComplete(status);
    const err = connectHandle(this.#handle, req, o.family);
    if (err !== 0) this.finish({ code: statusName(err) });
  }

  #onComplete(status: number): void {
    if (this.finished) return;
    if (status !== 0) return this.finish({ code: statusName(status) });
    const local: { address?: string; port?: number } = {};
    this.#handle.getsockname(local);
    this.finish({ code: '0', localAddress: local.address, localPort: local.port });
  }

  protected close(): void {
    this.#handle.close();
  }
}

/** An attempt through `net.connect`, for a source address or port, or when the handle is not there. */
class SocketAttempt extends Attempt {
  readonly #socket: Socket;

  constructor(o: AttemptOptions) {
    super(o.timeoutMs);
    const { address: host, port, family, localAddress, localPort } = o;
    this.#socket = netConnect({ host, port, family, localAddress, localPort });
    this.#socket.once('connect', this.#onConnect);
    // stays after the end: a late error on the destroyed socket must not crash anything
    this.#socket.on('error', this.#onError);
  }

  readonly #onConnect = (): void => {
    const { localAddress, localPort } = this.#socket;
    this.finish({ code: '0', localAddress, localPort });
  };

  readonly #onError = (err: Error): void => this.finish({ code: errnoName(err) ?? 'EIO' });

  protected close(): void {
    this.#socket.destroy();
  }
}

/** An attempt in flight: its outcome (never rejects), and a way to call it off. */
export interface TcpAttempt {
  readonly result: Promise<AttemptResult>;
  /** Call it off: the result is then ECANCELED (nothing once it has its outcome). */
  cancel(): void;
}

/**
 * Start one TCP connection attempt to an IP address, closed at once when it
 * connects; {@link tcpAttempt} without the wait, for a race of addresses.
 */
export function startTcpAttempt(o: AttemptOptions): TcpAttempt {
  const b = o.useNet || o.localAddress || o.localPort ? null : tcpBinding();
  return b ? new HandleAttempt(b, o) : new SocketAttempt(o);
}

/**
 * Attempt one TCP connection to an IP address and close it at once. Never
 * rejects: the result carries `'0'` or the errno name, like Python's
 * `connect_ex`. A timeout gives `ETIMEDOUT`.
 */
export function tcpAttempt(o: AttemptOptions): Promise<AttemptResult> {
  return startTcpAttempt(o).result;
}

/**
 * Whether a connection to `address`:`port` that got the local `localAddress`:`localPort`
 * connected to itself: on loopback the kernel can pick the target port as the source
 * port (TCP simultaneous open), though nothing listens there.
 */
export function isSelfConnect(
  address: string,
  port: number,
  localAddress: string | undefined,
  localPort: number | undefined,
): boolean {
  const loopback =
    address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
  return loopback && localPort === port && localAddress === address;
}

/** Start connecting `handle` with `req` (to its address and port): 0 or a negative errno. */
export function connectHandle(handle: TcpHandle, req: ConnectReq, family: 4 | 6): number {
  try {
    return family === 6
      ? handle.connect6(req, req.address, req.port)
      : handle.connect(req, req.address, req.port);
  } catch {
    return -22; // EINVAL: the binding refused the arguments
  }
}
