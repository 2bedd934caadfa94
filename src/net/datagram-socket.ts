/**
 * One datagram socket over UDP or a unix datagram path: opened towards a peer
 * (connected or not, from a bound source or not; a unix sender binds a private
 * temporary path so that it can be answered) or bound at an address, it sends
 * datagrams and reports each one that arrives as a `message` event with its
 * sender. Datagram boundaries are kept: one send is one datagram. The unix side
 * (unix-datagram-socket.ts, with the native addon) loads only when it is used.
 */
import {
  createSocket,
  type RemoteInfo,
  type Socket as UdpSocket,
  type SocketOptions,
} from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns';
import { isIP } from './ip.js';
import { EventEmitter } from 'node:events';
import { Buffer } from 'node:buffer';
import {
  formatEndpoint,
  formatUrl,
  inetAddress,
  type InetAddress,
  type SocketAddress,
} from './address.js';
import { ERR, NetworkError, bindError, errnoName, oneLine } from './errors.js';
import { debug } from './debug.js';
import { RawUdpSender } from './udp-raw.js';
import type { Tap } from './tap.js';

/** Largest UDP payload over IPv4 (65,535 − 8 UDP − 20 IP header bytes). */
export const UDP_MAX_IPV4 = 65507;
/** Largest UDP payload over IPv6 (65,535 − 8 UDP header bytes). */
export const UDP_MAX_IPV6 = 65527;

/** How {@link openDatagramSocket} sets a socket up. */
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

/** How {@link bindDatagramSocket} binds. */
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

type UnixSide = ReturnType<(typeof import('./unix-datagram-socket.js'))['unixSide']>;
let unix: Promise<UnixSide> | undefined;

// the unix side (a native addon, socket-file helpers) loads only for unix sockets
function unixSide(): Promise<UnixSide> {
  return (unix ??= import('./unix-datagram-socket.js').then((m) => m.unixSide(DatagramSocket)));
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

/**
 * A socket towards `peer`: UDP (bound first with a source address, a source
 * port or `broadcast`; connected with `connect`), or unix datagram from a
 * private temporary path that `close()` removes. Rejects with a one-line
 * NetworkError when the socket cannot be set up.
 */
export function openDatagramSocket(
  peer: SocketAddress,
  opts: DatagramOpenOptions = {},
): Promise<DatagramSocket> {
  return peer.family === 'unix' ? unixSide().then((u) => u.open(peer)) : openUdp(peer, opts);
}

/**
 * A socket bound at `local` (UDP: an IP address and port, 0 = any free port,
 * never shared; unix: a path, where only a stale socket file is replaced).
 * Rejects with the one-line bind error (`cannot bind … — address in use (EADDRINUSE)`).
 */
export function bindDatagramSocket(
  local: SocketAddress,
  opts: DatagramBindOptions = {},
): Promise<DatagramSocket> {
  return local.family === 'unix'
    ? unixSide().then((u) => u.bind(local, opts))
    : bindUdp(local, opts);
}

let lastAddress = '';
let lastFamily = 4;

/**
 * dgram resolves every destination before it sends, even an address (dns.lookup then
 * answers a tick later). Every address a socket here sends to is one already: answer
 * at once, and let dns.lookup handle anything else.
 */
const lookup: NonNullable<SocketOptions['lookup']> = (host, options, callback) => {
  // a server replies to the same few senders: the last address needs no second look
  if (host === lastAddress) {
    callback(null, host, lastFamily);
    return;
  }
  const family = isIP(host);
  if (family === 0) {
    dnsLookup(host, options, callback);
    return;
  }
  lastAddress = host;
  lastFamily = family;
  callback(null, host, family);
};

class UdpDatagramSocket extends DatagramSocket {
  readonly #socket: UdpSocket;
  readonly #connected: boolean;

  constructor(
    socket: UdpSocket,
    family: InetAddress['family'],
    peer: InetAddress | undefined,
    connected: boolean,
  ) {
    super(peer, family === 'IPv6' ? UDP_MAX_IPV6 : UDP_MAX_IPV4);
    this.#socket = socket;
    this.#connected = connected;
    socket.on('message', this.#onMessage);
    socket.on('error', this.#onError);
  }

  readonly #onMessage = (data: Buffer, rinfo: RemoteInfo): void =>
    this.deliver(data, inetAddress(rinfo.address, rinfo.port, rinfo.family));

  readonly #onError = (err: Error): void => this.fail(err);

  get address(): SocketAddress | undefined {
    try {
      const a = this.#socket.address();
      return inetAddress(a.address, a.port, a.family);
    } catch {
      return undefined; // not bound yet: the first send binds it
    }
  }

  protected sendTo(data: Uint8Array, to: SocketAddress): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (err: Error | null): void => (err ? reject(err) : resolve());
      if (to.family === 'unix') reject(new TypeError('a UDP socket cannot send to a unix path'));
      else if (this.#connected && to === this.peer) this.#socket.send(data, done);
      else this.#socket.send(data, to.port, to.address, done);
    });
  }

  override sendNow(data: Uint8Array, to: SocketAddress, conn: number | undefined): void {
    if (this.closed || to.family === 'unix') {
      super.sendNow(data, to, conn); // rejected there, with the reason
      return;
    }
    this.tap?.datagram('>', data, to, conn);
    // no callback, as a plain dgram echo sends: a callback costs a tick per send
    if (this.#connected && to === this.peer) this.#socket.send(data);
    else this.#socket.send(data, to.port, to.address);
  }

  protected closeSocket(): Promise<void> {
    return new Promise((resolve) => {
      try {
        this.#socket.close(() => resolve());
      } catch {
        resolve(); // already closed
      }
    });
  }
}

/** Run a dgram call that reports failure as an `error` event and success through its callback. */
function udpStep(socket: UdpSocket, call: (done: () => void) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    call(() => {
      socket.off('error', reject);
      resolve();
    });
  });
}

