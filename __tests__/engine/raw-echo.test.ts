/**
 * The echo's fast path: connections served on Node's raw stream handle (no net.Socket,
 * no handler run) where nothing could tell. Taken or not is seen on the listening
 * net.Server: a connection served raw is never a `connection` event there.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { connect, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { Buffer } from 'node:buffer';
import type { InetAddress } from '../../src/net/address.js';
import { AccessList } from '../../src/net/access.js';
import { rawStreams } from '../../src/net/raw-stream.js';
import {
  TCPServer,
  UnixStreamServer,
  type StreamServer,
  type TCPServerOptions,
} from '../../src/engine/stream-server.js';
import { EchoHandler } from '../../src/handlers/echo.js';
import { collect, exchange, Teardown, tempSocketPath } from '../helpers/loopback.js';

const teardown = new Teardown();
afterEach(() => teardown.run());

const LOCAL = { host: '127.0.0.1', port: 0 };
const MiB = 1024 * 1024;

/** Listen, serve forever, and count the `net.Socket`s the listener made. */
async function serve<S extends StreamServer>(
  server: S,
): Promise<{ server: S; sockets: () => number }> {
  teardown.add(() => server.serverClose({ graceMs: 0 }));
  await server.listen();
  const serving = server.serveForever(0.05);
  teardown.add(() => server.shutdown().then(() => serving));
  let sockets = 0;
  (server['listener'] as Server).on('connection', () => sockets++);
  return { server, sockets: () => sockets };
}

function portOf(server: StreamServer): number {
  return (server.serverAddress as InetAddress).port;
}

async function dial(port: number): Promise<Socket> {
  const s = connect(port, '127.0.0.1');
  teardown.add(() => s.destroy());
  await once(s, 'connect');
  return s;
}

