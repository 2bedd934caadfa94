/**
 * The `threading` and `forking` concurrency models on real sockets.
 *
 * Worker threads and processes import the handler module at run time, with
 * Node's own loader: they cannot load the TypeScript sources ts-jest runs (the
 * registry's module URLs point to src/handlers/*.ts here). So these tests use
 * the BUILT engine — `npm run build` first — importing the server classes from
 * dist/ and passing explicit handler modules from dist/handlers and
 * __tests__/fixtures (plain JS). Types come from src.
 */
import { afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { connect, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Buffer } from 'node:buffer';
import type * as Lib from '../../src/index.js';
import type { BaseServer, HandlerModule } from '../../src/engine/base-server.js';
import type { InetAddress, SocketAddress } from '../../src/net/address.js';
import { Teardown, tempSocketPath } from '../helpers/loopback.js';
import { NO_UNIX_DGRAM, testIf } from '../helpers/skip.js';

const testDgram = testIf(NO_UNIX_DGRAM, import.meta.url);

type Mode = 'threading' | 'forking';
type Kind = 'tcp' | 'unix' | 'udp';
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyServer = BaseServer<any>;

const DIST_INDEX = '../../dist/index.js'; // a variable: TypeScript must not resolve dist/
const DIST_POOL = '../../dist/net/worker-pool.js';
const dist = (path: string): string => new URL(`../../dist/${path}`, import.meta.url).href;
const FIXTURE = new URL('../fixtures/concurrency-handlers.js', import.meta.url).href;

/** A handler as the tests pick it: one module, a class for streams and one for datagrams. */
interface HandlerPick {
  readonly url: string;
  readonly stream: string;
  readonly datagram: string;
}
const ECHO = {
  url: dist('handlers/echo.js'),
  stream: 'EchoHandler',
  datagram: 'EchoHandler',
};
const UPPER = {
  url: dist('handlers/case.js'),
  stream: 'UpperCaseHandler',
  datagram: 'UpperCaseHandler',
};
const THREADED_ECHO = {
  url: dist('handlers/threaded-echo.js'),
  stream: 'ThreadedEchoHandler',
  datagram: 'ThreadedEchoHandler',
};
const TEST = { url: FIXTURE, stream: 'TestHandler', datagram: 'TestDatagramHandler' };
const SHOUT = { url: FIXTURE, stream: 'shout', datagram: 'shout' };

let lib: typeof Lib;
let liveThreadWorkers: () => number;

beforeAll(async () => {
  lib = (await import(DIST_INDEX)) as typeof Lib;
  ({ liveWorkers: liveThreadWorkers } = (await import(DIST_POOL)) as {
    liveWorkers: () => number;
  });
});

const teardown = new Teardown();
afterEach(() => teardown.run());

interface Running {
  readonly server: AnyServer;
  readonly address: SocketAddress;
  /** Worker process ids seen (forking). */
  readonly pids: number[];
  /** Lines the server logged. */
  readonly logs: string[];
  /** One request: a connection that sends and half-closes, or one datagram; resolves with the reply. */
  request(data: Uint8Array | string): Promise<Buffer>;
  /** Send without waiting for a reply (a request meant to fail). */
  fire(data: string): Promise<void>;
}

async function serve(
  mode: Mode,
  kind: Kind,
  pick: HandlerPick,
  workers: number,
  extra: Record<string, unknown> = {},
): Promise<Running> {
  const exportName = kind === 'udp' ? pick.datagram : pick.stream;
  const handlerModule: HandlerModule = { url: pick.url, exportName };
  const ns = (await import(pick.url)) as Record<string, unknown>;
  // The main thread's class only names the handler in logs; workers import their own.
  const Handler = (typeof ns[exportName] === 'function' ? ns[exportName] : class {}) as never;
  const logs: string[] = [];
  const opts = { mode, workers, handlerModule, log: (line: string) => logs.push(line), ...extra };
  let server: AnyServer;
  if (kind === 'unix') {
    const tmp = tempSocketPath();
    teardown.add(tmp.cleanup);
    server = new lib.UnixStreamServer(tmp.path, Handler, opts);
  } else if (kind === 'tcp') {
    server = new lib.TCPServer({ host: '127.0.0.1', port: 0 }, Handler, opts);
  } else {
    server = new lib.UDPServer({ host: '127.0.0.1', port: 0 }, Handler, opts);
  }
  const pids: number[] = [];
  server.on('workerStart', (info: { pid: number }) => pids.push(info.pid));
  teardown.add(() => server.serverClose());
  const address = await server.listen();
  void server.serveForever();
  const request =
    kind === 'udp'
      ? (data: Uint8Array | string) => udpRequest(address as InetAddress, data)
      : (data: Uint8Array | string) => streamRequest(address, data);
  const fire =
    kind === 'udp'
      ? (data: string) => udpSend(address as InetAddress, data)
      : (data: string) => streamRequest(address, data).then(() => undefined);
  return { server, address, pids, logs, request, fire };
}

/** Connect, send, half-close; everything the server sent until it closed (a reset ends it too). */
async function streamRequest(address: SocketAddress, data: Uint8Array | string): Promise<Buffer> {
  const socket =
    address.family === 'unix' ? connect(address.path) : connect(address.port, address.address);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => undefined);
  const closed = once(socket, 'close');
  socket.end(data);
  await closed;
  return Buffer.concat(chunks);
}

