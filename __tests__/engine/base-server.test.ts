/**
 * BaseServer lifecycle, the socketserver behaviours: serveForever/shutdown,
 * handleRequest with timeout, handleError, verifyRequest, setup/handle/finish,
 * serverClose (idempotent, drains, grace), listen errors, sequential ordering.
 * Exercised on real TCP and UDP sockets on 127.0.0.1, port 0.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { connect, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { Buffer } from 'node:buffer';
import type { InetAddress, SocketAddress } from '../../src/net/address.js';
import { NetworkError, SockitError, UsageError } from '../../src/net/errors.js';
import {
  BaseRequestHandler,
  DatagramRequestHandler,
  StreamRequestHandler,
  type Datagram,
  type StreamRequest,
} from '../../src/engine/request-handler.js';
import { TCPServer } from '../../src/engine/stream-server.js';
import { UDPServer } from '../../src/engine/datagram-server.js';
import { EchoHandler } from '../../src/handlers/echo.js';
import { UpperCaseHandler } from '../../src/handlers/case.js';
import { exchange, Teardown } from '../helpers/loopback.js';
import { deferred, drain, udpRequest } from '../helpers/matrix.js';

const teardown = new Teardown();
afterEach(() => teardown.run());

const LOCAL = { host: '127.0.0.1', port: 0 };

/** A TCP server on port 0 closed after the test. */
async function tcp(
  Handler: typeof StreamRequestHandler,
  options: ConstructorParameters<typeof TCPServer>[2] = {},
): Promise<{ server: TCPServer; port: number }> {
  const server = new TCPServer(LOCAL, Handler, options);
  teardown.add(() => server.serverClose({ graceMs: 0 }));
  const addr = (await server.listen()) as InetAddress;
  return { server, port: addr.port };
}

function connectTo(port: number): Socket {
  const s = connect(port, '127.0.0.1');
  teardown.add(() => s.destroy());
  return s;
}

/** The client's port, known once connected (and kept after the socket closes). */
async function localPort(s: Socket): Promise<number> {
  if (s.localPort === undefined || s.connecting) await once(s, 'connect');
  return s.localPort!;
}

describe('listen and serverAddress', () => {
  test('port 0 resolves to the real port; state goes idle → listening → closed', async () => {
    const server = new TCPServer(LOCAL, EchoHandler);
    teardown.add(() => server.serverClose());
    expect(server.state).toBe('idle');
    expect(server.serverAddress).toEqual({ family: 'IPv4', address: '127.0.0.1', port: 0 });
    const listening = once(server, 'listening');
    const addr = await server.listen();
    expect(addr).toEqual({ family: 'IPv4', address: '127.0.0.1', port: expect.any(Number) });
    expect((addr as InetAddress).port).toBeGreaterThan(0);
    expect(server.serverAddress).toEqual(addr);
    expect(await listening).toEqual([addr]);
    expect(server.state).toBe('listening');
    await server.serverClose();
    expect(server.state).toBe('closed');
  });

  test('UDP port 0 resolves to the real port', async () => {
    const server = new UDPServer(LOCAL, EchoHandler);
    teardown.add(() => server.serverClose());
    const addr = (await server.listen()) as InetAddress;
    expect(addr.port).toBeGreaterThan(0);
    expect(server.serverAddress).toEqual(addr);
  });

  test('listen() twice rejects with SOCKIT_ERR_ALREADY_LISTENING (also while binding)', async () => {
    const server = new TCPServer(LOCAL, EchoHandler);
    teardown.add(() => server.serverClose());
    const first = server.listen();
    await expect(server.listen()).rejects.toMatchObject({
      code: 'SOCKIT_ERR_ALREADY_LISTENING',
      exitCode: 2,
    });
    await first;
    const again = server.listen();
    await expect(again).rejects.toBeInstanceOf(SockitError);
    await expect(again).rejects.toMatchObject({ code: 'SOCKIT_ERR_ALREADY_LISTENING' });
    expect(server.state).toBe('listening');
  });

  test('binding twice to the same ephemeral TCP port rejects with EADDRINUSE', async () => {
    const { port } = await tcp(EchoHandler);
    const second = new TCPServer({ host: '127.0.0.1', port }, EchoHandler);
    teardown.add(() => second.serverClose());
    const err = await second.listen().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NetworkError);
    expect(err).toMatchObject({
      code: 'SOCKIT_ERR_ADDRESS_IN_USE',
      errno: 'EADDRINUSE',
      exitCode: 1,
      message: `cannot listen on 127.0.0.1:${port} — address in use (EADDRINUSE)`,
    });
    expect((err as NetworkError).cause).toMatchObject({ code: 'EADDRINUSE' });
    expect(second.state).toBe('closed');
    await second.serverClose(); // closing a server that never bound is fine
  });

  test('binding twice to the same ephemeral UDP port rejects with EADDRINUSE', async () => {
    const first = new UDPServer(LOCAL, EchoHandler);
    teardown.add(() => first.serverClose());
    const { port } = (await first.listen()) as InetAddress;
    const second = new UDPServer({ host: '127.0.0.1', port }, EchoHandler);
    teardown.add(() => second.serverClose());
    await expect(second.listen()).rejects.toMatchObject({
      name: 'NetworkError',
      code: 'SOCKIT_ERR_ADDRESS_IN_USE',
      errno: 'EADDRINUSE',
      exitCode: 1,
      message: `cannot bind 127.0.0.1:${port} — address in use (EADDRINUSE)`,
    });
  });

  test('an unknown mode is a UsageError; a non-class handler a TypeError', () => {
    expect(() => new TCPServer(LOCAL, EchoHandler, { mode: 'fibers' as never })).toThrow(
      UsageError,
    );
    expect(() => new TCPServer(LOCAL, 'echo' as never)).toThrow(TypeError);
  });

  test('listen() after serverClose() rejects', async () => {
    const server = new TCPServer(LOCAL, EchoHandler);
    await server.serverClose();
    await expect(server.listen()).rejects.toBeInstanceOf(UsageError);
  });
});

