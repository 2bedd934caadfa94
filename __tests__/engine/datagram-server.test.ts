/**
 * Datagram servers (UDPServer, UnixDatagramServer): many senders, empty and
 * maximum-size datagrams, the queue bound, unix datagram specifics (full receiver
 * queues, vanished senders, unbound senders), and every kind of handler class on
 * the datagram connection: built-ins, a user's StreamRequestHandler,
 * DatagramRequestHandler and BaseRequestHandler.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { join } from 'node:path';
import { Buffer } from 'node:buffer';
import type { InetAddress, SocketAddress } from '../../src/net/address.js';
import {
  DatagramServer,
  MAX_QUEUED_DATAGRAMS,
  UDPServer,
  UnixDatagramServer,
  type DatagramHandlerClass,
} from '../../src/engine/datagram-server.js';
import { UnixDgramSocket } from '../../src/net/unix-dgram.js';
import { NO_UNIX_DGRAM, describeEachIf, describeIf, unixDgramMissing } from '../helpers/skip.js';
import { createInterface } from 'node:readline';
import {
  BaseRequestHandler,
  DatagramConnection,
  DatagramRequestHandler,
  StreamRequestHandler,
  type Datagram,
} from '../../src/engine/request-handler.js';
import { EchoHandler } from '../../src/handlers/echo.js';
import { UpperCaseHandler } from '../../src/handlers/case.js';
import { Teardown, tempSocketPath } from '../helpers/loopback.js';
import { deferred, udpRequest, unixDgramRequest } from '../helpers/matrix.js';

const teardown = new Teardown();
afterEach(() => teardown.run());

const LOCAL = { host: '127.0.0.1', port: 0 };

function tmpDir(): string {
  const t = tempSocketPath();
  teardown.add(t.cleanup);
  return t.dir;
}

async function serve<S extends DatagramServer>(server: S): Promise<S> {
  teardown.add(() => server.serverClose({ graceMs: 0 }));
  await server.listen();
  const serving = server.serveForever(0.05);
  teardown.add(() => server.shutdown().then(() => serving));
  return server;
}

function udpClient(type: 'udp4' | 'udp6' = 'udp4'): UdpSocket {
  const s = createSocket(type);
  teardown.add(() => s.close());
  return s;
}

function unixClient(dir: string, name: string): UnixDgramSocket {
  const s = new UnixDgramSocket();
  s.bind(join(dir, name));
  teardown.add(() => s.close());
  return s;
}

type Transport = 'udp' | 'unix-dgram';

function make(transport: Transport, Handler: DatagramHandlerClass, dir: string): DatagramServer {
  return transport === 'udp'
    ? new UDPServer(LOCAL, Handler)
    : new UnixDatagramServer(join(dir, 'srv.sock'), Handler);
}

function ask(server: DatagramServer, data: Uint8Array | string, dir: string): Promise<Buffer> {
  const a = server.serverAddress;
  return a.family === 'unix' ? unixDgramRequest(a.path, data, dir) : udpRequest(a, data);
}

const both = ['udp', 'unix-dgram'] as const;

const upper = (b: Buffer): Buffer => Buffer.from(b.toString('latin1').toUpperCase(), 'latin1');

/** A user's StreamRequestHandler: reads rfile to its end, writes what it maps. */
function userStream(map: (b: Buffer) => Buffer): typeof StreamRequestHandler {
  return class extends StreamRequestHandler {
    override async handle(): Promise<void> {
      for await (const chunk of this.rfile) await this.write(map(chunk as Buffer));
    }
  };
}

/** A user's DatagramRequestHandler (Python's way): the reply is what wfile got. */
function userDatagram(map: (b: Buffer) => Buffer): typeof DatagramRequestHandler {
  return class extends DatagramRequestHandler {
    override handle(): void {
      this.wfile.write(map(this.packet));
    }
  };
}

