/**
 * Stream servers (TCPServer, UnixStreamServer): IPv6, big payloads with
 * backpressure, sockets paused while queued, lingering close, connection cap,
 * idle timeout, access lists.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { Buffer } from 'node:buffer';
import type { InetAddress } from '../../src/net/address.js';
import { AccessList } from '../../src/engine/access.js';
import { StreamRequestHandler, type StreamRequest } from '../../src/engine/request-handler.js';
import {
  DEFAULT_BACKLOG,
  TCPServer,
  UnixStreamServer,
  type StreamServer,
} from '../../src/engine/stream-server.js';
import { UDPServer } from '../../src/engine/datagram-server.js';
import { EchoHandler } from '../../src/handlers/echo.js';
import { UpperCaseHandler } from '../../src/handlers/case.js';
import { exchange, Teardown, tempSocketPath } from '../helpers/loopback.js';
import { deferred, drain, runServerCase, udpRequest } from '../helpers/matrix.js';

const teardown = new Teardown();
afterEach(() => teardown.run());

const LOCAL = { host: '127.0.0.1', port: 0 };

async function serve<S extends StreamServer>(server: S): Promise<S> {
  teardown.add(() => server.serverClose({ graceMs: 0 }));
  await server.listen();
  const serving = server.serveForever(0.05);
  teardown.add(() => server.shutdown().then(() => serving));
  return server;
}

function portOf(server: StreamServer): number {
  return (server.serverAddress as InetAddress).port;
}

function connectTo(port: number, host = '127.0.0.1'): Socket {
  const s = connect(port, host);
  teardown.add(() => s.destroy());
  return s;
}

describe('IPv6', () => {
  test.each([
    ['tcp', EchoHandler],
    ['udp', EchoHandler],
    ['tcp', UpperCaseHandler],
    ['udp', UpperCaseHandler],
  ] as const)('%s on ::1 with %p', async (transport, Handler) => {
    await runServerCase(
      transport,
      Handler as never,
      async ({ request, address }) => {
        expect(address).toEqual({ family: 'IPv6', address: '::1', port: expect.any(Number) });
        const reply = await request('hello v6');
        expect(reply.toString()).toMatch(/^(hello v6|HELLO V6)$/);
      },
      { host: '::1' },
    );
  });
});

/** Send `total` bytes of random data with backpressure, hashing as we go; return the digest. */
async function sendHashed(socket: Socket, total: number): Promise<string> {
  const hash = createHash('sha256');
  const CHUNK = 1 << 20;
  for (let sent = 0; sent < total; sent += CHUNK) {
    const chunk = randomBytes(Math.min(CHUNK, total - sent));
    hash.update(chunk);
    if (!socket.write(chunk)) await once(socket, 'drain');
  }
  socket.end();
  return hash.digest('hex');
}

/** Hash everything a socket sends until its end. */
async function receiveHashed(socket: Socket): Promise<{ digest: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of socket) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { digest: hash.digest('hex'), bytes };
}

describe('big payloads', () => {
  const SIZE = 64 * 1024 * 1024;
  test.each(['tcp', 'unix'] as const)(
    'a 64 MiB payload echoes back intact over %s (sha256-equal)',
    async (transport) => {
      await runServerCase(transport, EchoHandler as never, async ({ address, server }) => {
        const ended = once(server, 'requestEnd');
        const socket =
          address.family === 'unix'
            ? connect(address.path)
            : connect(address.port, address.address);
        teardown.add(() => socket.destroy());
        await once(socket, 'connect');
        const [sent, got] = await Promise.all([sendHashed(socket, SIZE), receiveHashed(socket)]);
        expect(got.bytes).toBe(SIZE);
        expect(got.digest).toBe(sent);
        await ended;
        expect(server.stats).toMatchObject({ bytesIn: SIZE, bytesOut: SIZE });
      });
    },
    60_000,
  );
});