describe('serveForever and shutdown', () => {
  test('shutdown() returns promptly and serveForever() resolves (long poll interval)', async () => {
    const { server, port } = await tcp(EchoHandler);
    const serving = server.serveForever(3600);
    expect(await exchange({ port }, 'ping')).toEqual(Buffer.from('ping'));
    await server.shutdown();
    await expect(serving).resolves.toBeUndefined();
    await server.shutdown(); // idempotent once stopped
  });

  test('serveForever() binds first when needed and refuses to run twice', async () => {
    const server = new TCPServer(LOCAL, EchoHandler);
    teardown.add(() => server.serverClose());
    const serving = server.serveForever(0.05);
    await once(server, 'listening');
    await expect(server.serveForever()).rejects.toBeInstanceOf(UsageError);
    const { port } = server.serverAddress as InetAddress;
    expect(await exchange({ port }, 'x')).toEqual(Buffer.from('x'));
    await server.shutdown();
    await serving;
  });

  test('serviceActions() runs while serveForever() runs', async () => {
    const ran = deferred();
    class Server extends TCPServer {
      protected override serviceActions(): void {
        ran.resolve();
      }
    }
    const server = new Server(LOCAL, EchoHandler);
    teardown.add(() => server.serverClose());
    const serving = server.serveForever(0.01);
    await ran.promise;
    await server.shutdown();
    await serving;
  });

  test('requests that arrive after shutdown() wait in the backlog for the next serveForever()', async () => {
    const { server, port } = await tcp(UpperCaseHandler);
    const serving = server.serveForever(0.05);
    await server.shutdown();
    await serving;
    const reply = exchange({ port }, 'later');
    const request = once(server, 'request');
    const again = server.serveForever(0.05);
    await request;
    expect(await reply).toEqual(Buffer.from('LATER'));
    await server.shutdown();
    await again;
  });
});