async function udpRequest(address: InetAddress, data: Uint8Array | string): Promise<Buffer> {
  const socket = createSocket('udp4');
  try {
    const reply = once(socket, 'message') as Promise<[Buffer]>;
    socket.send(data, address.port, address.address);
    return (await reply)[0];
  } finally {
    socket.close();
  }
}

async function udpSend(address: InetAddress, data: string): Promise<void> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) =>
    socket.send(data, address.port, address.address, (err) => (err ? reject(err) : resolve())),
  );
  socket.close();
}

/** Is a process with this pid still there? */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const NAME = { threading: /^Thread-\d+: /, forking: /^Process-\d+: / } as const;

describe.each<Mode>(['threading', 'forking'])('%s mode', (mode) => {
  describe.each<Kind>(['tcp', 'unix', 'udp'])('%s', (kind) => {
    test('echo is byte-exact (text, every byte value, and MiBs on streams); close leaves no worker', async () => {
      const { server, request, pids } = await serve(mode, kind, ECHO, 2);
      expect((await request('hello')).toString()).toBe('hello');
      expect((await request(ALL_BYTES)).equals(ALL_BYTES)).toBe(true);
      const big = randomBytes(kind === 'udp' ? 60_000 : 3 * 1024 * 1024 + 7);
      expect(sha(await request(big))).toBe(sha(big));
      if (mode === 'threading') expect(liveThreadWorkers()).toBe(2);
      else expect(pids.filter(alive)).toHaveLength(2);
      await server.serverClose();
      // The counters are right at close, whichever process served.
      expect(server.stats.requests).toBe(3);
      expect(server.stats.bytesIn).toBe(5 + 256 + big.length);
      expect(server.stats.bytesOut).toBe(5 + 256 + big.length);
      expect(server.stats.errors).toBe(0);
      if (mode === 'threading') expect(liveThreadWorkers()).toBe(0);
      else {
        expect(pids).toHaveLength(2);
        expect(pids.filter(alive)).toEqual([]);
      }
    });

    test('upper-case upper-cases ASCII letters only', async () => {
      const { request } = await serve(mode, kind, UPPER, 1);
      const reply = await request(Buffer.from('Hello, wörld\n\x00\xff', 'latin1'));
      expect(reply.equals(Buffer.from('HELLO, WöRLD\n\x00\xff', 'latin1'))).toBe(true);
    });

    test('threaded-echo names its worker, and with 2 workers both serve', async () => {
      const { request } = await serve(mode, kind, THREADED_ECHO, 2);
      const names = new Set<string>();
      for (let i = 0; i < 40 && names.size < 2; i++) {
        const reply = (await request('hello\n')).toString();
        expect(reply).toMatch(NAME[mode]);
        expect(reply.endsWith(': hello\n')).toBe(true);
        names.add(reply.slice(0, reply.indexOf(':')));
      }
      expect(names.size).toBe(2);
    });

    test('a handler that throws is reported once and the next request is served', async () => {
      const { server, request, fire } = await serve(mode, kind, TEST, 1);
      const reported = once(server, 'requestError') as Promise<[Error, SocketAddress]>;
      await fire('boom');
      const [err] = await reported;
      expect(err.message).toBe('boom requested');
      expect((await request('again')).toString()).toMatch(/: again$/);
      await server.serverClose();
      expect(server.stats.errors).toBe(1);
      expect(server.stats.requests).toBe(2);
    });

    test('a worker that dies is replaced and the server keeps serving', async () => {
      const { server, request, fire, pids, logs } = await serve(mode, kind, TEST, 2);
      const exited = once(server, 'workerExit') as Promise<[Record<string, unknown>]>;
      if (mode === 'forking') {
        const replaced = once(server, 'workerReady') as Promise<[{ id: number }]>;
        process.kill(pids[0]!, 'SIGKILL');
        const [info] = await exited;
        expect(info).toMatchObject({ pid: pids[0], signal: 'SIGKILL' });
        expect((await request('still')).toString()).toMatch(/^Process-\d+: still$/);
        const [{ id }] = await replaced;
        expect(id).toBe(3);
        expect(pids).toHaveLength(3);
        if (kind !== 'udp') {
          // Round-robin: the new worker gets its share (a shared UDP socket is uneven).
          const seen = new Set<string>();
          for (let i = 0; i < 20 && !seen.has('Process-3'); i++) {
            const reply = (await request('x')).toString();
            seen.add(reply.slice(0, reply.indexOf(':')));
          }
          expect(seen.has('Process-3')).toBe(true);
        }
      } else {
        await fire('die!'); // the handler calls process.exit(7) in its thread
        const [info] = await exited;
        expect(info).toMatchObject({ code: 7, gaveUp: false });
        // The request it was running failed, through handleError.
        expect(logs.join('\n')).toMatch(/failed for .*: worker thread \d+ died — exit code 7/);
        expect((await request('still')).toString()).toMatch(/^Thread-\d+: still$/);
        expect((await request('and again')).toString()).toMatch(/^Thread-\d+: and again$/);
      }
    });
  });

  test('a plain function handler is wrapped (stream and datagram)', async () => {
    const tcp = await serve(mode, 'tcp', SHOUT, 1);
    expect((await tcp.request('shout me')).toString()).toBe('SHOUT ME');
    const udp = await serve(mode, 'udp', SHOUT, 1);
    expect((await udp.request('and me')).toString()).toBe('AND ME');
  });

  test('a handler module that does not load fails listen() with a UsageError', async () => {
    const missing = { url: FIXTURE, stream: 'NoSuchExport', datagram: 'NoSuchExport' };
    await expect(serve(mode, 'tcp', missing, 1)).rejects.toMatchObject({
      name: 'UsageError',
      code: 'SOCKIT_ERR_HANDLER_MODULE',
    });
  });

  test('an address in use fails listen() with a NetworkError', async () => {
    const first = await serve(mode, 'tcp', ECHO, 1);
    const port = (first.address as InetAddress).port;
    const second = new lib.TCPServer({ host: '127.0.0.1', port }, class {} as never, {
      mode,
      workers: 1,
      handlerModule: { url: ECHO.url, exportName: ECHO.stream },
    });
    teardown.add(() => second.serverClose());
    await expect(second.listen()).rejects.toMatchObject({
      name: 'NetworkError',
      code: 'SOCKIT_ERR_ADDRESS_IN_USE',
      errno: 'EADDRINUSE',
    });
    expect((await first.request('ok')).toString()).toBe('ok');
  });
});

