/**
 * What the datagram clients share: a target turned into an open
 * {@link DatagramSocket}, and their errors in sockit's words (EMSGSIZE, a
 * refused datagram, a failed send).
 */
import { formatUrl, inetAddress, isPathTarget, type InetAddress } from '../net/address.js';
import type { SocketAddress, Target } from '../net/address.js';
import {
  openDatagramSocket,
  type DatagramOpenOptions,
  type DatagramSocket,
} from '../net/datagram-socket.js';
import { ERR, NetworkError, errnoName, errorCode, oneLine, systemError } from '../net/errors.js';
import { resolveHost, type IpFamily } from '../net/resolve.js';
import type { Tap } from '../net/tap.js';

/** A datagram that arrived, with its sender. */
export interface ReceivedDatagram {
  readonly data: Buffer;
  /** The sender: an inet address, or a unix path (empty when the sender is unbound). */
  readonly from: SocketAddress;
}

/** Options shared by the datagram clients. */
export interface DatagramOptions {
  /** Only IPv4 or only IPv6 addresses. */
  family?: IpFamily;
  /** Source address to bind. */
  localAddress?: string;
  /** Source port to bind. */
  localPort?: number;
  /** Record every datagram in and out (`-x`, `-o`). */
  tap?: Tap;
}

/**
 * The address for a datagram host: with no connection to tell a live address
 * from a dead one, a name's IPv4 addresses come first (Python's AF_INET
 * default), so `localhost` reaches servers on 127.0.0.1.
 */
export async function datagramAddress(
  host: string,
  port: number,
  family?: IpFamily,
): Promise<InetAddress> {
  const all = await resolveHost(host, family);
  const a = all.find((r) => r.family === 4) ?? all[0]!;
  return inetAddress(a.address, port, a.family);
}

/** A datagram socket towards `target` (a UDP host resolved as {@link datagramAddress} says). */
export async function openTowards(
  target: Target,
  opts: DatagramOptions & DatagramOpenOptions,
): Promise<DatagramSocket> {
  const peer: SocketAddress = isPathTarget(target)
    ? { family: 'unix', path: target.path }
    : await datagramAddress(target.host, target.port, opts.family);
  const socket = await openDatagramSocket(peer, opts);
  socket.tap = opts.tap;
  return socket;
}

/** The datagram is larger than the socket can send: EMSGSIZE, with the limit. */
export function msgSizeError(size: number, socket: DatagramSocket): NetworkError {
  const limit = socket.maxPayload.toLocaleString('en-US');
  const family = socket.peer?.family ?? 'unix';
  const what = family === 'unix' ? 'for unix datagrams' : `over ${family}`;
  return new NetworkError(
    `datagram too large — ${size} bytes, the limit ${what} is ${limit} bytes (EMSGSIZE)`,
    systemError('EMSGSIZE'),
    ERR.MSGSIZE,
  );
}

/** The socket's peer as a URL: `udp://127.0.0.1:9`, `unix:///tmp/d.sock`. */
export function remoteUrl(socket: DatagramSocket): string {
  return socket.peer ? formatUrl('udp', socket.peer) : 'the peer';
}

/** A failed send (or an ICMP refusal) towards the socket's peer, in one line. */
export function sendError(err: unknown, socket: DatagramSocket): NetworkError {
  const remote = remoteUrl(socket);
  const code = errorCode(err);
  // the unix-dgram addon reports errors as numbers (`send -2`): give them their names
  const cause = code && !errnoName(err) ? systemError(code) : err;
  const text = code && !errnoName(err) ? code : oneLine(err);
  if (code === 'ECONNREFUSED' || code === 'ENOENT') {
    return new NetworkError(
      `${remote} refused the datagram — nothing is listening there (${code})`,
      cause,
      ERR.REFUSED,
    );
  }
  const hint = code === 'EACCES' ? ' (a broadcast address needs --broadcast)' : '';
  return new NetworkError(`cannot send to ${remote} — ${text}${hint}`, cause, ERR.DATAGRAM);
}