function patterned(length: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

test('this Node offers the raw path', () => {
  expect(rawStreams()).toBe(true);
});

describe('taken', () => {
  test('small and bulk payloads come back byte-exact, counted in stats', async () => {
    const { server, sockets } = await serve(new TCPServer(LOCAL, EchoHandler));
    const small = patterned(100, 1);
    const bulk = patterned(8 * MiB + 17, 2); // the client half-closes while echoes are queued
    const [gotSmall, gotBulk] = await Promise.all([
      exchange({ port: portOf(server) }, small),
      exchange({ port: portOf(server) }, bulk),
    ]);
    expect(gotSmall.equals(small)).toBe(true);
    expect(gotBulk.equals(bulk)).toBe(true);
    expect(sockets()).toBe(0);
    expect(server.stats.requests).toBe(2);
    await server.serverClose();
    expect(server.stats.bytesIn).toBe(small.length + bulk.length);
    expect(server.stats.bytesOut).toBe(small.length + bulk.length);
  });

  test('unix stream sockets too', async () => {
    const tmp = tempSocketPath();
    teardown.add(tmp.cleanup);
    const { sockets } = await serve(new UnixStreamServer(tmp.path, EchoHandler));
    const data = patterned(300 * 1024, 3);
    expect((await exchange({ path: tmp.path }, data)).equals(data)).toBe(true);
    expect(sockets()).toBe(0);
  });

  test('half-close: the echo goes on after the peer ends, then our FIN, then the close', async () => {
    const { server, sockets } = await serve(new TCPServer(LOCAL, EchoHandler));
    const s = await dial(portOf(server));
    s.write('first ');
    const [first] = (await once(s, 'data')) as [Buffer];
    expect(first.toString()).toBe('first ');
    const rest = collect(s);
    s.end('last');
    expect((await rest).toString()).toBe('last');
    await once(s, 'close');
    expect(sockets()).toBe(0);
    expect(server.connections).toBe(0);
  });

  test('a peer that never reads holds the server to a bounded amount', async () => {
    const { server, sockets } = await serve(new TCPServer(LOCAL, EchoHandler));
    const s = await dial(portOf(server));
    const before = process.memoryUsage().arrayBuffers;
    const chunk = patterned(MiB, 4);
    let sent = 0;
    let stalled = false;
    // bounded: at most 256 MiB, and a push that does not drain within 1 s is the stall
    while (sent < 256 * MiB && !stalled) {
      sent += chunk.length;
      if (s.write(chunk)) continue;
      let timer: NodeJS.Timeout | undefined;
      stalled = await Promise.race([
        once(s, 'drain').then(() => false),
        new Promise<boolean>((resolve) => (timer = setTimeout(resolve, 1000, true))),
      ]);
      clearTimeout(timer);
    }
    expect(stalled).toBe(true);
    expect(sent).toBeLessThan(64 * MiB); // the kernel's buffers and one chunk in flight
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * MiB);
    expect(sockets()).toBe(0);
  });

  test('--max-conns still refuses loudly', async () => {
    const { server } = await serve(new TCPServer(LOCAL, EchoHandler, { maxConnections: 1 }));
    const first = await dial(portOf(server));
    first.write('x');
    await once(first, 'data');
    const rejected = once(server, 'rejected');
    const second = connect(portOf(server), '127.0.0.1');
    teardown.add(() => second.destroy());
    second.on('error', () => undefined);
    expect((await rejected)[1]).toBe('max-conns');
    await once(second, 'close');
    expect(server.stats.rejected).toBe(1);
  });

  test('the access list still refuses, and lets the allowed through raw', async () => {
    const denied = await serve(
      new TCPServer(LOCAL, EchoHandler, { accessList: new AccessList([], ['127.0.0.1/32']) }),
    );
    const rejected = once(denied.server, 'rejected');
    const s = connect(portOf(denied.server), '127.0.0.1');
    teardown.add(() => s.destroy());
    s.on('error', () => undefined);
    await rejected;
    expect(denied.server.stats.rejected).toBe(1);
    const allowed = await serve(
      new TCPServer(LOCAL, EchoHandler, { accessList: new AccessList(['127.0.0.1']) }),
    );
    expect((await exchange({ port: portOf(allowed.server) }, 'ok')).toString()).toBe('ok');
    expect(allowed.sockets()).toBe(0);
  });

  test('serverClose() drains an open connection; a zero grace closes it', async () => {
    const { server } = await serve(new TCPServer(LOCAL, EchoHandler));
    const s = await dial(portOf(server));
    s.write('x');
    await once(s, 'data');
    expect(server.activeRequests).toBe(1);
    let closed = false;
    const closing = server.serverClose({ graceMs: 60_000 }).then(() => (closed = true));
    s.write('y'); // still served while draining
    expect(((await once(s, 'data')) as [Buffer])[0].toString()).toBe('y');
    expect(closed).toBe(false);
    void server.serverClose({ graceMs: 0 });
    await closing;
    await once(s, 'close');
    expect(server.connections).toBe(0);
  });

  test('sequential: a second connection waits for the first to close', async () => {
    const { server } = await serve(new TCPServer(LOCAL, EchoHandler, { mode: 'sequential' }));
    const first = await dial(portOf(server));
    first.write('1');
    await once(first, 'data');
    const second = await dial(portOf(server));
    const reply = collect(second);
    second.end('2');
    let answered = false;
    void reply.then(() => (answered = true));
    first.write('again');
    await once(first, 'data'); // the first is served meanwhile; the second is not
    expect(answered).toBe(false);
    first.end();
    expect((await reply).toString()).toBe('2');
  });
});

class MyServer extends TCPServer {}
class MyEcho extends EchoHandler {}

describe('not taken where something could tell', () => {
  const cases: [string, () => StreamServer, (s: StreamServer) => void][] = [
    ['a request listener', () => new TCPServer(LOCAL, EchoHandler), (s) => s.on('request', noop)],
    [
      'a requestEnd listener',
      () => new TCPServer(LOCAL, EchoHandler),
      (s) => s.on('requestEnd', noop),
    ],
    ['an idle timeout', () => new TCPServer(LOCAL, EchoHandler, { idleTimeout: 30 }), noop],
    [
      'shaped replies',
      () => new TCPServer(LOCAL, EchoHandler, { strip: true } as TCPServerOptions),
      noop,
    ],
    ['a tap', () => tapped(), noop],
    ['a server subclass', () => new MyServer(LOCAL, EchoHandler), noop],
    ['a handler subclass', () => new TCPServer(LOCAL, MyEcho), noop],
  ];
  test.each(cases)('%s', async (_name, make, before) => {
    const server = make();
    before(server);
    const { sockets } = await serve(server);
    const reply = await exchange({ port: portOf(server) }, 'abc');
    expect(reply.toString()).toBe('abc');
    expect(sockets()).toBe(1);
  });
});

function noop(): void {}

function tapped(): StreamServer {
  const server = new TCPServer(LOCAL, EchoHandler);
  server.tap = { attach: noop } as never;
  return server;
}