describe('handleRequest', () => {
  test('with a timeout and no request calls handleTimeout() and returns', async () => {
    let timeouts = 0;
    class Server extends TCPServer {
      protected override handleTimeout(): void {
        timeouts += 1;
      }
    }
    const server = new Server(LOCAL, EchoHandler, { timeout: 0.05 });
    teardown.add(() => server.serverClose());
    await server.listen();
    await server.handleRequest();
    expect(timeouts).toBe(1);
  });

  test("the default handleTimeout() emits 'timeout'", async () => {
    const { server } = await tcp(EchoHandler, { timeout: 0.02 });
    const timedOut = once(server, 'timeout');
    await server.handleRequest();
    await timedOut;
    expect(server.stats.requests).toBe(0);
  });

  test('handles exactly one request, then returns; the next waits', async () => {
    const { server, port } = await tcp(UpperCaseHandler);
    const first = exchange({ port }, 'one');
    await server.handleRequest();
    expect(await first).toEqual(Buffer.from('ONE'));
    const second = exchange({ port }, 'two');
    await server.handleRequest();
    expect(await second).toEqual(Buffer.from('TWO'));
    expect(server.stats.requests).toBe(2);
  });

  test('serverClose() while handleRequest() waits makes it return without a timeout', async () => {
    let timeouts = 0;
    class Server extends TCPServer {
      protected override handleTimeout(): void {
        timeouts += 1;
      }
    }
    const server = new Server(LOCAL, EchoHandler, { timeout: null });
    await server.listen();
    const waiting = server.handleRequest();
    await server.serverClose();
    await expect(waiting).resolves.toBeUndefined();
    expect(timeouts).toBe(0);
  });

  test('handleRequest() twice at once is a UsageError', async () => {
    const { server } = await tcp(EchoHandler);
    const waiting = server.handleRequest();
    await expect(server.handleRequest()).rejects.toBeInstanceOf(UsageError);
    await server.serverClose();
    await waiting;
  });
});

class Boom extends Error {
  constructor() {
    super('boom');
  }
}

describe('handleError', () => {
  test.each(['sync', 'async'] as const)(
    'a %s handler that throws calls handleError(), its connection closes, the next request is served',
    async (flavour) => {
      const errors: [unknown, SocketAddress][] = [];
      class Failing extends StreamRequestHandler {
        override handle(): void | Promise<void> {
          if (flavour === 'sync') throw new Boom();
          return Promise.reject(new Boom());
        }
      }
      class Server extends TCPServer {
        protected override handleError(err: unknown, clientAddress: SocketAddress): void {
          errors.push([err, clientAddress]);
        }
      }
      const server = new Server(LOCAL, Failing);
      teardown.add(() => server.serverClose());
      const { port } = (await server.listen()) as InetAddress;
      const serving = server.serveForever(0.05);

      // The client sends nothing and keeps its side open: only the server can close it.
      const client = connectTo(port);
      const seen = drain(client);
      const cport = await localPort(client);
      expect((await seen).data.length).toBe(0);
      expect(errors).toHaveLength(1);
      expect(errors[0]![0]).toBeInstanceOf(Boom);
      expect(errors[0]![1]).toEqual({ family: 'IPv4', address: '127.0.0.1', port: cport });
      expect(server.stats.errors).toBe(1);

      // A second client with data: closed too (maybe reset), and handleError ran again.
      const second = connectTo(port);
      second.write('data');
      await drain(second);
      expect(errors).toHaveLength(2);
      await server.shutdown();
      await serving;
    },
  );

  test('a handler that fails after writing: the connection closes and the server keeps serving', async () => {
    let calls = 0;
    class HalfThenFail extends StreamRequestHandler {
      override async handle(): Promise<void> {
        calls += 1;
        if (calls === 1) {
          await this.write('partial');
          throw new Boom();
        }
        await this.write('ok');
      }
    }
    const lines: string[] = [];
    const { server, port } = await tcp(HalfThenFail, { log: (l) => lines.push(l) });
    const serving = server.serveForever(0.05);
    const first = connectTo(port);
    const seen = drain(first);
    const cport = await localPort(first);
    expect((await seen).data.toString()).toBe('partial');
    expect(lines).toEqual([`sockit: handler 'HalfThenFail' failed for 127.0.0.1:${cport}: boom`]);
    expect(await exchange({ port }, '')).toEqual(Buffer.from('ok'));
    await server.shutdown();
    await serving;
  });

  test("'requestError' is emitted instead of logging when someone listens", async () => {
    class Failing extends StreamRequestHandler {
      override handle(): void {
        throw new Boom();
      }
    }
    const lines: string[] = [];
    const { server, port } = await tcp(Failing, { log: (l) => lines.push(l) });
    const failed = once(server, 'requestError');
    const ended = once(server, 'requestEnd');
    const serving = server.serveForever(0.05);
    await drain(connectTo(port));
    const [err, addr] = await failed;
    expect(err).toBeInstanceOf(Boom);
    expect(addr).toMatchObject({ family: 'IPv4', address: '127.0.0.1' });
    const [info] = (await ended) as [{ error?: unknown }];
    expect(info.error).toBeInstanceOf(Boom);
    expect(lines).toEqual([]);
    await server.shutdown();
    await serving;
  });

  test('a peer reset while a handler waits is not reported as a handler error', async () => {
    const lines: string[] = [];
    const started = deferred<Socket>();
    class Waits extends StreamRequestHandler {
      override async handle(): Promise<void> {
        started.resolve(this.connection as Socket);
        for await (const _ of this.rfile); // ends with the peer's reset
      }
    }
    const { server, port } = await tcp(Waits, { log: (l) => lines.push(l) });
    const ended = once(server, 'requestEnd');
    const serving = server.serveForever(0.05);
    const client = connectTo(port);
    await once(client, 'connect');
    client.write('x');
    await started.promise;
    client.resetAndDestroy();
    await ended;
    expect(lines).toEqual([]);
    expect(server.stats.errors).toBe(0);
    await server.shutdown();
    await serving;
  });

  test('a handler error whose code looks like a peer error is still reported while the peer is fine', async () => {
    // e.g. a handler whose own outgoing connection timed out: the client's connection is healthy.
    class Backend extends StreamRequestHandler {
      override handle(): void {
        throw Object.assign(new Error('connect ETIMEDOUT 10.0.0.1:80'), { code: 'ETIMEDOUT' });
      }
    }
    const lines: string[] = [];
    const { server, port } = await tcp(Backend, { log: (l) => lines.push(l) });
    const serving = server.serveForever(0.05);
    const client = connectTo(port);
    const seen = drain(client);
    const cport = await localPort(client);
    await seen;
    expect(lines).toEqual([
      `sockit: handler 'Backend' failed for 127.0.0.1:${cport}: connect ETIMEDOUT 10.0.0.1:80`,
    ]);
    expect(server.stats.errors).toBe(1);
    await server.shutdown();
    await serving;
  });

  test('a UDP handler that throws calls handleError() and the next datagram is served', async () => {
    const errors: unknown[] = [];
    class Picky extends DatagramRequestHandler {
      override handle(): void {
        if (this.packet.toString() === 'bad') throw new Boom();
        this.wfile.write(this.packet);
      }
    }
    class Server extends UDPServer {
      protected override handleError(err: unknown): void {
        errors.push(err);
      }
    }
    const server = new Server(LOCAL, Picky);
    teardown.add(() => server.serverClose());
    const addr = (await server.listen()) as InetAddress;
    const serving = server.serveForever(0.05);
    const client = createSocket('udp4');
    teardown.add(() => client.close());
    const failed = once(server, 'requestEnd');
    client.send('bad', addr.port, addr.address);
    await failed;
    // finish() still ran and sent the (empty) reply, as Python's DatagramRequestHandler does.
    const [first] = (await once(client, 'message')) as [Buffer];
    expect(first.length).toBe(0);
    expect(await udpRequest(addr, 'good', client)).toEqual(Buffer.from('good'));
    expect(errors).toEqual([expect.any(Boom)]);
    await server.shutdown();
    await serving;
  });
});

