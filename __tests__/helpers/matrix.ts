/**
 * The engine matrix helper, after CPython's test_socketserver `run_server()`:
 * bind a server of the given transport on port 0 (or a temp unix path), run
 * `serveForever()`, hand a client to `examine`, then shut down, close, and check
 * that `serveForever()` returned and nothing was left behind.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Buffer } from 'node:buffer';
import type { BaseServer, ConcurrencyMode } from '../../src/engine/base-server.js';
import type { SocketAddress, InetAddress } from '../../src/net/address.js';
import type { HandlerClass } from '../../src/engine/request-handler.js';
import { TCPServer, UnixStreamServer } from '../../src/engine/stream-server.js';
import { UDPServer, UnixDatagramServer } from '../../src/engine/datagram-server.js';
import { UnixDgramSocket } from '../../src/net/unix-dgram.js';
import { exchange, tempSocketPath } from './loopback.js';

/** The four server classes, by transport. */
export type MatrixTransport = 'tcp' | 'udp' | 'unix' | 'unix-dgram';

/** Every transport, in the order the matrix runs them. */
export const TRANSPORTS: readonly MatrixTransport[] = ['tcp', 'udp', 'unix', 'unix-dgram'];

/** Is this a datagram transport? */
export function isDatagram(transport: MatrixTransport): boolean {
  return transport === 'udp' || transport === 'unix-dgram';
}

/** What `examine` gets. */
export interface ServerCase {
  readonly transport: MatrixTransport;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly server: BaseServer<any>;
  readonly address: SocketAddress;
  /** One request: a connection that sends `data` and half-closes, or one datagram. */
  request(data: Uint8Array | string): Promise<Buffer>;
  /** A fresh temp directory for client-side files (removed afterwards). */
  readonly dir: string;
}

/** Server options the matrix passes through. */
export interface MatrixOptions {
  mode?: ConcurrencyMode;
  timeout?: number | null;
  log?: (line: string) => void;
  /** IPv4 by default; `::1` for IPv6 cases. */
  host?: string;
}

/**
 * Build (but do not bind) a server of `transport` on port 0 or a temp path in `dir`.
 */
export function makeServer(
  transport: MatrixTransport,
  Handler: HandlerClass<never>,
  dir: string,
  options: MatrixOptions = {},
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
): BaseServer<any> {
  const host = options.host ?? '127.0.0.1';
  const opts = { mode: options.mode, timeout: options.timeout, log: options.log };
  switch (transport) {
    case 'tcp':
      return new TCPServer({ host, port: 0 }, Handler as never, opts);
    case 'udp':
      return new UDPServer({ host, port: 0 }, Handler as never, opts);
    case 'unix':
      return new UnixStreamServer(join(dir, 's.sock'), Handler as never, opts);
    case 'unix-dgram':
      return new UnixDatagramServer(join(dir, 'd.sock'), Handler as never, opts);
  }
}

/** Send one UDP datagram from a fresh socket and wait for one reply. */
export async function udpRequest(
  target: InetAddress,
  data: Uint8Array | string,
  socket?: UdpSocket,
): Promise<Buffer> {
  const own = socket === undefined;
  const s = socket ?? createSocket(target.family === 'IPv6' ? 'udp6' : 'udp4');
  try {
    const reply = once(s, 'message') as Promise<[Buffer]>;
    s.send(typeof data === 'string' ? Buffer.from(data) : data, target.port, target.address);
    const [msg] = await reply;
    return msg;
  } finally {
    if (own) s.close();
  }
}

let clientSeq = 0;

/** Send one unix datagram from a socket bound in `dir` and wait for one reply. */
export async function unixDgramRequest(
  serverPath: string,
  data: Uint8Array | string,
  dir: string,
): Promise<Buffer> {
  const s = new UnixDgramSocket();
  try {
    s.bind(join(dir, `c${clientSeq++}.sock`));
    const reply = once(s, 'message') as Promise<[Buffer, string]>;
    await s.send(typeof data === 'string' ? Buffer.from(data) : Buffer.from(data), serverPath);
    const [msg] = await reply;
    return msg;
  } finally {
    s.close();
  }
}

/** One request against a bound server of `transport`. */
export function requestFor(
  transport: MatrixTransport,
  address: SocketAddress,
  dir: string,
): (data: Uint8Array | string) => Promise<Buffer> {
  if (address.family === 'unix') {
    const path = address.path;
    return transport === 'unix'
      ? (data) => exchange({ path }, data)
      : (data) => unixDgramRequest(path, data, dir);
  }
  return transport === 'tcp'
    ? (data) => exchange({ host: address.address, port: address.port }, data)
    : (data) => udpRequest(address, data);
}

/**
 * Run a server of `transport` with `Handler`, let `examine` talk to it, then shut
 * it down. Fails if `serveForever()` does not return after `shutdown()` or if a
 * unix socket file is left behind.
 */
export async function runServerCase(
  transport: MatrixTransport,
  Handler: HandlerClass<never>,
  examine: (c: ServerCase) => Promise<void>,
  options: MatrixOptions = {},
): Promise<void> {
  const tmp = tempSocketPath();
  const server = makeServer(transport, Handler, tmp.dir, options);
  let serving: Promise<void> | undefined;
  let leftover: string | undefined;
  try {
    const address = await server.listen();
    serving = server.serveForever(0.05);
    await examine({
      transport,
      server,
      address,
      dir: tmp.dir,
      request: requestFor(transport, address, tmp.dir),
    });
    await server.shutdown();
    await serving; // serveForever() returned
  } finally {
    await server.serverClose({ graceMs: 1000 });
    await serving?.catch(() => undefined);
    const left = server.serverAddress;
    if (left.family === 'unix' && existsSync(left.path)) leftover = left.path;
    tmp.cleanup();
  }
  if (leftover) throw new Error(`serverClose() left ${leftover} behind`);
}

/** A promise with its resolve function outside (an event a test can wait on or fire). */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** What a client saw before its connection closed. */
export interface Drained {
  readonly data: Buffer;
  /** The error code if the connection ended with an error (ECONNRESET), else undefined. */
  readonly error: string | undefined;
}

/** Read a socket until it closes, tolerating a reset; resolves on 'close'. */
export function drain(socket: NodeJS.ReadableStream & NodeJS.EventEmitter): Promise<Drained> {
  const chunks: Buffer[] = [];
  let error: string | undefined;
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', (err: NodeJS.ErrnoException) => (error = err.code ?? err.message));
  return new Promise((resolve) =>
    socket.once('close', () => resolve({ data: Buffer.concat(chunks), error })),
  );
}