describe('how handlers read', () => {
  test("a handler reading with on('data') gets the data (the socket waited paused)", async () => {
    class OnData extends StreamRequestHandler {
      override async handle(): Promise<void> {
        const chunks: Buffer[] = [];
        this.rfile.on('data', (c: Buffer) => chunks.push(c));
        await once(this.rfile, 'end');
        await this.write(`got ${Buffer.concat(chunks).toString()}`);
      }
    }
    const server = await serve(new TCPServer(LOCAL, OnData));
    expect((await exchange({ port: portOf(server) }, 'abc')).toString()).toBe('got abc');
  });

  test('a request queued behind another (sequential) is read once its turn comes', async () => {
    class OnData extends StreamRequestHandler {
      override async handle(): Promise<void> {
        const [chunk] = (await once(this.rfile, 'data')) as [Buffer];
        await this.write(chunk);
      }
    }
    const server = new TCPServer(LOCAL, OnData, { mode: 'sequential' });
    teardown.add(() => server.serverClose({ graceMs: 0 }));
    const { port } = (await server.listen()) as InetAddress;
    // Both connect and send before anything serves them: they wait paused.
    const a = exchange({ port }, 'first');
    const b = exchange({ port }, 'second');
    const serving = server.serveForever(0.05);
    expect((await a).toString()).toBe('first');
    expect((await b).toString()).toBe('second');
    await server.shutdown();
    await serving;
  });

  test('a handler that never reads: the reply arrives, then the server closes its side', async () => {
    const serverSide = deferred<StreamRequest>();
    class Greeter extends StreamRequestHandler {
      override handle(): Promise<void> {
        serverSide.resolve(this.connection as StreamRequest);
        return this.write('220 hello\r\n');
      }
    }
    const server = await serve(new TCPServer(LOCAL, Greeter));
    const client = connectTo(portOf(server));
    client.write('data the handler never reads');
    const seen = drain(client);
    const conn = await serverSide.promise;
    const closed = once(conn, 'close');
    expect(await seen).toEqual({ data: Buffer.from('220 hello\r\n'), error: undefined });
    await closed; // the server's side closed too once the client's FIN came
    expect(server.connections).toBe(0);
  });

  test('serverClose() leaves no lingering connection behind (peer never closes)', async () => {
    const serverSide = deferred<StreamRequest>();
    class Greeter extends StreamRequestHandler {
      override handle(): Promise<void> {
        serverSide.resolve(this.connection as StreamRequest);
        return this.write('bye');
      }
    }
    const server = new TCPServer(LOCAL, Greeter);
    teardown.add(() => server.serverClose());
    const { port } = (await server.listen()) as InetAddress;
    const serving = server.serveForever(0.05);
    // A half-open-happy client that reads but never sends its FIN.
    const client = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    teardown.add(() => client.destroy());
    const ended = once(client, 'end');
    const got: Buffer[] = [];
    client.on('data', (c: Buffer) => got.push(c));
    await ended; // the handler is done; the server waits (lingers) for our FIN
    expect(Buffer.concat(got).toString()).toBe('bye');
    expect(server.connections).toBe(1);
    const conn = await serverSide.promise;
    await server.serverClose();
    await serving;
    // The server's side was closed by serverClose(), not left lingering.
    expect(conn.destroyed).toBe(true);
    expect(server.connections).toBe(0);
  });
});

describe('maxConnections', () => {
  test("refuses connections beyond the cap with a 'rejected' event", async () => {
    const firstIn = deferred();
    const release = deferred();
    class Hold extends StreamRequestHandler {
      override async handle(): Promise<void> {
        firstIn.resolve();
        await release.promise;
        await this.write('served');
      }
    }
    const server = await serve(new TCPServer(LOCAL, Hold, { maxConnections: 1 }));
    const port = portOf(server);
    const first = exchange({ port }, '');
    await firstIn.promise;
    const rejected = once(server, 'rejected');
    const second = connectTo(port);
    const seen = drain(second);
    const [addr, reason] = (await rejected) as [InetAddress, string];
    expect(reason).toBe('max-conns');
    expect(addr).toMatchObject({ family: 'IPv4', address: '127.0.0.1' });
    expect((await seen).data.length).toBe(0);
    expect(server.stats.rejected).toBe(1);
    release.resolve();
    expect((await first).toString()).toBe('served');
  });
});

describe('idleTimeout', () => {
  test('closes a silent connection (and it is not a handler error)', async () => {
    const lines: string[] = [];
    const server = await serve(
      new TCPServer(LOCAL, EchoHandler, { idleTimeout: 0.2, log: (l) => lines.push(l) }),
    );
    const idle = once(server, 'idleTimeout');
    const client = connectTo(portOf(server));
    const seen = await drain(client); // the server closes it; the test only waits
    expect(seen.data.length).toBe(0);
    const [addr] = (await idle) as [InetAddress];
    expect(addr).toMatchObject({ address: '127.0.0.1' });
    expect(lines).toEqual([]);
    expect(server.stats.errors).toBe(0);
  });

  test('a connection that keeps talking is not cut', async () => {
    const server = await serve(new TCPServer(LOCAL, EchoHandler, { idleTimeout: 5 }));
    expect((await exchange({ port: portOf(server) }, 'still here')).toString()).toBe('still here');
  });
});