describeEachIf(
  both,
  unixDgramMissing,
  import.meta.url,
)('%s', (transport) => {
  test.each([
    ['built-in', UpperCaseHandler],
    ['datagram', userDatagram(upper)],
    ['stream', userStream(upper)],
  ] as const)('20 senders each get their own replies (%s handler)', async (_kind, Handler) => {
    const dir = tmpDir();
    const server = await serve(make(transport, Handler, dir));
    const payloads = Array.from({ length: 20 }, (_, i) => `sender ${i} says hi`);
    const replies = await Promise.all(payloads.map((p) => ask(server, p, dir)));
    expect(replies.map(String)).toEqual(payloads.map((p) => p.toUpperCase()));
    expect(server.stats.requests).toBe(20);
  });

  test('an empty datagram gets an empty reply from the echo handler', async () => {
    const dir = tmpDir();
    const server = await serve(make(transport, EchoHandler, dir));
    const reply = await ask(server, Buffer.alloc(0), dir);
    expect(reply.length).toBe(0);
    expect(server.stats.requests).toBe(1);
  });

  test('a stream handler that writes nothing sends no reply (proved with a sentinel)', async () => {
    class Quiet extends StreamRequestHandler {
      override async handle(): Promise<void> {
        const [chunk] = (await once(this.rfile, 'data').catch(() => [undefined])) as [Buffer?];
        if (chunk && chunk.toString() !== 'quiet') await this.write(chunk);
      }
    }
    const dir = tmpDir();
    const server = await serve(make(transport, Quiet, dir));
    const replies: string[] = [];
    const got = deferred();
    const onMessage = (m: Buffer): void => {
      replies.push(m.toString());
      got.resolve();
    };
    const a = server.serverAddress;
    const ended = once(server, 'requestEnd');
    if (a.family === 'unix') {
      const c = unixClient(dir, 'q.sock');
      c.on('message', onMessage);
      await c.send(Buffer.from('quiet'), a.path);
      await ended;
      await c.send(Buffer.from('sentinel'), a.path);
    } else {
      const c = udpClient();
      c.on('message', onMessage);
      c.send('quiet', a.port, a.address);
      await ended;
      c.send('sentinel', a.port, a.address);
    }
    await got.promise;
    expect(replies).toEqual(['sentinel']);
  });

  test("a user's line-based StreamRequestHandler (readline over rfile, wfile) answers each datagram", async () => {
    class ReverseLines extends StreamRequestHandler {
      override async handle(): Promise<void> {
        for await (const line of createInterface({ input: this.rfile, crlfDelay: Infinity })) {
          this.wfile.write(`${[...line].reverse().join('')}\n`);
        }
      }
    }
    const dir = tmpDir();
    const server = await serve(make(transport, ReverseLines, dir));
    expect((await ask(server, 'hello\nsockit ünïcode\n', dir)).toString()).toBe(
      'olleh\nedocïnü tikcos\n',
    );
    expect((await ask(server, 'one line, no newline', dir)).toString()).toBe(
      'enilwen on ,enil eno\n',
    );
    // Every datagram is a connection of its own: two requests, two replies, no state shared.
    expect(server.stats).toMatchObject({ requests: 2, errors: 0 });
  });

  test('a BaseRequestHandler gets the datagram connection: data and reply() as ever, and wfile', async () => {
    const seen = deferred<DatagramConnection>();
    class Direct extends BaseRequestHandler<DatagramConnection> {
      override async handle(): Promise<void> {
        seen.resolve(this.request);
        await this.request.reply(Buffer.from(`${this.request.data}: first`));
        this.request.wfile.write('second'); // sent by the server after the handler
      }
    }
    const dir = tmpDir();
    const server = await serve(make(transport, Direct, dir));
    const a = server.serverAddress;
    const replies: string[] = [];
    const twoReplies = deferred();
    const onMessage = (m: Buffer): void => {
      replies.push(m.toString());
      if (replies.length === 2) twoReplies.resolve();
    };
    if (a.family === 'unix') {
      const c = unixClient(dir, 'b.sock');
      c.on('message', onMessage);
      await c.send(Buffer.from('ping'), a.path);
    } else {
      const c = udpClient();
      c.on('message', onMessage);
      c.send('ping', a.port, a.address);
    }
    await twoReplies.promise;
    expect(replies).toEqual(['ping: first', 'second']);
    expect(await seen.promise).toBeInstanceOf(DatagramConnection);
  });

  test('the stream echo handler echoes binary datagrams byte-exact', async () => {
    const dir = tmpDir();
    const server = await serve(make(transport, EchoHandler, dir));
    const data = Buffer.from([0, 0xff, 0xc3, 0x28, 0x0a, 0, 0x80]);
    expect(await ask(server, data, dir)).toEqual(data);
  });
});

