/**
 * The built-in handlers on real loopback servers (in-process): echo, upper-case,
 * lower, threaded-echo, discard (RFC 863), daytime (RFC 867), chargen (RFC 864,
 * bounded by backpressure). One class each serves tcp, udp and unix datagram
 * servers; and the registry gives one class and one module per name.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { Duplex } from 'node:stream';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Buffer } from 'node:buffer';
import { createSocket } from 'node:dgram';
import { TCPServer } from '../../src/engine/stream-server.js';
import { UnixDgramSocket } from '../../src/net/unix-dgram.js';
import type { InetAddress, SocketAddress, UnixAddress } from '../../src/net/address.js';
import type { BaseServer, RequestEndInfo } from '../../src/engine/base-server.js';
import {
  DatagramRequestHandler,
  StreamRequestHandler,
  type HandlerClass,
  type StreamRequest,
} from '../../src/engine/request-handler.js';
import { EchoHandler } from '../../src/handlers/echo.js';
import { LowerCaseHandler, UpperCaseHandler, mapBytes } from '../../src/handlers/case.js';
import { LinePrefixer, ThreadedEchoHandler, workerName } from '../../src/handlers/threaded-echo.js';
import { DiscardHandler } from '../../src/handlers/discard.js';
import { DaytimeHandler, daytime } from '../../src/handlers/daytime.js';
import { ChargenHandler, chargenLine } from '../../src/handlers/chargen.js';
import { HANDLERS, HANDLER_NAMES, findHandler } from '../../src/handlers/registry.js';
import { loadBuiltinHandler } from '../../src/handlers/builtin.js';
import { collect, exchange, tempSocketPath } from '../helpers/loopback.js';
import { makeServer, requestFor } from '../helpers/matrix.js';
import { dial } from '../cli/serve-helpers.js';
import { eachIf, unixDgramMissing } from '../helpers/skip.js';

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of closers.splice(0).reverse()) await fn();
});

async function tcp(Handler: unknown): Promise<{ server: TCPServer; port: number }> {
  const server = new TCPServer(
    { host: '127.0.0.1', port: 0 },
    Handler as HandlerClass<StreamRequest>,
  );
  closers.push(() => server.serverClose({ graceMs: 0 }));
  const address = await server.listen();
  void server.serveForever();
  return { server, port: (address as { port: number }).port };
}

type DatagramTransport = 'udp' | 'unix-dgram';
const DATAGRAM_TRANSPORTS: readonly DatagramTransport[] = ['udp', 'unix-dgram'];

interface DatagramCase {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly server: BaseServer<any>;
  readonly address: SocketAddress;
  /** Send one datagram from a fresh client and wait for its reply. */
  ask(data: Uint8Array | string): Promise<Buffer>;
}

/** A udp or unix datagram server with `Handler`, serving until the test ends. */
async function datagram(transport: DatagramTransport, Handler: unknown): Promise<DatagramCase> {
  const tmp = tempSocketPath();
  closers.push(tmp.cleanup);
  const server = makeServer(transport, Handler as HandlerClass<never>, tmp.dir);
  closers.push(() => server.serverClose({ graceMs: 0 }));
  const address = await server.listen();
  void server.serveForever();
  return { server, address, ask: requestFor(transport, address, tmp.dir) };
}

interface DatagramClient {
  send(to: SocketAddress, data: string): Promise<void>;
  /** The next datagram this client receives. */
  next(): Promise<Buffer>;
  /** Every datagram it received so far, in order. */
  readonly received: Buffer[];
}

/** One client socket (bound, so that unix datagram servers can answer it). */
async function datagramClient(transport: DatagramTransport): Promise<DatagramClient> {
  const received: Buffer[] = [];
  if (transport === 'udp') {
    const s = createSocket('udp4');
    closers.push(() => s.close());
    s.bind(0, '127.0.0.1');
    await once(s, 'listening');
    s.on('message', (m: Buffer) => received.push(m));
    return {
      received,
      next: async () => ((await once(s, 'message')) as [Buffer])[0],
      send: (to, data) =>
        new Promise((resolve, reject) => {
          const { address, port } = to as InetAddress;
          s.send(data, port, address, (err) => (err ? reject(err) : resolve()));
        }),
    };
  }
  const tmp = tempSocketPath('c.sock');
  closers.push(tmp.cleanup);
  const s = new UnixDgramSocket();
  closers.push(() => s.close());
  s.bind(tmp.path);
  s.on('message', (m: Buffer) => received.push(m));
  return {
    received,
    next: async () => ((await once(s, 'message')) as [Buffer])[0],
    send: (to, data) => s.send(Buffer.from(data), (to as UnixAddress).path),
  };
}