describe('verifyRequest', () => {
  test('returning false closes the connection unserved: the handler never runs', async () => {
    let constructed = 0;
    class Counting extends EchoHandler {
      constructor(...args: ConstructorParameters<typeof EchoHandler>) {
        super(...args);
        constructed += 1;
      }
    }
    const refused: unknown[] = [];
    class Server extends TCPServer {
      protected override verifyRequest(_r: StreamRequest, addr: SocketAddress): boolean {
        refused.push(addr);
        return false;
      }
    }
    const server = new Server(LOCAL, Counting);
    teardown.add(() => server.serverClose());
    const { port } = (await server.listen()) as InetAddress;
    const rejected = once(server, 'rejected');
    const serving = server.serveForever(0.05);
    const client = connectTo(port);
    const seen = drain(client);
    const cport = await localPort(client);
    expect(await seen).toEqual({ data: Buffer.alloc(0), error: undefined });
    expect(await rejected).toEqual([
      { family: 'IPv4', address: '127.0.0.1', port: cport },
      'verifyRequest',
    ]);
    expect(constructed).toBe(0);
    expect(refused).toHaveLength(1);
    expect(server.stats).toMatchObject({ requests: 0, rejected: 1 });
    await server.shutdown();
    await serving;
  });

  test('a verifyRequest() that throws is reported and refuses the request', async () => {
    const errors: unknown[] = [];
    class Server extends TCPServer {
      protected override verifyRequest(): boolean {
        throw new Boom();
      }
      protected override handleError(err: unknown): void {
        errors.push(err);
      }
    }
    const server = new Server(LOCAL, EchoHandler);
    teardown.add(() => server.serverClose());
    const { port } = (await server.listen()) as InetAddress;
    const serving = server.serveForever(0.05);
    expect(await drain(connectTo(port))).toEqual({ data: Buffer.alloc(0), error: undefined });
    expect(errors).toEqual([expect.any(Boom)]);
    await server.shutdown();
    await serving;
  });

  test('on UDP a refused datagram gets no reply (proved with a sentinel)', async () => {
    class Server extends UDPServer {
      protected override verifyRequest(request: Datagram): boolean {
        return !request.data.toString().startsWith('deny');
      }
    }
    const server = new Server(LOCAL, EchoHandler);
    teardown.add(() => server.serverClose());
    const addr = (await server.listen()) as InetAddress;
    const serving = server.serveForever(0.05);
    const client = createSocket('udp4');
    teardown.add(() => client.close());
    const rejected = once(server, 'rejected');
    client.send('deny me', addr.port, addr.address);
    await rejected;
    // The first reply to arrive is the sentinel's: the refused datagram got none.
    expect(await udpRequest(addr, 'sentinel', client)).toEqual(Buffer.from('sentinel'));
    expect(server.stats).toMatchObject({ requests: 1, rejected: 1 });
    await server.shutdown();
    await serving;
  });
});

