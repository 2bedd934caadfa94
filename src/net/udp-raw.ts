/**
 * A send-only UDP socket straight on Node's UDP handle (the one dgram.Socket is
 * built on), for a client that sends and never reads: `sockit sendto host port x`.
 * dgram's first send binds, and its bind loads `cluster` (to ask whether this is a
 * cluster worker), which loads `child_process`, `net` and the stream stack: about
 * thirty modules for one datagram. The handle does the same bind and the same send.
 * Where this Node offers no handle in the known shape, {@link RawUdpSender.open}
 * says so and the caller uses dgram.
 */
import { hasMethods, nodeBinding } from './node-binding.js';
import { statusName } from './errors.js';

/** `send(req, buffers, count, port, ip, wantsCallback)`: the size + 1, 0 (pending) or an errno. */
type SendCall = (
  req: SendReq,
  list: Uint8Array[],
  count: number,
  port: number,
  ip: string,
  cb: boolean,
) => number;

interface UdpHandle {
  bind(ip: string, port: number, flags: number): number;
  bind6(ip: string, port: number, flags: number): number;
  send: SendCall;
  send6: SendCall;
  getsockname(out: { address?: string; port?: number; family?: string }): number;
  close(cb?: () => void): void;
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
}

let binding: UdpBinding | null | undefined;

function udpBinding(): UdpBinding | null {
  if (binding !== undefined) return binding;
  const b = nodeBinding('udp_wrap') as Partial<UdpBinding> | null;
  const methods = ['bind', 'bind6', 'send', 'send6', 'getsockname', 'close'];
  binding =
    b && typeof b.SendWrap === 'function' && hasMethods(b.UDP, methods) ? (b as UdpBinding) : null;
  return binding;
}

/**
 * A failed UDP call as dgram reports it (`send EACCES 255.255.255.255:9`, with
 * errno, code, syscall, address and port), so that messages read the same on both paths.
 */
export function udpError(status: number, syscall: string, address: string, port: number): Error {
  const code = statusName(status);
  const where = port > 0 ? ` ${address}:${port}` : ` ${address}`;
  const err = Object.assign(new Error(`${syscall} ${code}${where}`), {
    errno: status,
    code,
    syscall,
    address,
  });
  return port > 0 ? Object.assign(err, { port }) : err;
}

/**
 * One unconnected UDP socket that only sends, bound as dgram's first send binds it
 * (any address, a free port, exclusive). Nothing it receives is read.
 */
export class RawUdpSender {
  readonly #handle: UdpHandle;
  readonly #binding: UdpBinding;
  readonly #v6: boolean;
  #closed = false;

  private constructor(b: UdpBinding, handle: UdpHandle, v6: boolean) {
    this.#binding = b;
    this.#handle = handle;
    this.#v6 = v6;
  }

  /**
   * A bound sender for `family`; undefined when this Node offers no UDP handle in
   * the known shape (use dgram). Throws dgram's bind error when the bind fails.
   */
  static open(family: 'IPv4' | 'IPv6'): RawUdpSender | undefined {
    const b = udpBinding();
    if (!b) return undefined;
    const handle = new b.UDP();
    const v6 = family === 'IPv6';
    const any = v6 ? '::' : '0.0.0.0';
    const err = v6 ? handle.bind6(any, 0, 0) : handle.bind(any, 0, 0);
    if (err !== 0) {
      handle.close();
      throw udpError(err, 'bind', any, 0);
    }
    return new RawUdpSender(b, handle, v6);
  }

  /** The bound address, as `socket.address()` gives it. */
  address(): { address: string; port: number; family: string } | undefined {
    const out: { address?: string; port?: number; family?: string } = {};
    if (this.#closed || this.#handle.getsockname(out) !== 0) return undefined;
    return { address: out.address ?? '', port: out.port ?? 0, family: out.family ?? '' };
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
      const h = this.#handle;
      const r = this.#v6
        ? h.send6(req, req.list, 1, port, address, true)
        : h.send(req, req.list, 1, port, address, true);
      // > 0: sent at once (the size + 1); 0: oncomplete follows; < 0: refused
      if (r > 0) resolve();
      else if (r < 0) reject(udpError(r, 'send', address, port));
    });
  }

  /** Close the handle; resolves once it is closed. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return new Promise((resolve) => this.#handle.close(resolve));
  }
}