const ALL_BYTES = Buffer.from(Array.from({ length: 256 * 8 }, (_, i) => i % 256));
const upperOf = (b: Buffer): Buffer =>
  Buffer.from(b.map((c) => (c >= 97 && c <= 122 ? c - 32 : c)));
const lowerOf = (b: Buffer): Buffer => Buffer.from(b.map((c) => (c >= 65 && c <= 90 ? c + 32 : c)));

describe('echo', () => {
  test('stream: every byte back, unchanged; an empty request gets an empty reply', async () => {
    const { port } = await tcp(EchoHandler);
    expect(await exchange({ port }, ALL_BYTES)).toEqual(ALL_BYTES);
    expect(await exchange({ port }, '')).toEqual(Buffer.alloc(0));
  });

  test('stream: a peer that does not read stops the echo reading; then every byte arrives', async () => {
    const { server, port } = await tcp(EchoHandler);
    const paused = new Promise<Duplex>((resolve) =>
      server.once('request', (_addr: unknown, conn: Duplex) =>
        conn.once('pause', () => resolve(conn)),
      ),
    );
    const sock = await dial({ port });
    sock.pause(); // read nothing until the server has had to stop
    // more than the loopback socket buffers hold both ways, so the echo's writes must wait
    const payload = Buffer.alloc(32 * 1024 * 1024, ALL_BYTES);
    sock.end(payload);
    const conn = await paused;
    expect(conn.isPaused()).toBe(true);
    expect(conn.readableLength).toBeLessThan(payload.length);
    const reply = await collect(sock);
    expect(reply.length).toBe(payload.length);
    expect(reply.equals(payload)).toBe(true);
  });

  test('stream: a stalled bulk echo and small exchanges at once each get their own bytes back', async () => {
    const { server, port } = await tcp(EchoHandler);
    const conns: Duplex[] = [];
    server.on('request', (_addr: unknown, conn: Duplex) => conns.push(conn));
    const bulk = await dial({ port });
    bulk.pause(); // its echo's writes queue (and keep their chunks) while the others read
    const payload = Buffer.alloc(16 * 1024 * 1024);
    for (let i = 0; i < payload.length; i += 4) payload.writeUInt32LE(i, i);
    bulk.end(payload);
    for (let round = 0; round < 20; round++) {
      const small = Buffer.alloc(100 + round, round);
      expect(await exchange({ port }, small)).toEqual(small);
    }
    const reply = await collect(bulk);
    expect(reply.length).toBe(payload.length);
    expect(reply.equals(payload)).toBe(true);
    // the echo read without a 'data' listener (net/shared-read.ts), which this test is about
    expect(conns.length).toBe(21);
    expect(conns.every((c) => c.listenerCount('data') === 0)).toBe(true);
  });

  eachIf(
    DATAGRAM_TRANSPORTS,
    unixDgramMissing,
    import.meta.url,
  )('%s: each datagram back to its sender, including an empty one', async (transport) => {
    const { ask } = await datagram(transport, EchoHandler);
    expect(await ask(ALL_BYTES)).toEqual(ALL_BYTES);
    expect(await ask(Buffer.alloc(0))).toEqual(Buffer.alloc(0));
  });
});

describe('upper-case and lower', () => {
  test('mapBytes changes only ASCII letters', () => {
    const upper = mapBytes(
      Buffer.from(ALL_BYTES),
      new Uint8Array(256).map((_, i) => (i >= 97 && i <= 122 ? i - 32 : i)),
    );
    expect(upper).toEqual(upperOf(ALL_BYTES));
  });

  test('stream: multi-byte UTF-8 split across writes comes through intact', async () => {
    const { port } = await tcp(UpperCaseHandler);
    const text = Buffer.from('größe ✓ straße');
    const sock = await dial({ port });
    const reply = collect(sock);
    for (let i = 0; i < text.length; i++) {
      // one byte per write: every multi-byte sequence is split
      await new Promise<void>((resolve) => sock.write(text.subarray(i, i + 1), () => resolve()));
    }
    sock.end();
    expect((await reply).toString()).toBe('GRößE ✓ STRAßE');
    expect(await exchange({ port }, ALL_BYTES)).toEqual(upperOf(ALL_BYTES));
    const lower = await tcp(LowerCaseHandler);
    expect(await exchange({ port: lower.port }, ALL_BYTES)).toEqual(lowerOf(ALL_BYTES));
  });

  eachIf(
    DATAGRAM_TRANSPORTS,
    unixDgramMissing,
    import.meta.url,
  )('%s: each datagram mapped whole; an empty one gets an empty reply', async (transport) => {
    const up = await datagram(transport, UpperCaseHandler);
    const down = await datagram(transport, LowerCaseHandler);
    expect(await up.ask(ALL_BYTES)).toEqual(upperOf(ALL_BYTES));
    expect(await down.ask(ALL_BYTES)).toEqual(lowerOf(ALL_BYTES));
    expect(await up.ask(Buffer.alloc(0))).toEqual(Buffer.alloc(0));
  });
});