describe('setup → handle → finish', () => {
  type Step = 'setup' | 'handle' | 'finish';
  const flavours = ['sync', 'async'] as const;

  function recorder(
    flavour: 'sync' | 'async',
    log: string[],
    fail?: Step,
  ): typeof StreamRequestHandler {
    const step = (name: Step): void | Promise<void> => {
      const run = (): void => {
        log.push(name);
        if (fail === name) throw new Boom();
      };
      if (flavour === 'sync') return run();
      return Promise.resolve().then(run);
    };
    return class Recorder extends StreamRequestHandler {
      override setup(): void | Promise<void> {
        return step('setup');
      }
      override handle(): void | Promise<void> {
        return step('handle');
      }
      override finish(): void | Promise<void> {
        return step('finish');
      }
    };
  }

  test.each(flavours)('%s hooks run in order, once each', async (flavour) => {
    const log: string[] = [];
    const { server, port } = await tcp(recorder(flavour, log));
    const ended = once(server, 'requestEnd');
    const serving = server.serveForever(0.05);
    await exchange({ port }, 'x');
    await ended;
    expect(log).toEqual(['setup', 'handle', 'finish']);
    await server.shutdown();
    await serving;
  });

  test.each(flavours)('%s: finish() runs after a failing handle()', async (flavour) => {
    const log: string[] = [];
    const errors: unknown[] = [];
    const { server, port } = await tcp(recorder(flavour, log, 'handle'));
    server.on('requestError', (err) => errors.push(err));
    const ended = once(server, 'requestEnd');
    const serving = server.serveForever(0.05);
    await drain(connectTo(port));
    await ended;
    expect(log).toEqual(['setup', 'handle', 'finish']);
    expect(errors).toEqual([expect.any(Boom)]);
    await server.shutdown();
    await serving;
  });

  test.each(flavours)('%s: a failing setup() skips handle() and finish()', async (flavour) => {
    const log: string[] = [];
    const { server, port } = await tcp(recorder(flavour, log, 'setup'));
    server.on('requestError', () => undefined);
    const ended = once(server, 'requestEnd');
    const serving = server.serveForever(0.05);
    await drain(connectTo(port));
    await ended;
    expect(log).toEqual(['setup']);
    await server.shutdown();
    await serving;
  });

  test('a BaseRequestHandler gets request, clientAddress and server', async () => {
    const got = deferred<BaseRequestHandler<StreamRequest>>();
    class Inspect extends BaseRequestHandler<StreamRequest> {
      override handle(): void {
        got.resolve(this);
        (this.request as Socket).end('bye');
      }
    }
    const { server, port } = await tcp(Inspect as never);
    const serving = server.serveForever(0.05);
    const client = connectTo(port);
    const seen = drain(client);
    const h = await got.promise;
    expect(h.server).toBe(server);
    expect(h.clientAddress).toEqual({
      family: 'IPv4',
      address: '127.0.0.1',
      port: client.localPort,
    });
    expect((h.request as Socket).remotePort).toBe(client.localPort);
    expect((await seen).data.toString()).toBe('bye');
    await server.shutdown();
    await serving;
  });

  test('a datagram handler: hooks in order, the reply leaves after finish()', async () => {
    const log: string[] = [];
    class Ordered extends DatagramRequestHandler {
      override async setup(): Promise<void> {
        log.push('setup');
      }
      override async handle(): Promise<void> {
        log.push('handle');
        this.wfile.write('re:');
        this.wfile.write(this.packet);
      }
      override async finish(): Promise<void> {
        log.push('finish');
        await super.finish();
        log.push('sent');
      }
    }
    const server = new UDPServer(LOCAL, Ordered);
    teardown.add(() => server.serverClose());
    const addr = (await server.listen()) as InetAddress;
    const serving = server.serveForever(0.05);
    expect(await udpRequest(addr, 'hi')).toEqual(Buffer.from('re:hi'));
    expect(log).toEqual(['setup', 'handle', 'finish', 'sent']);
    await server.shutdown();
    await serving;
  });
});