describe('UDP sizes', () => {
  test.each([
    ['built-in', EchoHandler],
    ['datagram', userDatagram((b) => b)],
    ['stream', userStream((b) => b)],
  ] as const)('a 65,507-byte datagram round-trips (%s handler)', async (_kind, Handler) => {
    const server = await serve(new UDPServer(LOCAL, Handler));
    const data = Buffer.alloc(65_507);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    const reply = await udpRequest(server.serverAddress as InetAddress, data);
    expect(reply.length).toBe(65_507);
    expect(reply.equals(data)).toBe(true);
  });

  test('a 65,527-byte datagram round-trips over IPv6', async () => {
    const server = await serve(new UDPServer({ host: '::1', port: 0 }, EchoHandler));
    const data = Buffer.alloc(65_527, 0x5a);
    const reply = await udpRequest(server.serverAddress as InetAddress, data);
    expect(reply.equals(data)).toBe(true);
  });
});

describe('the queue bound', () => {
  test("datagrams beyond maxQueuedDatagrams are dropped with a 'dropped' event", async () => {
    const server = new UDPServer(LOCAL, EchoHandler, { maxQueuedDatagrams: 3 });
    teardown.add(() => server.serverClose());
    const addr = (await server.listen()) as InetAddress;
    expect(new UDPServer(LOCAL, EchoHandler).maxQueuedDatagrams).toBe(MAX_QUEUED_DATAGRAMS);
    const drops: [SocketAddress, string][] = [];
    const twoDropped = deferred();
    server.on('dropped', (a: SocketAddress, why: string) => {
      drops.push([a, why]);
      if (drops.length === 2) twoDropped.resolve();
    });
    const client = udpClient();
    const replies: string[] = [];
    const all = deferred();
    client.on('message', (m: Buffer) => {
      replies.push(m.toString());
      if (replies.length === 4) all.resolve();
    });
    // Nothing serves yet: three wait, two are dropped.
    for (const n of ['1', '2', '3', '4', '5']) client.send(n, addr.port, addr.address);
    await twoDropped.promise;
    expect(server.pendingRequests).toBe(3);
    expect(server.dropped).toBe(2);
    expect(drops[0]![1]).toBe('queue-full');
    const serving = server.serveForever(0.05);
    client.send('sentinel', addr.port, addr.address);
    await all.promise;
    expect(replies).toEqual(['1', '2', '3', 'sentinel']);
    await server.shutdown();
    await serving;
  });

  test('while serving (async), datagrams being handled count too: in flight stays bounded', async () => {
    const release = deferred();
    let started = 0;
    const threeRunning = deferred();
    class Held extends StreamRequestHandler {
      override async handle(): Promise<void> {
        if (++started === 3) threeRunning.resolve();
        await release.promise;
        await this.write('done');
      }
    }
    const server = new UDPServer(LOCAL, Held, { maxQueuedDatagrams: 3 });
    teardown.add(() => server.serverClose());
    const addr = (await server.listen()) as InetAddress;
    const serving = server.serveForever(0.05);
    const drops: string[] = [];
    const twoDropped = deferred();
    server.on('dropped', (_a: SocketAddress, why: string) => {
      drops.push(why);
      if (drops.length === 2) twoDropped.resolve();
    });
    const client = udpClient();
    for (const n of ['1', '2', '3']) client.send(n, addr.port, addr.address);
    await threeRunning.promise;
    expect(server.activeRequests).toBe(3);
    client.send('4', addr.port, addr.address);
    client.send('5', addr.port, addr.address);
    await twoDropped.promise;
    expect(drops).toEqual(['queue-full', 'queue-full']);
    expect(started).toBe(3);
    const replies: string[] = [];
    const all = deferred();
    client.on('message', (m: Buffer) => {
      replies.push(m.toString());
      if (replies.length === 3) all.resolve();
    });
    release.resolve();
    await all.promise;
    expect(server.stats.requests).toBe(3);
    await server.shutdown();
    await serving;
  });

  test('datagrams that wait are served by handleRequest(), one per call', async () => {
    const server = new UDPServer(LOCAL, UpperCaseHandler);
    teardown.add(() => server.serverClose());
    const addr = (await server.listen()) as InetAddress;
    const client = udpClient();
    const first = once(client, 'message');
    client.send('a', addr.port, addr.address);
    await server.handleRequest();
    expect(String((await first)[0])).toBe('A');
    const second = once(client, 'message');
    client.send('b', addr.port, addr.address);
    await server.handleRequest();
    expect(String((await second)[0])).toBe('B');
  });
});

