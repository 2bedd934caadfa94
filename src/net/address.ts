/**
 * Socket addresses, the one vocabulary of every layer: a bound or peer address
 * ({@link SocketAddress}), where a client goes before its name is resolved
 * ({@link Target}), parsing of ports, hosts and unix paths, and the one formatter
 * for both (`127.0.0.1:80`, `[::1]:80`, the path) with its `scheme://` banner form.
 */
import { isIP } from './ip.js';
import { Buffer } from 'node:buffer';
import { ERR, UsageError } from './errors.js';
import { safeValue } from './terminal.js';

/** An IPv4 or IPv6 endpoint. */
export interface InetAddress {
  readonly family: 'IPv4' | 'IPv6';
  readonly address: string;
  readonly port: number;
}

/** A unix socket endpoint; `path` is empty for an unnamed (unbound) peer. */
export interface UnixAddress {
  readonly family: 'unix';
  readonly path: string;
}

/** Any endpoint a server binds to or a request comes from. */
export type SocketAddress = InetAddress | UnixAddress;

/** A TCP/UDP endpoint given by host name or IP literal, not yet resolved. */
export interface HostTarget {
  readonly host: string;
  readonly port: number;
}

/** A unix socket endpoint given by path. */
export interface PathTarget {
  readonly path: string;
}

/** Where a client connects or sends to, or where a server binds, as the user gave it. */
export type Target = HostTarget | PathTarget;

/** Whether a target is a unix path. */
export function isPathTarget(target: Target): target is PathTarget {
  return 'path' in target;
}

/** Transports sockit speaks. */
export type Transport = 'tcp' | 'udp' | 'unix' | 'unix-dgram';

/** Longest unix socket path Linux accepts (sun_path is 108 bytes with the NUL). */
export const UNIX_PATH_MAX = 107;

/** Parse a port number (0-65535); throws a UsageError otherwise. */
export function parsePort(value: string | number, what = 'port'): number {
  const text = String(value).trim();
  if (!/^\d+$/.test(text))
    throw new UsageError(`invalid ${what} '${safeValue(String(value))}' — not a number`);
  const port = Number(text);
  if (port > 65535)
    throw new UsageError(`invalid ${what} '${safeValue(String(value))}' — out of range 0-65535`);
  return port;
}

/** Strip the brackets of an IPv6 literal (`[::1]` → `::1`). */
export function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** Check a unix socket path the way the kernel would, since Node 20 silently truncates. */
export function checkUnixPath(path: string): string {
  if (path === '') throw new UsageError('invalid unix socket path — empty');
  if (path.includes('\0')) throw new UsageError('invalid unix socket path — contains a NUL byte');
  const bytes = Buffer.byteLength(path);
  if (bytes > UNIX_PATH_MAX) {
    throw new UsageError(
      `unix socket path too long — ${bytes} bytes, the limit is ${UNIX_PATH_MAX}: ${path}`,
      ERR.PATH_TOO_LONG,
    );
  }
  return path;
}

/** The family Node reports for a host literal, or undefined for a name. */
export function familyOf(host: string): 'IPv4' | 'IPv6' | undefined {
  const v = isIP(unbracket(host));
  return v === 4 ? 'IPv4' : v === 6 ? 'IPv6' : undefined;
}

/**
 * `127.0.0.1:80`, `[::1]:80` or the unix path (`(unnamed)` for an unbound unix
 * peer), for an address or a target alike: the one formatter of sockit.
 */
export function formatEndpoint(addr: SocketAddress | Target): string {
  if ('path' in addr) return addr.path || '(unnamed)';
  const [host, port] = 'host' in addr ? [addr.host, addr.port] : [addr.address, addr.port];
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The banner form: `tcp://127.0.0.1:9999`, `udp://[::1]:53`, `unix:///tmp/s.sock`
 * (stream or datagram); over TLS (`secure`), `tls://127.0.0.1:4433` and `tls+unix:///tmp/s.sock`.
 */
export function formatUrl(
  transport: Transport,
  addr: SocketAddress | Target,
  secure = false,
): string {
  if ('path' in addr) return `${secure ? 'tls+unix' : 'unix'}://${addr.path}`;
  return `${secure ? 'tls' : transport}://${formatEndpoint(addr)}`;
}

/** Normalise an address from Node (`::ffff:1.2.3.4` stays as given; family from the literal). */
export function inetAddress(address: string, port: number, family?: string | number): InetAddress {
  const fam =
    family === 'IPv6' || family === 6
      ? 'IPv6'
      : family === 'IPv4' || family === 4
        ? 'IPv4'
        : (familyOf(address) ?? 'IPv4');
  return { family: fam, address, port };
}

/** What {@link remoteAddress} reads of a connected socket. */
export interface RemoteEnd {
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  readonly remoteFamily?: string;
}

/** The peer of a connected stream socket; a unix socket's is the path it connected to (or unnamed). */
export function remoteAddress(socket: RemoteEnd, path = ''): SocketAddress {
  if (socket.remoteAddress === undefined) return { family: 'unix', path };
  return inetAddress(socket.remoteAddress, socket.remotePort ?? 0, socket.remoteFamily);
}

/** Our end of a connected inet socket; `fallback` when it has none (a unix socket, another stream). */
export function localAddress(socket: unknown, fallback: SocketAddress): SocketAddress {
  const s = socket as { localAddress?: unknown; localPort?: unknown; localFamily?: string };
  if (typeof s.localAddress !== 'string' || typeof s.localPort !== 'number') return fallback;
  return inetAddress(s.localAddress, s.localPort, s.localFamily);
}