describe('accessList on TCPServer', () => {
  test('a denied peer is closed unserved', async () => {
    let handled = 0;
    class Counting extends EchoHandler {
      override handle(): void | Promise<void> {
        handled += 1;
        return super.handle();
      }
    }
    const server = await serve(
      new TCPServer(LOCAL, Counting, { accessList: new AccessList([], ['127.0.0.1/32']) }),
    );
    const rejected = once(server, 'rejected');
    const client = connectTo(portOf(server));
    expect(await drain(client)).toEqual({ data: Buffer.alloc(0), error: undefined });
    expect((await rejected)[1]).toBe('verifyRequest');
    expect(handled).toBe(0);
  });

  test('an allowed peer is served; one outside the allow list is not', async () => {
    const access = new AccessList(['127.0.0.0/8']);
    const v4 = await serve(new TCPServer(LOCAL, EchoHandler, { accessList: access }));
    expect((await exchange({ port: portOf(v4) }, 'in')).toString()).toBe('in');
    const v6 = await serve(
      new TCPServer({ host: '::1', port: 0 }, EchoHandler, { accessList: access }),
    );
    const client = connectTo(portOf(v6), '::1');
    expect((await drain(client)).data.length).toBe(0);
    expect(v6.stats.rejected).toBe(1);
  });

  test('an IPv4 peer on a dual-stack :: listener is matched as IPv4', async () => {
    const server = new TCPServer({ host: '::', port: 0 }, EchoHandler, {
      accessList: new AccessList(['127.0.0.1']),
    });
    teardown.add(() => server.serverClose({ graceMs: 0 }));
    try {
      await server.listen();
    } catch {
      return; // no IPv6 on this machine: nothing to check
    }
    const serving = server.serveForever(0.05);
    teardown.add(() => server.shutdown());
    void serving;
    const request = once(server, 'request');
    expect((await exchange({ port: portOf(server) }, 'mapped')).toString()).toBe('mapped');
    const [addr] = (await request) as [InetAddress];
    expect(addr.address).toBe('::ffff:127.0.0.1');
  });
});

describe('ipv6Only', () => {
  test.each(['tcp', 'udp'] as const)(
    '%s on :: with ipv6Only refuses IPv4 peers; without it, takes them',
    async (transport) => {
      const make = (ipv6Only: boolean): TCPServer | UDPServer =>
        transport === 'tcp'
          ? new TCPServer({ host: '::', port: 0 }, EchoHandler, { ipv6Only })
          : new UDPServer({ host: '::', port: 0 }, EchoHandler, { ipv6Only });
      const only = make(true);
      teardown.add(() => only.serverClose());
      try {
        await only.listen();
      } catch {
        return; // no IPv6 on this machine
      }
      expect(only.ipv6Only).toBe(true);
      const port = (only.serverAddress as InetAddress).port;
      if (transport === 'tcp') {
        const client = connectTo(port);
        const [err] = (await once(client, 'error').catch((e: unknown) => [e])) as [
          NodeJS.ErrnoException,
        ];
        expect(err.code).toBe('ECONNREFUSED');
      }
      const dual = make(false);
      teardown.add(() => dual.serverClose());
      await dual.listen();
      const dualServing = dual.serveForever(0.05);
      teardown.add(() => dual.shutdown().then(() => dualServing));
      const dualPort = (dual.serverAddress as InetAddress).port;
      const reply =
        transport === 'tcp'
          ? await exchange({ port: dualPort }, 'v4 on ::')
          : await udpRequest({ family: 'IPv4', address: '127.0.0.1', port: dualPort }, 'v4 on ::');
      expect(reply.toString()).toBe('v4 on ::');
    },
  );
});

describe('options', () => {
  test('the default backlog is large; requestQueueSize sets it', () => {
    expect(new TCPServer(LOCAL, EchoHandler).requestQueueSize).toBe(DEFAULT_BACKLOG);
    expect(DEFAULT_BACKLOG).toBeGreaterThanOrEqual(1024);
    expect(new TCPServer(LOCAL, EchoHandler, { requestQueueSize: 7 }).requestQueueSize).toBe(7);
  });

  test('allowReuseAddress is reported as what Node does (always on for TCP)', () => {
    expect(new TCPServer(LOCAL, EchoHandler).allowReuseAddress).toBe(true);
  });

  test('a unix stream server reports its path and an unnamed peer', async () => {
    const tmp = tempSocketPath();
    teardown.add(tmp.cleanup);
    const server = await serve(new UnixStreamServer(tmp.path, UpperCaseHandler));
    expect(server.serverAddress).toEqual({ family: 'unix', path: tmp.path });
    const request = once(server, 'request');
    expect((await exchange({ path: tmp.path }, 'unix')).toString()).toBe('UNIX');
    expect((await request)[0]).toEqual({ family: 'unix', path: '' });
  });
});