describeIf(NO_UNIX_DGRAM, import.meta.url)('UnixDatagramServer specifics', () => {
  test('a burst from one sender beyond the kernel queue (max_dgram_qlen) all gets answered, in order', async () => {
    const dir = tmpDir();
    const server = await serve(make('unix-dgram', EchoHandler, dir));
    const client = unixClient(dir, 'burst.sock');
    const N = 60;
    const replies: string[] = [];
    const all = deferred();
    client.on('message', (m: Buffer) => {
      replies.push(m.toString());
      if (replies.length === N) all.resolve();
    });
    const path = (server.serverAddress as { path: string }).path;
    // All sent at once, without waiting: the server's queue fills and sends wait for room.
    await Promise.all(Array.from({ length: N }, (_, i) => client.send(Buffer.from(`${i}`), path)));
    await all.promise;
    expect(replies).toEqual(Array.from({ length: N }, (_, i) => `${i}`));
  });

  test('a reply to a sender that has gone away is dropped, not a handler error', async () => {
    const dir = tmpDir();
    const release = deferred();
    const started = deferred();
    class Slow extends DatagramRequestHandler {
      override async handle(): Promise<void> {
        started.resolve();
        await release.promise;
        this.wfile.write(this.packet);
      }
    }
    const lines: string[] = [];
    const server = new UnixDatagramServer(join(dir, 'srv.sock'), Slow, {
      log: (l) => lines.push(l),
    });
    await serve(server);
    const client = new UnixDgramSocket();
    client.bind(join(dir, 'gone.sock'));
    await client.send(Buffer.from('hello?'), join(dir, 'srv.sock'));
    await started.promise;
    client.close(); // the sender leaves before the reply (its file stays: ECONNREFUSED)
    const ended = once(server, 'requestEnd');
    release.resolve();
    const [info] = (await ended) as [{ error?: unknown; bytesOut: number }];
    expect(info.error).toBeUndefined();
    expect(info.bytesOut).toBe(0);
    expect(lines).toEqual([]);
    expect(server.stats.errors).toBe(0);
  });

  test('a datagram from an unbound sender is handled; the reply has nowhere to go', async () => {
    const dir = tmpDir();
    const server = await serve(make('unix-dgram', EchoHandler, dir));
    const path = (server.serverAddress as { path: string }).path;
    const request = once(server, 'request');
    const ended = once(server, 'requestEnd');
    const anon = new UnixDgramSocket();
    teardown.add(() => anon.close());
    await anon.send(Buffer.from('anonymous'), path);
    expect((await request)[0]).toEqual({ family: 'unix', path: '' });
    await ended;
    expect(server.stats.errors).toBe(0);
    // The server goes on serving bound senders.
    expect((await unixDgramRequest(path, 'named', dir)).toString()).toBe('named');
  });

  test('a 65,536-byte unix datagram round-trips', async () => {
    const dir = tmpDir();
    const server = await serve(make('unix-dgram', EchoHandler, dir));
    const data = Buffer.alloc(65_536);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
    const reply = await unixDgramRequest(
      (server.serverAddress as { path: string }).path,
      data,
      dir,
    );
    expect(reply.equals(data)).toBe(true);
  });

  test('sending to a path nobody is bound to rejects with ENOENT / ECONNREFUSED', async () => {
    const dir = tmpDir();
    const client = unixClient(dir, 'c.sock');
    await expect(client.send(Buffer.from('x'), join(dir, 'nobody.sock'))).rejects.toMatchObject({
      code: 'ENOENT',
      syscall: 'send',
      message: expect.stringMatching(/^send ENOENT: no such file or directory /),
    });
  });

  test('binding a path that is taken throws EADDRINUSE with a name, not a number', () => {
    const dir = tmpDir();
    unixClient(dir, 'taken.sock');
    const other = new UnixDgramSocket();
    teardown.add(() => other.close());
    expect(() => other.bind(join(dir, 'taken.sock'))).toThrow(
      expect.objectContaining({ code: 'EADDRINUSE', syscall: 'bind' }),
    );
    // Its error listener was not left behind: a later error is emitted normally.
    expect(other.listenerCount('error')).toBe(0);
  });
});