describe('forking specifics', () => {
  test('unix: the primary creates the socket 0600, once, and removes it on close', async () => {
    const { server, address, request } = await serve('forking', 'unix', ECHO, 2);
    const path = (address as { path: string }).path;
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect((await request('via unix')).toString()).toBe('via unix');
    await server.serverClose();
    expect(existsSync(path)).toBe(false);
  });

  test('the primary sees request and requestEnd events from its workers', async () => {
    const { server, request } = await serve('forking', 'tcp', ECHO, 2);
    const ends: { bytesIn: number }[] = [];
    server.on('requestEnd', (info: { bytesIn: number }) => ends.push(info));
    await request('12345');
    await request('123');
    await server.serverClose(); // the workers' last batch arrives before close resolves
    expect(ends.map((e) => e.bytesIn).sort()).toEqual([3, 5]);
  });

  test('handleRequest() serves exactly one connection through a worker process', async () => {
    const server = new lib.TCPServer({ host: '127.0.0.1', port: 0 }, class {} as never, {
      mode: 'forking',
      workers: 1,
      handlerModule: { url: TEST.url, exportName: TEST.stream },
    });
    teardown.add(() => server.serverClose());
    const address = (await server.listen()) as InetAddress;
    const reply = streamRequest(address, 'one');
    await server.handleRequest();
    expect((await reply).toString()).toMatch(/^Process-\d+: one$/);
    expect(server.stats.requests).toBe(1);
  });

  testDgram('unix datagram: this process receives, a worker process answers', async () => {
    const tmp = tempSocketPath();
    teardown.add(tmp.cleanup);
    const server = new lib.UnixDatagramServer(tmp.path, class {} as never, {
      mode: 'forking',
      workers: 1,
      handlerModule: { url: THREADED_ECHO.url, exportName: THREADED_ECHO.datagram },
    });
    teardown.add(() => server.serverClose());
    await server.listen();
    void server.serveForever();
    const client = new lib.UnixDgramSocket();
    teardown.add(() => client.close());
    client.bind(join(tmp.dir, 'c.sock'));
    const reply = once(client, 'message') as Promise<[Buffer]>;
    await client.send(Buffer.from('dgram'), tmp.path);
    expect((await reply)[0].toString()).toMatch(/^Process-\d+: dgram$/);
  });
});

