/**
 * A UDP socket straight on Node's UDP handle (the one dgram.Socket is built on).
 * For a client that sends and never reads (`sockit sendto host port x`): dgram's
 * first send binds, and its bind loads `cluster` (to ask whether this is a cluster
 * worker), which loads `child_process`, `net` and the stream stack, about thirty
 * modules for one datagram. For a bound socket that reads (a server's): each datagram
 * arrives through the handle's own callback, with no 'message' event, and each reply
 * leaves with no argument checks, no lookup and, when the kernel takes it at once (as
 * it does unless the socket's send buffer is full), no new send request. The handle
 * does the same binds and the same sends. Where this Node offers no handle in the
 * known shape, {@link RawUdp.open} and {@link RawUdp.bind} say so and the caller uses dgram.
 */
import { hasMethods, nodeBinding } from './node-binding.js';
import { statusName } from './errors.js';
import type { Buffer } from 'node:buffer';

/** `send(req, buffers, count, port, ip, wantsCallback)`: the size + 1, 0 (pending) or an errno. */
type SendCall = (
  req: SendReq,
  list: Uint8Array[],
  count: number,
  port: number,
  ip: string,
  cb: boolean,
) => number;

/** The sender of a datagram, as the handle reports it (the object dgram calls `rinfo`). */
export interface RawRemote {
  readonly address: string;
  readonly family: string;
  readonly port: number;
}

type OnMessage = (nread: number, handle: unknown, buf?: Buffer, from?: RawRemote) => void;

interface UdpHandle {
  bind(ip: string, port: number, flags: number): number;
  bind6(ip: string, port: number, flags: number): number;
  send: SendCall;
  send6: SendCall;
  getsockname(out: { address?: string; port?: number; family?: string }): number;
  recvStart(): number;
  bufferSize(size: number, recv: boolean, ctx: object): number | undefined;
  close(cb?: () => void): void;
  onmessage?: OnMessage;
  onerror?: (nread: number, handle: unknown, err: Error) => void;
}

interface SendReq {
  oncomplete: (status: number) => void;
  /** Held by the request so that the bytes live until the kernel took them. */
  list: Uint8Array[];
  address: string;
  port: number;
}

interface UdpBinding {
  UDP: new () => UdpHandle;
  SendWrap: new () => SendReq;
  constants: { UV_UDP_IPV6ONLY: number; UV_UDP_REUSEADDR: number };
}

let binding: UdpBinding | null | undefined;

const METHODS = [
  'bind',
  'bind6',
  'send',
  'send6',
  'getsockname',
  'recvStart',
  'bufferSize',
  'close',
];

function udpBinding(): UdpBinding | null {
  if (binding !== undefined) return binding;
  const b = nodeBinding('udp_wrap') as Partial<UdpBinding> | null;
  const c = b?.constants;
  const flags = typeof c?.UV_UDP_IPV6ONLY === 'number' && typeof c.UV_UDP_REUSEADDR === 'number';
  binding =
    b && flags && typeof b.SendWrap === 'function' && hasMethods(b.UDP, METHODS)
      ? (b as UdpBinding)
      : null;
  return binding;
}

/**
 * A failed UDP call as dgram reports it (`send EACCES 255.255.255.255:9`, with
 * errno, code, syscall, address and port; `recvmsg ECONNREFUSED` without an
 * address), so that messages read the same on both paths.
 */
export function udpError(status: number, syscall: string, address = '', port = 0): Error {
  const code = statusName(status);
  const where = address === '' ? '' : port > 0 ? ` ${address}:${port}` : ` ${address}`;
  const err = Object.assign(new Error(`${syscall} ${code}${where}`), {
    errno: status,
    code,
    syscall,
  });
  if (address === '') return err;
  return port > 0 ? Object.assign(err, { address, port }) : Object.assign(err, { address });
}

/** How {@link RawUdp.bind} binds (dgram's `reuseAddr` and `ipv6Only`). */
export interface RawBindOptions {
  readonly reuseAddress?: boolean;
  readonly ipv6Only?: boolean;
}

/** What the reused buffer list holds between sends (no datagram kept alive). */
const EMPTY = new Uint8Array(0);

/**
 * One unconnected UDP socket on the handle: bound as dgram's first send binds it (any
 * address, a free port) or where asked, as dgram's exclusive bind does; it reads only
 * once {@link receive} is called.
 */
export class RawUdp {
  readonly #handle: UdpHandle;
  readonly #binding: UdpBinding;
  readonly #v6: boolean;
  #closed = false;
  /** The request and buffer list of the next send: kept while sends complete at once. */
  #req: SendReq;
  #list: Uint8Array[] = [EMPTY];