describe('stream handlers over datagrams', () => {
  test('setup → handle → finish run in order and the reply leaves after finish()', async () => {
    const log: string[] = [];
    class Ordered extends StreamRequestHandler {
      override setup(): void {
        log.push('setup');
      }
      override async handle(): Promise<void> {
        for await (const chunk of this.rfile) await this.write(Buffer.from(`<${chunk}>`));
        log.push('handle');
      }
      override finish(): void {
        log.push('finish');
        this.wfile.write('!');
      }
    }
    const server = await serve(new UDPServer(LOCAL, Ordered));
    const reply = await udpRequest(server.serverAddress as InetAddress, 'x');
    expect(reply.toString()).toBe('<x>!');
    expect(log).toEqual(['setup', 'handle', 'finish']);
  });

  test('a failing stream handler on a datagram server is reported and sends nothing', async () => {
    class FailsOnX extends StreamRequestHandler {
      override async handle(): Promise<void> {
        for await (const chunk of this.rfile) {
          await this.write(chunk as Buffer); // written, but never sent: the handler fails
          if (String(chunk) === 'x') throw new Error('nope');
        }
      }
    }
    const errors: unknown[] = [];
    const server = await serve(new UDPServer(LOCAL, FailsOnX));
    server.on('requestError', (e) => errors.push(e));
    const ended = once(server, 'requestEnd');
    const c = udpClient();
    const addr = server.serverAddress as InetAddress;
    c.send('x', addr.port, addr.address);
    await ended;
    expect(errors).toEqual([expect.objectContaining({ message: 'nope' })]);
    expect(server.stats.errors).toBe(1);
    // The first reply this client gets is the sentinel's: the failed request sent none.
    expect((await udpRequest(addr, 'sentinel', c)).toString()).toBe('sentinel');
  });

  test('a reply too long for UDP fails its request (EMSGSIZE), reported with the sender', async () => {
    class TooLong extends StreamRequestHandler {
      override async handle(): Promise<void> {
        await this.write(Buffer.alloc(70_000));
      }
    }
    const errors: [unknown, unknown][] = [];
    const server = await serve(new UDPServer(LOCAL, TooLong));
    server.on('requestError', (e, from) => errors.push([e, from]));
    const ended = once(server, 'requestEnd');
    const c = udpClient();
    await new Promise<void>((resolve) => c.bind(0, '127.0.0.1', resolve));
    const addr = server.serverAddress as InetAddress;
    c.send('x', addr.port, addr.address);
    await ended;
    expect(errors).toEqual([
      [
        expect.objectContaining({ code: 'EMSGSIZE' }),
        { family: 'IPv4', address: '127.0.0.1', port: c.address().port },
      ],
    ]);
    expect(server.stats.errors).toBe(1);
  });

  test('DatagramRequestHandler gets packet, rfile and the datagram as request', async () => {
    const seen = deferred<{ packet: string; read: string; request: Datagram }>();
    class Inspect extends DatagramRequestHandler {
      override async handle(): Promise<void> {
        const chunks: Buffer[] = [];
        for await (const c of this.rfile) chunks.push(c as Buffer);
        seen.resolve({
          packet: this.packet.toString(),
          read: Buffer.concat(chunks).toString(),
          request: this.request,
        });
      }
    }
    const server = await serve(new UDPServer(LOCAL, Inspect));
    const reply = udpRequest(server.serverAddress as InetAddress, 'pkt');
    const got = await seen.promise;
    expect(got.packet).toBe('pkt');
    expect(got.read).toBe('pkt');
    expect(got.request.clientAddress).toMatchObject({ family: 'IPv4', address: '127.0.0.1' });
    expect((await reply).length).toBe(0); // nothing written: an empty reply, as Python
  });
});