/** A send-only UDP socket on Node's UDP handle ({@link DatagramOpenOptions.sendOnly}). */
class RawUdpDatagramSocket extends DatagramSocket {
  readonly #sender: RawUdpSender;

  constructor(sender: RawUdpSender, peer: InetAddress) {
    super(peer, peer.family === 'IPv6' ? UDP_MAX_IPV6 : UDP_MAX_IPV4);
    this.#sender = sender;
  }

  get address(): SocketAddress | undefined {
    const a = this.#sender.address();
    return a && inetAddress(a.address, a.port, a.family);
  }

  protected sendTo(data: Uint8Array, to: SocketAddress): Promise<void> {
    if (to.family === 'unix')
      return Promise.reject(new TypeError('a UDP socket cannot send to a unix path'));
    return this.#sender.send(data, to.port, to.address);
  }

  protected closeSocket(): Promise<void> {
    return this.#sender.close();
  }
}

/** The send-only socket when the options allow one and this Node has the handle. */
function rawUdp(peer: InetAddress, opts: DatagramOpenOptions): DatagramSocket | undefined {
  const { sendOnly, connect, broadcast, localAddress, localPort } = opts;
  if (!sendOnly || connect || broadcast || localAddress !== undefined || localPort !== undefined)
    return undefined;
  const sender = RawUdpSender.open(peer.family);
  return sender && new RawUdpDatagramSocket(sender, peer);
}

async function openUdp(peer: InetAddress, opts: DatagramOpenOptions): Promise<DatagramSocket> {
  let socket: UdpSocket | undefined;
  try {
    const raw = rawUdp(peer, opts);
    if (raw) return raw;
    const udp = createSocket({ type: peer.family === 'IPv6' ? 'udp6' : 'udp4', lookup });
    socket = udp;
    if (opts.localAddress !== undefined || opts.localPort !== undefined || opts.broadcast) {
      const where = { address: opts.localAddress, port: opts.localPort ?? 0 };
      await udpStep(udp, (done) => udp.bind(where, done));
    }
    if (opts.broadcast) udp.setBroadcast(true);
    if (opts.connect) await udpStep(udp, (done) => udp.connect(peer.port, peer.address, done));
    return new UdpDatagramSocket(udp, peer.family, peer, opts.connect === true);
  } catch (err) {
    socket?.close();
    throw new NetworkError(
      `cannot use ${formatUrl('udp', peer)} — ${oneLine(err)}`,
      err,
      ERR.DATAGRAM,
    );
  }
}

async function bindUdp(local: InetAddress, opts: DatagramBindOptions): Promise<DatagramSocket> {
  const type = local.family === 'IPv6' ? 'udp6' : 'udp4';
  const socket = createSocket({
    type,
    ipv6Only: opts.ipv6Only,
    reuseAddr: opts.reuseAddress,
    lookup,
  });
  try {
    const where = { address: local.address, port: local.port, exclusive: true };
    await udpStep(socket, (done) => socket.bind(where, done));
  } catch (err) {
    socket.close();
    throw bindError(err, formatEndpoint(local), 'bind');
  }
  if (opts.recvBufferSize) {
    try {
      socket.setRecvBufferSize(opts.recvBufferSize);
    } catch {
      // the kernel may cap it (net.core.rmem_max): keep the default
    }
  }
  return new UdpDatagramSocket(socket, local.family, undefined, false);
}
