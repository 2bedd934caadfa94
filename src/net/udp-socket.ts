/**
 * The UDP side of datagram-socket.ts: a socket on node:dgram, or, where this Node's
 * UDP handle has the known shape and nothing observable differs, straight on that
 * handle (udp-raw.ts): a send-only client, and a bound socket (a server's, or
 * `recvfrom`'s) whose datagrams arrive without dgram's 'message' event and whose
 * replies leave without dgram's argument checks, lookup and request per send.
 */
import {
  createSocket,
  type RemoteInfo,
  type Socket as UdpSocket,
  type SocketOptions,
} from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns';
import type { Buffer } from 'node:buffer';
import { isIP } from './ip.js';
import {
  formatEndpoint,
  formatUrl,
  inetAddress,
  type InetAddress,
  type SocketAddress,
} from './address.js';
import { ERR, NetworkError, bindError, oneLine } from './errors.js';
import { RawUdp, type RawRemote } from './udp-raw.js';
import {
  DatagramSocket,
  UDP_MAX_IPV4,
  UDP_MAX_IPV6,
  type DatagramBindOptions,
  type DatagramOpenOptions,
} from './datagram-base.js';

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

/** What the two UDP sockets share: the size limit, and the checks and tap before a send. */
abstract class UdpSocketBase extends DatagramSocket {
  protected constructor(family: InetAddress['family'], peer: InetAddress | undefined) {
    super(peer, family === 'IPv6' ? UDP_MAX_IPV6 : UDP_MAX_IPV4);
  }

  protected readonly onError = (err: Error): void => this.fail(err);

  protected sendTo(data: Uint8Array, to: SocketAddress): Promise<void> {
    if (to.family === 'unix')
      return Promise.reject(new TypeError('a UDP socket cannot send to a unix path'));
    return this.sendDatagram(data, to);
  }

  override sendNow(data: Uint8Array, to: SocketAddress, conn: number | undefined): void {
    if (this.closed || to.family === 'unix') {
      super.sendNow(data, to, conn); // rejected there, with the reason
      return;
    }
    this.tap?.datagram('>', data, to, conn);
    this.sendDatagramNow(data, to);
  }

  /** Send one datagram to `to`; rejects with the system error. */
  protected abstract sendDatagram(data: Uint8Array, to: InetAddress): Promise<void>;

  /** Hand one datagram to the kernel and report nothing (see `sendNow()`). */
  protected abstract sendDatagramNow(data: Uint8Array, to: InetAddress): void;
}

class UdpDatagramSocket extends UdpSocketBase {
  readonly #socket: UdpSocket;
  readonly #connected: boolean;

  constructor(
    socket: UdpSocket,
    family: InetAddress['family'],
    peer: InetAddress | undefined,
    connected: boolean,
  ) {
    super(family, peer);
    this.#socket = socket;
    this.#connected = connected;
    socket.on('message', this.#onMessage);
    socket.on('error', this.onError);
  }

  readonly #onMessage = (data: Buffer, rinfo: RemoteInfo): void =>
    this.deliver(data, inetAddress(rinfo.address, rinfo.port, rinfo.family));

  get address(): SocketAddress | undefined {
    try {
      const a = this.#socket.address();
      return inetAddress(a.address, a.port, a.family);
    } catch {
      return undefined; // not bound yet: the first send binds it
    }
  }

  protected sendDatagram(data: Uint8Array, to: InetAddress): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (err: Error | null): void => (err ? reject(err) : resolve());
      if (this.#connected && to === this.peer) this.#socket.send(data, done);
      else this.#socket.send(data, to.port, to.address, done);
    });
  }

  protected sendDatagramNow(data: Uint8Array, to: InetAddress): void {
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

/**
 * A UDP socket on Node's UDP handle: send-only ({@link DatagramOpenOptions.sendOnly}),
 * or bound and reading (see {@link bindUdp}).
 */
class RawUdpDatagramSocket extends UdpSocketBase {
  readonly #raw: RawUdp;

  constructor(raw: RawUdp, family: InetAddress['family'], peer: InetAddress | undefined) {
    super(family, peer);
    this.#raw = raw;
  }

  /** Start reading (a bound socket): each datagram is a `message`. */
  receive(): void {
    this.#raw.receive(this.#onMessage, this.onError);
  }

  // the sender in the shape inetAddress() gives (the handle's family is IPv4 or IPv6)
  readonly #onMessage = (data: Buffer, from: RawRemote): void =>
    this.deliver(data, {
      family: from.family === 'IPv6' ? 'IPv6' : 'IPv4',
      address: from.address,
      port: from.port,
    });

  get address(): SocketAddress | undefined {
    const a = this.#raw.address();
    return a && inetAddress(a.address, a.port, a.family);
  }

  protected sendDatagram(data: Uint8Array, to: InetAddress): Promise<void> {
    return this.#raw.send(data, to.port, to.address);
  }

  protected sendDatagramNow(data: Uint8Array, to: InetAddress): void {
    this.#raw.sendNow(data, to.port, to.address);
  }

  /** SO_RCVBUF; the kernel may refuse or cap it: then the default stays. */
  setRecvBufferSize(size: number): void {
    this.#raw.setRecvBufferSize(size);
  }

  protected closeSocket(): Promise<void> {
    return this.#raw.close();
  }
}

/** The send-only socket when the options allow one and this Node has the handle. */
function rawUdp(peer: InetAddress, opts: DatagramOpenOptions): DatagramSocket | undefined {
  const { sendOnly, connect, broadcast, localAddress, localPort } = opts;
  if (!sendOnly || connect || broadcast || localAddress !== undefined || localPort !== undefined)
    return undefined;
  const raw = RawUdp.open(peer.family);
  return raw && new RawUdpDatagramSocket(raw, peer.family, peer);
}

/**
 * The bound socket on the handle, when this Node has one and the address is an IP
 * address of the socket's family (dgram resolves a name first); undefined otherwise.
 * Throws dgram's bind error.
 */
function rawBound(local: InetAddress, opts: DatagramBindOptions): DatagramSocket | undefined {
  if (isIP(local.address) !== (local.family === 'IPv6' ? 6 : 4)) return undefined;
  const { reuseAddress, ipv6Only } = opts;
  const raw = RawUdp.bind(local.family, local.address, local.port, { reuseAddress, ipv6Only });
  if (!raw) return undefined;
  const socket = new RawUdpDatagramSocket(raw, local.family, undefined);
  try {
    if (opts.recvBufferSize) socket.setRecvBufferSize(opts.recvBufferSize);
    socket.receive();
  } catch (err) {
    void socket.close();
    throw err;
  }
  return socket;
}

/** A UDP socket towards `peer`; see `openDatagramSocket()`. */
export async function openUdp(
  peer: InetAddress,
  opts: DatagramOpenOptions,
): Promise<DatagramSocket> {
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

/** A UDP socket bound at `local`; see `bindDatagramSocket()`. */
export async function bindUdp(
  local: InetAddress,
  opts: DatagramBindOptions,
): Promise<DatagramSocket> {
  try {
    const raw = rawBound(local, opts);
    if (raw) return raw;
  } catch (err) {
    throw bindError(err, formatEndpoint(local), 'bind');
  }
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
