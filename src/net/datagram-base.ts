/**
 * The datagram socket's base class and options (datagram-socket.ts opens and binds
 * them; udp-socket.ts and unix-datagram-socket.ts are the two kinds): kept apart so
 * that the kinds build on it without importing the module that chooses between them.
 */
import { EventEmitter } from 'node:events';
import type { Buffer } from 'node:buffer';
import { formatEndpoint, type SocketAddress } from './address.js';
import { errnoName } from './errors.js';
import { debug } from './debug.js';
import type { Tap } from './tap.js';

/** Largest UDP payload over IPv4 (65,535 − 8 UDP − 20 IP header bytes). */
export const UDP_MAX_IPV4 = 65507;
/** Largest UDP payload over IPv6 (65,535 − 8 UDP header bytes). */
export const UDP_MAX_IPV6 = 65527;

/** How `openDatagramSocket()` sets a socket up. */
export interface DatagramOpenOptions {
  /**
   * UDP: connect to the peer, so that only its datagrams arrive and an ICMP
   * refusal comes as an `error` (ECONNREFUSED). A unix socket is never
   * connected: the peer is only its default destination.
   */
  connect?: boolean;
  /** UDP: source address to bind first. */
  localAddress?: string;
  /** UDP: source port to bind first. */
  localPort?: number;
  /** UDP: allow broadcast destinations (binds first). */
  broadcast?: boolean;
  /**
   * UDP: nothing will be read from the socket (no `message` listener, ever): it may
   * then be a bare send-only handle, which starts faster than a dgram socket.
   */
  sendOnly?: boolean;
}

/** How `bindDatagramSocket()` binds. */
export interface DatagramBindOptions {
  /** UDP on `::`: receive IPv6 only. */
  ipv6Only?: boolean;
  /** UDP: SO_REUSEADDR, so that other sockets may bind the same port. */
  reuseAddress?: boolean;
  /** UDP: SO_RCVBUF in bytes (the kernel may cap it: then the default stays). */
  recvBufferSize?: number;
  /** unix: the mode of the socket file (default 0600). */
  mode?: number;
}

/** What became of a reply: sent, or dropped because the unix sender is gone or full. */
export type ReplyResult = 'sent' | 'gone' | 'full';

const replySent = (): ReplyResult => 'sent';

/** A reply a unix sender cannot take is dropped, not held: it closed, or does not read. */
function unixReplyFailed(err: unknown, to: SocketAddress): ReplyResult {
  const code = errnoName(err) ?? '';
  if (!['ECONNREFUSED', 'ENOENT', 'EAGAIN'].includes(code)) throw err;
  debug('reply to %s dropped: %s', formatEndpoint(to), code);
  return code === 'EAGAIN' ? 'full' : 'gone';
}

/**
 * A UDP or unix datagram socket. Events: `message` (data: Buffer, from:
 * SocketAddress — a unix sender that is not bound has an empty path —, and the
 * datagram's number in a numbered {@link tap}) and `error` (Error; a connected UDP
 * socket reports an ICMP refusal so). Nothing is emitted once {@link close} was called.
 */
export abstract class DatagramSocket extends EventEmitter {
  /** Where {@link send} goes when given no destination (undefined for a bound socket). */
  readonly peer: SocketAddress | undefined;
  /** The largest datagram this socket sends whole. */
  readonly maxPayload: number;
  /** Records every datagram this socket delivers and sends (`-x`, `-o`); none by default. */
  tap: Tap | undefined;
  #closing: Promise<void> | undefined;

  protected constructor(peer: SocketAddress | undefined, maxPayload: number) {
    super();
    this.peer = peer;
    this.maxPayload = maxPayload;
  }

  /** The address this socket is bound to, or undefined while it is not bound. */
  abstract get address(): SocketAddress | undefined;

  /**
   * Send one datagram to `to` (default: the peer); `conn` is the number the tap
   * gave the datagram this answers. Rejects with the system error.
   */
  send(data: Uint8Array, to: SocketAddress | undefined = this.peer, conn?: number): Promise<void> {
    if (to === undefined) return Promise.reject(new TypeError('no destination for the datagram'));
    if (this.#closing) return Promise.reject(new Error('socket is closed'));
    // recorded as it is handed over: a reply could be read before the send completes
    this.tap?.datagram('>', data, to, conn);
    return this.sendTo(data, to);
  }

  /**
   * Send as {@link send} does, without a promise and without waiting (a server's reply
   * to each datagram, a relay's datagram to its peer). UDP: `to` is an address, and the
   * datagram is handed to the kernel before this returns (a close right after loses
   * nothing); what the kernel refuses is lost as a datagram on the way can be,
   * unreported (dgram without a callback): check the size first. Unix: a failure is an
   * `error` event.
   */
  sendNow(data: Uint8Array, to: SocketAddress, conn: number | undefined): void {
    this.send(data, to, conn).catch((err: Error) => this.fail(err));
  }

  /**
   * Send a reply to `to` as {@link send} does, except that a reply a unix sender
   * cannot take is dropped, never held, and is no failure (like a UDP reply to a
   * port nobody listens on any more): the sender is not bound (`'gone'`), closed or
   * removed its socket (`'gone'`), or does not read and its queue is full (`'full'`).
   */
  reply(data: Uint8Array, to: SocketAddress, conn?: number): Promise<ReplyResult> {
    if (to.family === 'unix' && !to.path) {
      debug('unix datagram from an unbound sender: reply dropped');
      return Promise.resolve('gone');
    }
    // one promise per reply on the UDP path (a hot one): no async wrapper
    const sent = this.send(data, to, conn);
    return to.family === 'unix'
      ? sent.then(replySent, (err) => unixReplyFailed(err, to))
      : sent.then(replySent);
  }

  /** Close the socket and remove what it made on disk; later calls await the same close. */
  close(): Promise<void> {
    this.#closing ??= this.closeSocket();
    return this.#closing;
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** Send to a destination of the socket's own kind. Do not override outside this module. */
  protected abstract sendTo(data: Uint8Array, to: SocketAddress): Promise<void>;

  /** Close what this socket holds; called once. Do not override outside this module. */
  protected abstract closeSocket(): Promise<void>;

  /** Report a datagram (recorded first when tapped). */
  protected deliver(data: Buffer, from: SocketAddress): void {
    if (this.closed) return;
    const tap = this.tap;
    if (tap === undefined) {
      this.emit('message', data, from);
      return;
    }
    const conn = tap.nextNumber();
    tap.datagram('<', data, from, conn);
    this.emit('message', data, from, conn);
  }

  /** Report an error; a socket being closed has nothing more to say. */
  protected fail(err: Error): void {
    if (!this.closed) this.emit('error', err);
  }
}