describe('serverClose', () => {
  test('is idempotent: every call returns the same promise; close is emitted once', async () => {
    const { server } = await tcp(EchoHandler);
    let closes = 0;
    server.on('close', () => (closes += 1));
    const a = server.serverClose();
    const b = server.serverClose();
    expect(b).toBe(a);
    await a;
    expect(server.serverClose()).toBe(a);
    await server.serverClose();
    expect(closes).toBe(1);
    expect(server.state).toBe('closed');
  });

  test('stops listening: new connections are refused', async () => {
    const { server, port } = await tcp(EchoHandler);
    await server.serverClose();
    const client = connectTo(port);
    const [err] = (await once(client, 'error').catch((e: unknown) => [e])) as [
      NodeJS.ErrnoException,
    ];
    expect(err.code).toBe('ECONNREFUSED');
  });

  test('lets a running (slow) request finish before resolving', async () => {
    const started = deferred();
    const release = deferred();
    class Slow extends StreamRequestHandler {
      override async handle(): Promise<void> {
        started.resolve();
        await release.promise;
        await this.write('done slowly');
      }
    }
    const { server, port } = await tcp(Slow);
    const serving = server.serveForever(0.05);
    const reply = exchange({ port }, 'x');
    await started.promise;
    let closed = false;
    const closing = server.serverClose().then(() => (closed = true));
    await serving; // serverClose() stops serveForever() first
    expect(server.state).toBe('closing');
    expect(server.activeRequests).toBe(1);
    expect(closed).toBe(false);
    release.resolve();
    expect((await reply).toString()).toBe('done slowly');
    await closing;
    expect(server.state).toBe('closed');
  });

  test('with graceMs destroys requests still running after the grace period', async () => {
    const started = deferred();
    class Stuck extends StreamRequestHandler {
      override async handle(): Promise<void> {
        started.resolve();
        await once(this.connection as StreamRequest, 'close'); // only a destroy ends this
      }
    }
    const { server, port } = await tcp(Stuck);
    const serving = server.serveForever(0.05);
    const client = connectTo(port);
    const seen = drain(client);
    await started.promise;
    await server.serverClose({ graceMs: 20 });
    await serving;
    await seen;
    expect(client.destroyed).toBe(true);
    expect(server.activeRequests).toBe(0);
  });

  test.each(['tcp', 'udp'] as const)(
    'with graceMs resolves even when a %s handler ignores the destroy (it is abandoned)',
    async (transport) => {
      const started = deferred();
      const never = new Promise<void>(() => undefined);
      class Deaf extends StreamRequestHandler {
        override async handle(): Promise<void> {
          started.resolve();
          await never; // waits on nothing the server can end
        }
      }
      const server = transport === 'tcp' ? new TCPServer(LOCAL, Deaf) : new UDPServer(LOCAL, Deaf);
      const addr = (await server.listen()) as InetAddress;
      const serving = server.serveForever(0.05);
      if (transport === 'tcp') {
        const client = connectTo(addr.port);
        void drain(client); // the destroy may reset it: that is expected
        client.write('x');
      } else {
        const client = createSocket('udp4');
        teardown.add(() => client.close());
        client.send('x', addr.port, addr.address);
      }
      await started.promise;
      await server.serverClose({ graceMs: 20 });
      await serving;
      expect(server.state).toBe('closed');
      expect(server.activeRequests).toBe(0);
    },
  );

  test('drops queued requests that no handler took', async () => {
    const { server, port } = await tcp(EchoHandler);
    const client = connectTo(port);
    const seen = drain(client);
    await once(client, 'connect');
    client.write('never served');
    // No serveForever(): the connection waits in the queue until it is dropped.
    await server.serverClose();
    expect((await seen).data.length).toBe(0);
    expect(server.stats.requests).toBe(0);
  });

  test('on a server that never listened resolves at once', async () => {
    const server = new TCPServer(LOCAL, EchoHandler);
    await server.serverClose();
    expect(server.state).toBe('closed');
  });
});

