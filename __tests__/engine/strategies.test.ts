/**
 * The concurrency strategies on real sockets: a subclass's hooks in every mode,
 * one supervision rule for both pools, forking's server-wide limits, unix socket
 * protection and start-up, and the socket members a threaded handler sees.
 *
 * Workers import modules at run time with Node's own loader, so these tests use
 * the BUILT engine (dist/, `npm run build` first) and plain JS fixtures.
 */
import { afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type * as Lib from '../../src/index.js';
import type { BaseServer } from '../../src/engine/base-server.js';
import type { ConcurrencyMode } from '../../src/engine/modes.js';
import type { InetAddress, SocketAddress } from '../../src/net/address.js';
import { exchange, Teardown, tempSocketPath } from '../helpers/loopback.js';

const DIST_INDEX = '../../dist/index.js'; // a variable: TypeScript must not resolve dist/
const FIXTURES = new URL('../fixtures/strategy-fixtures.js', import.meta.url).href;
const DIES = new URL('../fixtures/dies-at-start.js', import.meta.url).href;
const ECHO = new URL('../../dist/handlers/echo.js', import.meta.url).href;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyServer = BaseServer<any>;
type ServerClass = new (address: unknown, handler: unknown, options: object) => AnyServer;

let lib: typeof Lib;
let fixtures: Record<string, unknown>;

beforeAll(async () => {
  lib = (await import(DIST_INDEX)) as typeof Lib;
  fixtures = (await import(FIXTURES)) as Record<string, unknown>;
});

const teardown = new Teardown();
afterEach(() => teardown.run());

const MODES: readonly ConcurrencyMode[] = ['async', 'sequential', 'threading', 'forking'];

/** A server of `Class` with a fixture handler, listening on 127.0.0.1:0 and serving. */
async function start(
  Class: ServerClass,
  mode: ConcurrencyMode,
  handler: string,
  extra: object = {},
): Promise<{ server: AnyServer; port: number }> {
  const server = new Class({ host: '127.0.0.1', port: 0 }, fixtures[handler], {
    mode,
    workers: 1,
    handlerModule: { url: FIXTURES, exportName: handler },
    ...extra,
  });
  teardown.add(() => server.serverClose({ graceMs: 0 }));
  const { port } = (await server.listen()) as InetAddress;
  void server.serveForever();
  return { server, port };
}

/** Everything a connection gets until it closes (a refusal or reset gives what came). */
async function reply(port: number, data = ''): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.end(data);
  await once(socket, 'close');
  return Buffer.concat(chunks).toString();
}

describe.each(MODES)('%s mode', (mode) => {
  test('a TCPServer subclass keeps its own verifyRequest, and handlers see the subclass', async () => {
    const Class = fixtures.EveryOtherServer as ServerClass;
    const { server } = await start(Class, mode, 'WhoServes', {
      serverModule: { url: FIXTURES, exportName: 'EveryOtherServer' },
    });
    const port = (server.serverAddress as InetAddress).port;
    const rejected = once(server, 'rejected') as Promise<[SocketAddress, string]>;
    const first = await reply(port);
    expect(first).toMatch(/^EveryOtherServer (MainThread|Thread-\d+|Process-\d+)$/);
    expect(await reply(port)).toBe(''); // refused before any handler, as verifyRequest said
    expect((await rejected)[1]).toBe('verifyRequest');
    expect(await reply(port)).toBe(first.replace(/Thread-\d+|Process-\d+/, (w) => w));
    await server.serverClose();
    expect(server.stats).toMatchObject({ requests: 2, rejected: 1, errors: 0 });
  });
});

describe.each<ConcurrencyMode>(['threading', 'forking'])('%s pool', (mode) => {
  test('a subclass without serverModule is refused at listen(), not served by the base class', async () => {
    const Class = fixtures.EveryOtherServer as ServerClass;
    const server = new Class({ host: '127.0.0.1', port: 0 }, fixtures.WhoServes, {
      mode,
      workers: 1,
      handlerModule: { url: FIXTURES, exportName: 'WhoServes' },
    });
    teardown.add(() => server.serverClose());
    await expect(server.listen()).rejects.toMatchObject({
      name: 'UsageError',
      message: expect.stringContaining('serverModule'),
    });
  });

  test('workers that keep dying at start: the pool gives up and closes the server', async () => {
    const server = new lib.TCPServer({ host: '127.0.0.1', port: 0 }, lib.EchoHandler, {
      mode,
      workers: 1,
      handlerModule: { url: DIES, exportName: 'DiesAtStart' },
    });
    teardown.add(() => server.serverClose({ graceMs: 0 }));
    await server.listen();
    void server.serveForever();
    const exits: { gaveUp: boolean }[] = [];
    server.on('workerExit', (info: { gaveUp: boolean }) => exits.push(info));
    await Promise.all([once(server, 'giveUp'), once(server, 'close')]);
    expect(exits.length).toBeGreaterThanOrEqual(5);
    expect(exits.at(-1)!.gaveUp).toBe(true);
    expect(server.state).toBe('closed');
  });
});

describe('forking specifics', () => {
  test('--max-conns is one limit for the whole server, not per worker', async () => {
    const { server, port } = await start(
      lib.TCPServer as unknown as ServerClass,
      'forking',
      'Hold',
      {
        workers: 2,
        maxConnections: 2,
      },
    );
    const held: Socket[] = [];
    for (let i = 0; i < 2; i++) {
      const served = once(server, 'request');
      const s = connect(port, '127.0.0.1');
      teardown.add(() => s.destroy());
      held.push(s);
      await served;
    }
    const refused = once(server, 'rejected') as Promise<[SocketAddress, string]>;
    expect(await reply(port, 'x')).toBe('');
    expect((await refused)[1]).toBe('max-conns');
    const ended = once(server, 'requestEnd');
    held[0]!.destroy();
    await ended;
    const served = once(server, 'request');
    const again = connect(port, '127.0.0.1');
    teardown.add(() => again.destroy());
    await served;
    expect(server.stats.rejected).toBe(1);
  });

  test('unix: stopping removes only its own socket, never what was put at the path since', async () => {
    const tmp = tempSocketPath();
    teardown.add(tmp.cleanup);
    const server = new lib.UnixStreamServer(tmp.path, fixtures.WhoServes as never, {
      mode: 'forking',
      workers: 1,
      handlerModule: { url: ECHO, exportName: 'EchoHandler' },
    });
    teardown.add(() => server.serverClose());
    await server.listen();
    void server.serveForever();
    expect((await exchange({ path: tmp.path }, 'hi')).toString()).toBe('hi');
    renameSync(tmp.path, `${tmp.path}.moved`);
    writeFileSync(tmp.path, 'not a socket');
    await server.serverClose();
    expect(readFileSync(tmp.path, 'utf8')).toBe('not a socket');
    expect(existsSync(`${tmp.path}.moved`)).toBe(true);
  });
});

describe('threading specifics', () => {
  test('a handler gets the net.Socket members it reaches for', async () => {
    const { port } = await start(
      lib.TCPServer as unknown as ServerClass,
      'threading',
      'SocketMembers',
    );
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const ownPort = socket.localPort;
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.end('12345');
    await once(socket, 'close');
    expect(JSON.parse(Buffer.concat(chunks).toString())).toEqual({
      remoteAddress: '127.0.0.1',
      remotePort: ownPort,
      remoteFamily: 'IPv4',
      localPort: port,
      bytesRead: 5,
    });
  });
});