describe('threaded-echo', () => {
  test('workerName is MainThread here, Process-<id> in a forked worker', () => {
    expect(workerName()).toBe('MainThread');
    process.env.SOCKIT_WORKER_ID = '3';
    try {
      expect(workerName()).toBe('Process-3');
    } finally {
      delete process.env.SOCKIT_WORKER_ID;
    }
  });

  test('LinePrefixer prefixes each line once, across chunk boundaries', () => {
    const p = new LinePrefixer(Buffer.from('T: '));
    const out = ['hel', 'lo\nwor', 'ld\n', '\nend'].map((s) => p.apply(Buffer.from(s)).toString());
    expect(out.join('')).toBe('T: hello\nT: world\nT: \nT: end');
  });

  test('stream: every line carries the worker name', async () => {
    const { port } = await tcp(ThreadedEchoHandler);
    expect((await exchange({ port }, 'a\nb\n')).toString()).toBe('MainThread: a\nMainThread: b\n');
  });

  eachIf(
    DATAGRAM_TRANSPORTS,
    unixDgramMissing,
    import.meta.url,
  )('%s: a datagram comes back whole after one prefix', async (transport) => {
    const { ask } = await datagram(transport, ThreadedEchoHandler);
    expect((await ask('hi')).toString()).toBe('MainThread: hi');
    expect((await ask('a\nb\n')).toString()).toBe('MainThread: a\nb\n');
  });
});

describe('discard (RFC 863)', () => {
  test('stream: reads everything, sends nothing, ends when the client does', async () => {
    const { server, port } = await tcp(DiscardHandler);
    const ended = once(server, 'requestEnd') as Promise<[RequestEndInfo]>;
    expect(await exchange({ port }, ALL_BYTES)).toEqual(Buffer.alloc(0));
    const [info] = await ended;
    expect(info).toMatchObject({ bytesIn: ALL_BYTES.length, bytesOut: 0 });
  });

  eachIf(
    DATAGRAM_TRANSPORTS,
    unixDgramMissing,
    import.meta.url,
  )('%s: no reply at all, not even an empty one', async (transport) => {
    const discard = await datagram(transport, DiscardHandler);
    const echo = await datagram(transport, EchoHandler);
    // One client asks the discard server, then the echo server: the first reply it
    // gets is the echo's (a reply from discard would have left before requestEnd).
    const c = await datagramClient(transport);
    const ended = once(discard.server, 'requestEnd') as Promise<[RequestEndInfo]>;
    await c.send(discard.address, 'drop me');
    const [info] = await ended;
    expect(info).toMatchObject({ bytesIn: 7, bytesOut: 0 });
    const sentinel = c.next();
    await c.send(echo.address, 'sentinel');
    expect((await sentinel).toString()).toBe('sentinel');
    expect(c.received.map(String)).toEqual(['sentinel']);
  });
});

describe('daytime (RFC 867)', () => {
  test('the line format, in UTC and English', () => {
    expect(daytime(new Date('2026-11-23T15:04:05Z'))).toBe(
      'Monday, November 23, 2026 15:04:05 UTC\r\n',
    );
    expect(daytime(new Date('2025-01-05T00:00:09.999Z'))).toBe(
      'Sunday, January 5, 2025 00:00:09 UTC\r\n',
    );
  });

  const LINE = /^[A-Z][a-z]+day, [A-Z][a-z]+ \d+, \d{4} \d\d:\d\d:\d\d UTC\r\n$/;

  test('stream sends the line and closes', async () => {
    const { port } = await tcp(DaytimeHandler);
    const sock = await dial({ port });
    expect((await collect(sock)).toString()).toMatch(LINE);
  });

  eachIf(
    DATAGRAM_TRANSPORTS,
    unixDgramMissing,
    import.meta.url,
  )('%s: any datagram gets the line, an empty one too', async (transport) => {
    const { ask } = await datagram(transport, DaytimeHandler);
    expect((await ask('')).toString()).toMatch(LINE);
    expect((await ask('what time is it?')).toString()).toMatch(LINE);
  });
});