  private constructor(b: UdpBinding, handle: UdpHandle, v6: boolean) {
    this.#binding = b;
    this.#handle = handle;
    this.#v6 = v6;
    this.#req = new b.SendWrap();
  }

  /**
   * A sender for `family` bound at any address and a free port; undefined when this
   * Node offers no UDP handle in the known shape (use dgram). Throws dgram's bind error.
   */
  static open(family: 'IPv4' | 'IPv6'): RawUdp | undefined {
    return RawUdp.bind(family, family === 'IPv6' ? '::' : '0.0.0.0', 0);
  }

  /**
   * A socket bound at `address` (an IP address) and `port`; undefined when this Node
   * offers no UDP handle in the known shape (use dgram). Throws dgram's bind error
   * (`bind EADDRINUSE 127.0.0.1:9999`).
   */
  static bind(
    family: 'IPv4' | 'IPv6',
    address: string,
    port: number,
    opts: RawBindOptions = {},
  ): RawUdp | undefined {
    const b = udpBinding();
    if (!b) return undefined;
    const handle = new b.UDP();
    const v6 = family === 'IPv6';
    let flags = opts.reuseAddress ? b.constants.UV_UDP_REUSEADDR : 0;
    if (opts.ipv6Only) flags |= b.constants.UV_UDP_IPV6ONLY;
    const err = v6 ? handle.bind6(address, port, flags) : handle.bind(address, port, flags);
    if (err !== 0) {
      handle.close();
      throw udpError(err, 'bind', address, port);
    }
    return new RawUdp(b, handle, v6);
  }

  /** The bound address, as `socket.address()` gives it. */
  address(): { address: string; port: number; family: string } | undefined {
    const out: { address?: string; port?: number; family?: string } = {};
    if (this.#closed || this.#handle.getsockname(out) !== 0) return undefined;
    return { address: out.address ?? '', port: out.port ?? 0, family: out.family ?? '' };
  }

  /**
   * Start reading: each datagram (an empty one too) goes to `message` with its
   * sender, a failed read to `error` (dgram's `recvmsg …` error). Call once.
   */
  receive(message: (data: Buffer, from: RawRemote) => void, error: (err: Error) => void): void {
    // one callback per socket, none per datagram
    this.#handle.onmessage = (nread, _handle, buf, from) => {
      if (nread < 0) error(udpError(nread, 'recvmsg'));
      else if (buf !== undefined && from !== undefined) message(buf, from);
    };
    this.#handle.onerror = (_nread, _handle, err) => error(err);
    const err = this.#handle.recvStart();
    if (err !== 0) throw udpError(err, 'recvStart');
  }

  /** SO_RCVBUF; false when the kernel or the size refused it (the default stays). */
  setRecvBufferSize(size: number): boolean {
    if (size >>> 0 !== size) return false;
    return this.#handle.bufferSize(size, true, {}) !== undefined;
  }

  /** Send `data` as one datagram; rejects with dgram's error (`send ENETUNREACH …`). */
  send(data: Uint8Array, port: number, address: string): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('socket is closed'));
    return new Promise((resolve, reject) => {
      const req = new this.#binding.SendWrap();
      req.list = [data];
      req.address = address;
      req.port = port;
      req.oncomplete = (status: number) =>
        status < 0 ? reject(udpError(status, 'send', address, port)) : resolve();
      const r = this.#sendCall(req, req.list, port, address, true);
      // > 0: sent at once (the size + 1); 0: oncomplete follows; < 0: refused
      if (r > 0) resolve();
      else if (r < 0) reject(udpError(r, 'send', address, port));
    });
  }

  /**
   * Send `data` as one datagram and report nothing, as dgram's send without a
   * callback: a refusal is lost as a datagram on the way can be. Handed to the kernel
   * before this returns, or queued by the handle when the send buffer is full.
   */
  sendNow(data: Uint8Array, port: number, address: string): void {
    if (this.#closed) return;
    const req = this.#req;
    const list = this.#list;
    list[0] = data;
    const r = this.#sendCall(req, list, port, address, false);
    if (r === 0) {
      // queued: the request holds the bytes until the kernel takes them, and is its own
      req.list = list;
      this.#req = new this.#binding.SendWrap();
      this.#list = [EMPTY];
    } else {
      list[0] = EMPTY; // sent or refused: hold no datagram between sends
    }
  }

  /** The handle's send of one datagram in `list`, for the socket's family (see {@link SendCall}). */
  #sendCall(req: SendReq, list: Uint8Array[], port: number, address: string, cb: boolean): number {
    const h = this.#handle;
    return this.#v6
      ? h.send6(req, list, 1, port, address, cb)
      : h.send(req, list, 1, port, address, cb);
  }

  /** Close the handle; resolves once it is closed. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return new Promise((resolve) => this.#handle.close(resolve));
  }
}