describe('threading specifics', () => {
  test('a handler that does not read holds the socket paused at the small window (32 KiB)', async () => {
    const HOLD = { url: FIXTURE, stream: 'HoldHandler', datagram: 'HoldHandler' };
    const { server, address } = await serve('threading', 'tcp', HOLD, 1);
    const accepted = once(server, 'request') as Promise<[SocketAddress, Socket]>;
    const client = connect((address as InetAddress).port, '127.0.0.1');
    teardown.add(() => client.destroy());
    client.on('error', () => undefined);
    client.write(Buffer.alloc(16 * 1024 * 1024, 0x61));
    const [, socket] = await accepted;
    await once(socket, 'pause'); // the main thread stops reading: the worker holds too much
    expect(socket.bytesRead).toBeGreaterThan(32 * 1024);
    expect(socket.bytesRead).toBeLessThan(512 * 1024);
    // A paused socket does not see its peer go: cut the grace, as a second Ctrl-C would.
    await server.serverClose({ graceMs: 0 });
  });

  testDgram('unix datagram: replies come from the worker, sent by the main thread', async () => {
    const tmp = tempSocketPath();
    teardown.add(tmp.cleanup);
    const server = new lib.UnixDatagramServer(tmp.path, class {} as never, {
      mode: 'threading',
      workers: 1,
      handlerModule: { url: THREADED_ECHO.url, exportName: THREADED_ECHO.datagram },
    });
    teardown.add(() => server.serverClose());
    await server.listen();
    void server.serveForever();
    const client = new lib.UnixDgramSocket();
    teardown.add(() => client.close());
    client.bind(join(tmp.dir, 'c.sock'));
    const reply = once(client, 'message') as Promise<[Buffer]>;
    await client.send(Buffer.from('dgram'), tmp.path);
    expect((await reply)[0].toString()).toMatch(/^Thread-\d+: dgram$/);
  });
});
