/**
 * Peers for the client tests: sockit's own engine servers, plain `net`
 * servers scripted per test, and Python programs (`python3 -c`) that print
 * their port on the first stdout line. Everything started is registered on a
 * Teardown so afterEach closes it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { InetAddress } from '../../src/net/address.js';
import type { HandlerClass } from '../../src/engine/request-handler.js';
import { TCPServer, UnixStreamServer } from '../../src/engine/stream-server.js';
import { UDPServer, UnixDatagramServer } from '../../src/engine/datagram-server.js';
import type { Teardown } from '../helpers/loopback.js';

/** Is `cmd` on PATH? */
export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Python 3, for interop peers. */
export const PYTHON = hasCommand('python3') ? 'python3' : undefined;

type AnyServer = TCPServer | UDPServer | UnixStreamServer | UnixDatagramServer;

async function serve(server: AnyServer, teardown: Teardown): Promise<void> {
  teardown.add(async () => {
    await server.shutdown().catch(() => undefined);
    await server.serverClose({ graceMs: 200 });
  });
  await server.listen();
  void server.serveForever(0.05).catch(() => undefined);
}

/** An engine TCP server on 127.0.0.1 (or `host`), port 0; resolves with its port. */
export async function engineTcp(
  Handler: HandlerClass<never>,
  teardown: Teardown,
  host = '127.0.0.1',
): Promise<number> {
  const server = new TCPServer({ host, port: 0 }, Handler as never);
  await serve(server, teardown);
  return (server.serverAddress as InetAddress).port;
}

/** An engine UDP server on 127.0.0.1, port 0; resolves with its port. */
export async function engineUdp(Handler: HandlerClass<never>, teardown: Teardown): Promise<number> {
  const server = new UDPServer({ host: '127.0.0.1', port: 0 }, Handler as never);
  await serve(server, teardown);
  return (server.serverAddress as InetAddress).port;
}

/** An engine unix stream server at `path`. */
export async function engineUnix(
  Handler: HandlerClass<never>,
  path: string,
  teardown: Teardown,
): Promise<void> {
  await serve(new UnixStreamServer(path, Handler as never), teardown);
}

/** An engine unix datagram server at `path`. */
export async function engineUnixDgram(
  Handler: HandlerClass<never>,
  path: string,
  teardown: Teardown,
): Promise<void> {
  await serve(new UnixDatagramServer(path, Handler as never), teardown);
}

/** A plain half-open-capable TCP server on 127.0.0.1:0 running `onConnection` per client. */
export async function rawTcp(
  onConnection: (socket: Socket) => void,
  teardown: Teardown,
  host = '127.0.0.1',
): Promise<{ server: Server; port: number }> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.once('close', () => sockets.delete(s));
    onConnection(s);
  });
  teardown.add(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });
  server.listen(0, host);
  await once(server, 'listening');
  const a = server.address();
  return { server, port: typeof a === 'object' && a ? a.port : 0 };
}

/** A free TCP port right now (bound, read, released). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = createServer();
  server.listen(0, host);
  await once(server, 'listening');
  const a = server.address();
  await new Promise((r) => server.close(r));
  return typeof a === 'object' && a ? a.port : 0;
}

/** A UDP port on 127.0.0.1 with nothing bound to it right now (bound, read, released). */
export async function closedUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * Run `python3 -c code`; the program prints its port (or any token) on its first
 * stdout line. Resolves with that line and the child (killed in teardown).
 */
export async function pythonPeer(
  code: string,
  teardown: Teardown,
): Promise<{ child: ChildProcess; line: string; stderr: () => string }> {
  const child = spawn(PYTHON ?? 'python3', ['-u', '-c', code], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (c: string) => (err += c));
  teardown.add(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'close');
    }
  });
  const lines = createInterface({ input: child.stdout! });
  const line = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('close', (code) => reject(new Error(`python exited ${code}: ${err}`)));
  });
  return { child, line, stderr: () => err };
}