describe('sequential mode', () => {
  test('a second client waits while the first is served, then is served', async () => {
    const events: string[] = [];
    const firstIn = deferred();
    const release = deferred();
    const queued = deferred();
    class Ordered extends StreamRequestHandler {
      override async handle(): Promise<void> {
        const [chunk] = (await once(this.rfile, 'data')) as [Buffer];
        const name = chunk.toString();
        events.push(`start ${name}`);
        if (name === 'first') {
          firstIn.resolve();
          await release.promise;
        }
        events.push(`end ${name}`);
        await this.write(name.toUpperCase());
      }
    }
    class Server extends TCPServer {
      protected override onQueued(request: StreamRequest): void {
        super.onQueued(request);
        events.push('queued');
        queued.resolve();
      }
    }
    const server = new Server(LOCAL, Ordered, { mode: 'sequential' });
    teardown.add(() => server.serverClose());
    const { port } = (await server.listen()) as InetAddress;
    const serving = server.serveForever(0.05);
    const a = exchange({ port }, 'first');
    await firstIn.promise;
    const b = exchange({ port }, 'second');
    await queued.promise;
    expect(server.activeRequests).toBe(1);
    expect(server.pendingRequests).toBe(1);
    release.resolve();
    expect((await a).toString()).toBe('FIRST');
    expect((await b).toString()).toBe('SECOND');
    expect(events).toEqual(['start first', 'queued', 'end first', 'start second', 'end second']);
    await server.shutdown();
    await serving;
  });

  test('async mode serves a second client while the first is still running', async () => {
    const release = deferred();
    const firstIn = deferred();
    class Holds extends StreamRequestHandler {
      override async handle(): Promise<void> {
        const [chunk] = (await once(this.rfile, 'data')) as [Buffer];
        if (chunk.toString() === 'first') {
          firstIn.resolve();
          await release.promise;
        }
        await this.write(chunk);
      }
    }
    const { server, port } = await tcp(Holds);
    const serving = server.serveForever(0.05);
    const a = exchange({ port }, 'first');
    await firstIn.promise;
    expect((await exchange({ port }, 'second')).toString()).toBe('second');
    release.resolve();
    expect((await a).toString()).toBe('first');
    await server.shutdown();
    await serving;
  });

  test('UDP sequential: datagrams are handled one at a time, in arrival order', async () => {
    const order: string[] = [];
    let running = 0;
    let overlap = false;
    class OneAtATime extends DatagramRequestHandler {
      override async handle(): Promise<void> {
        running += 1;
        overlap ||= running > 1;
        order.push(this.packet.toString());
        await new Promise<void>((r) => setImmediate(r));
        running -= 1;
        this.wfile.write(this.packet);
      }
    }
    const server = new UDPServer(LOCAL, OneAtATime, { mode: 'sequential' });
    teardown.add(() => server.serverClose());
    const addr = (await server.listen()) as InetAddress;
    const client = createSocket('udp4');
    teardown.add(() => client.close());
    const replies: string[] = [];
    const all = deferred();
    client.on('message', (m: Buffer) => {
      replies.push(m.toString());
      if (replies.length === 5) all.resolve();
    });
    for (const n of ['1', '2', '3', '4', '5']) client.send(n, addr.port, addr.address);
    const serving = server.serveForever(0.05);
    await all.promise;
    expect(overlap).toBe(false);
    expect(order).toEqual(['1', '2', '3', '4', '5']);
    expect(replies).toEqual(['1', '2', '3', '4', '5']);
    await server.shutdown();
    await serving;
  });
});