describe('chargen (RFC 864)', () => {
  const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('');

  test('line n is 72 characters from offset n mod 95, then CRLF', () => {
    expect(chargenLine(0).toString()).toBe(`${PRINTABLE.slice(0, 72)}\r\n`);
    expect(chargenLine(30).toString()).toBe(`${PRINTABLE.slice(30)}${PRINTABLE.slice(0, 7)}\r\n`);
    expect(chargenLine(95)).toEqual(chargenLine(0));
  });

  test('stream: the pattern flows while the client reads; a client leaving ends it', async () => {
    const { server, port } = await tcp(ChargenHandler);
    const ended = once(server, 'requestEnd');
    const sock = await dial({ port });
    const chunks: Buffer[] = [];
    let got = 0;
    for await (const c of sock) {
      chunks.push(c as Buffer);
      got += (c as Buffer).length;
      if (got >= 74 * 300) break; // leaves the loop and destroys the socket
    }
    const lines = Buffer.concat(chunks).toString('latin1').split('\r\n').slice(0, 300);
    lines.forEach((line, n) => expect(line).toBe(chargenLine(n).subarray(0, 72).toString()));
    await ended; // the handler noticed and returned
  });

  test('stream: backpressure bounds what the handler writes', async () => {
    // a connection whose writes are only acknowledged when the test says so
    const held: (() => void)[] = [];
    let written = 0;
    const conn = new Duplex({
      highWaterMark: 16 * 1024,
      read() {},
      write(chunk: Buffer, _enc, cb) {
        written += chunk.length;
        held.push(() => cb());
      },
    });
    const handler = new ChargenHandler(
      conn,
      { family: 'IPv4', address: '127.0.0.1', port: 1 },
      {} as never,
    );
    const done = handler.handle();
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    await settle();
    const before = written + conn.writableLength;
    expect(conn.writableLength).toBeGreaterThan(0);
    await settle();
    expect(written + conn.writableLength).toBe(before); // parked on 'drain', not writing on
    expect(before).toBeLessThan(64 * 1024);
    // acknowledge every write until the buffer drains: then the handler writes on
    for (let i = 0; i < 20 && written + conn.writableLength <= before; i++) {
      while (held.length > 0) held.shift()!();
      await settle();
    }
    expect(written + conn.writableLength).toBeGreaterThan(before);
    conn.destroy();
    while (held.length > 0) held.shift()!();
    await done;
  });

  eachIf(
    DATAGRAM_TRANSPORTS,
    unixDgramMissing,
    import.meta.url,
  )('%s: one line per datagram, advancing through the pattern', async (transport) => {
    const { ask } = await datagram(transport, ChargenHandler);
    const a = (await ask('x')).toString();
    const b = (await ask('')).toString();
    expect(a).toHaveLength(74);
    expect(a.endsWith('\r\n')).toBe(true);
    const start = PRINTABLE.indexOf(a[0]!);
    expect(b[0]).toBe(PRINTABLE[(start + 1) % 95]);
  });
});

describe('registry', () => {
  test('every name and alias resolves; names are unique', () => {
    for (const name of HANDLER_NAMES) expect(findHandler(name)).toBeDefined();
    expect(findHandler('upper')).toBe(findHandler('upper-case'));
    expect(findHandler('nope')).toBeUndefined();
    expect(new Set(HANDLERS.map((h) => h.name)).size).toBe(HANDLERS.length);
  });

  test('the CLI loads each built-in alone, the same class and module as the registry', async () => {
    for (const name of [...HANDLER_NAMES, 'upper']) {
      const lazy = await loadBuiltinHandler(name);
      expect(lazy).toEqual(findHandler(name));
      expect(lazy?.Handler).toBe(findHandler(name)?.Handler);
    }
    expect(await loadBuiltinHandler('nope')).toBeUndefined();
  });

  test.each(HANDLERS.map((h) => [h.name, h] as const))(
    '%s: one StreamRequestHandler class, and the worker module exports it',
    async (_name, h) => {
      expect(h.Handler.prototype).toBeInstanceOf(StreamRequestHandler);
      expect(h.Handler.prototype).not.toBeInstanceOf(DatagramRequestHandler);
      // the registry points at compiled .js files; here the .ts source stands in
      const file = fileURLToPath(h.module.url).replace(/\.js$/, '.ts');
      expect(existsSync(file)).toBe(true);
      const ns = (await import(file)) as Record<string, unknown>;
      expect(ns[h.module.exportName!]).toBe(h.Handler);
    },
  );
});
