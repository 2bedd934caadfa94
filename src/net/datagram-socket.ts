/**
 * One datagram socket over UDP or a unix datagram path: opened towards a peer
 * (connected or not, from a bound source or not; a unix sender binds a private
 * temporary path so that it can be answered) or bound at an address, it sends
 * datagrams and reports each one that arrives as a `message` event with its
 * sender. Datagram boundaries are kept: one send is one datagram. The unix side
 * (unix-datagram-socket.ts, with the native addon) loads only when it is used.
 */
import type { SocketAddress } from './address.js';
import {
  DatagramSocket,
  type DatagramBindOptions,
  type DatagramOpenOptions,
} from './datagram-base.js';
import { bindUdp, openUdp } from './udp-socket.js';

export {
  DatagramSocket,
  UDP_MAX_IPV4,
  UDP_MAX_IPV6,
  type DatagramBindOptions,
  type DatagramOpenOptions,
  type ReplyResult,
} from './datagram-base.js';

type UnixSide = ReturnType<(typeof import('./unix-datagram-socket.js'))['unixSide']>;
let unix: Promise<UnixSide> | undefined;

// the unix side (a native addon, socket-file helpers) loads only for unix sockets
function unixSide(): Promise<UnixSide> {
  return (unix ??= import('./unix-datagram-socket.js').then((m) => m.unixSide(DatagramSocket)));
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
