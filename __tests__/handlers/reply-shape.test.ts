/**
 * The reply options of echo, upper-case, lower and threaded-echo (server options
 * `replyOnce` and `strip`): Python's `bytes.strip()` byte for byte, a whole stream
 * stripped across any chunking, one read (at most 1024 bytes) or one line answered
 * while the client keeps its side open, then closed by the server; and the options
 * reaching worker threads and processes.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { connect } from 'node:net';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { Buffer } from 'node:buffer';
import type * as Lib from '../../src/index.js';
import {
  MAX_HELD_SPACE,
  StripTransform,
  stripBytes,
  shapeDatagram,
} from '../../src/handlers/reply-shape.js';
import { collect, Teardown } from '../helpers/loopback.js';
import type { InetAddress } from '../../src/net/address.js';
import type { ConcurrencyMode } from '../../src/engine/modes.js';

const DIST_INDEX = '../../dist/index.js'; // a variable: TypeScript must not resolve dist/
const dist = (path: string): string => new URL(`../../dist/${path}`, import.meta.url).href;
const MODULES = {
  EchoHandler: dist('handlers/echo.js'),
  UpperCaseHandler: dist('handlers/case.js'),
  LowerCaseHandler: dist('handlers/case.js'),
  ThreadedEchoHandler: dist('handlers/threaded-echo.js'),
} as const;
type Name = keyof typeof MODULES;

let lib: typeof Lib;
beforeAll(async () => {
  lib = (await import(DIST_INDEX)) as typeof Lib;
});
const teardown = new Teardown();
afterEach(() => teardown.run());
afterAll(() => teardown.run());

/** Python's bytes.isspace() for one byte: \t \n \v \f \r and space. */
const PY_SPACE = new Set([9, 10, 11, 12, 13, 32]);

describe('stripBytes and StripTransform', () => {
  test('strip the bytes Python strips, and no others', () => {
    for (let b = 0; b < 256; b++) {
      const data = Buffer.from([b, 0x41, b]);
      const want = PY_SPACE.has(b) ? Buffer.from('A') : data;
      expect([b, stripBytes(data)]).toEqual([b, want]);
    }
    expect(stripBytes(Buffer.from(' \t\r\n'))).toEqual(Buffer.alloc(0));
    expect(stripBytes(Buffer.from(' a \n b \n'))).toEqual(Buffer.from('a \n b'));
  });

  test('a whole stream comes out as stripBytes of it, whatever the chunking', async () => {
    const texts = ['  \n a  b \n\n c \t', 'x', '\n\n\n', '', ' lead', 'trail \r\n', 'a\n \nb'];
    for (const text of texts) {
      const whole = Buffer.from(text);
      for (let cut = 0; cut <= whole.length; cut++) {
        for (let size = 1; size <= 3; size++) {
          const chunks: Buffer[] = [whole.subarray(0, cut)];
          for (let i = cut; i < whole.length; i += size) chunks.push(whole.subarray(i, i + size));
          const out = await collect(Readable.from(chunks).pipe(new StripTransform()));
          expect({ text, cut, size, out: out.toString() }).toEqual({
            text,
            cut,
            size,
            out: stripBytes(whole).toString(),
          });
        }
      }
    }
  });

  test('whitespace held back is bounded: a longer run is passed on as it came', async () => {
    const space = Buffer.alloc(64 * 1024, 0x20);
    const strip = new StripTransform();
    let held = 0;
    let out = 0;
    strip.on('data', (c: Buffer) => (out += c.length));
    strip.write(Buffer.from('x'));
    // more whitespace than MAX_HELD_SPACE, in 64 KiB chunks: it must start flowing
    for (let i = 0; i < MAX_HELD_SPACE / space.length + 2; i++) {
      strip.write(space);
      held += space.length;
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(out).toBeGreaterThan(1);
    expect(1 + held - out).toBeLessThanOrEqual(MAX_HELD_SPACE);
    strip.end();
  });

  test('a datagram: its first line with replyOnce line, stripped with strip', () => {
    const d = (s: string): Buffer => Buffer.from(s);
    expect(shapeDatagram(d(' a b \n c\n'), { replyOnce: 'line' })).toEqual(d(' a b \n'));
    expect(shapeDatagram(d(' a b \n c\n'), { replyOnce: 'line', strip: true })).toEqual(d('a b'));
    expect(shapeDatagram(d(' a b \n c\n'), { replyOnce: 'read', strip: true })).toEqual(
      d('a b \n c'),
    );
    expect(shapeDatagram(d('no newline'), { replyOnce: 'line' })).toEqual(d('no newline'));
  });
});

/** A TCP server running `name` with `options`; resolves with its port. */
async function tcpServer(
  name: Name,
  options: Record<string, unknown>,
  mode: ConcurrencyMode = 'async',
): Promise<number> {
  const server = new lib.TCPServer({ host: '127.0.0.1', port: 0 }, lib[name] as never, {
    mode,
    workers: mode === 'threading' || mode === 'forking' ? 1 : undefined,
    handlerModule: { url: MODULES[name], exportName: name },
    ...options,
  });
  teardown.add(() => server.serverClose({ graceMs: 0 }));
  const address = (await server.listen()) as InetAddress;
  void server.serveForever();
  return address.port;
}

/**
 * Connect, write each of `writes` (after the previous one has been sent), never end
 * our side, and collect what comes back until the server closes its side.
 */
async function askKeepingOpen(port: number, writes: string[]): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  teardown.add(() => socket.destroy());
  await once(socket, 'connect');
  const reply = collect(socket);
  for (const w of writes) await new Promise((resolve) => socket.write(w, resolve));
  return (await reply).toString('latin1');
}

describe('one request answered, then the server closes', () => {
  test.each([
    ['EchoHandler', { replyOnce: 'read', strip: true }, ['  hi there \r\n'], 'hi there'],
    ['UpperCaseHandler', { replyOnce: 'read' }, ['hello\n'], 'HELLO\n'],
    ['LowerCaseHandler', { replyOnce: 'line', strip: true }, ['AB', 'C\nDEF\n'], 'abc'],
    ['UpperCaseHandler', { replyOnce: 'line' }, ['one\ntwo\n'], 'ONE\n'],
    ['EchoHandler', { strip: true, replyOnce: 'line' }, [' \n'], ''],
  ] as const)('%s with %j', async (name, options, writes, want) => {
    const port = await tcpServer(name, options);
    expect(await askKeepingOpen(port, [...writes])).toBe(want);
  });

  test('threaded-echo: one prefix before the whole first read', async () => {
    const port = await tcpServer('ThreadedEchoHandler', { replyOnce: 'read' });
    expect(await askKeepingOpen(port, ['a\nb\n'])).toBe('MainThread: a\nb\n');
  });

  test("the first read is at most 1024 bytes, as Python's recv(1024)", async () => {
    const port = await tcpServer('UpperCaseHandler', { replyOnce: 'read' });
    const reply = await askKeepingOpen(port, ['x'.repeat(4000)]);
    expect(reply.length).toBeGreaterThan(0);
    expect(reply.length).toBeLessThanOrEqual(1024);
    expect(reply).toBe('X'.repeat(reply.length));
  });

  test('strip alone keeps the stream open and strips it whole', async () => {
    const port = await tcpServer('UpperCaseHandler', { strip: true });
    const socket = connect(port, '127.0.0.1');
    teardown.add(() => socket.destroy());
    await once(socket, 'connect');
    const reply = collect(socket);
    socket.write('  a\n');
    socket.end('b  \n\n');
    expect((await reply).toString()).toBe('A\nB');
  });
});

const STRIP: Record<string, unknown> = { strip: true }; // a server option the reply handlers read

describe('the options reach worker threads and processes', () => {
  test.each(['threading', 'forking'] as const)(
    'tcp, --mode %s',
    async (mode) => {
      const port = await tcpServer('UpperCaseHandler', { replyOnce: 'line', strip: true }, mode);
      expect(await askKeepingOpen(port, ['  up me \nnot me\n'])).toBe('UP ME');
    },
    30_000,
  );

  test.each(['threading', 'forking'] as const)(
    'udp, --mode %s',
    async (mode) => {
      const server = new lib.UDPServer({ host: '127.0.0.1', port: 0 }, class {} as never, {
        mode,
        workers: 1,
        handlerModule: { url: MODULES.UpperCaseHandler, exportName: 'UpperCaseHandler' },
        ...STRIP,
      });
      teardown.add(() => server.serverClose({ graceMs: 0 }));
      const { port } = (await server.listen()) as InetAddress;
      void server.serveForever();
      const client = createSocket('udp4');
      teardown.add(() => client.close());
      const reply = once(client, 'message') as Promise<[Buffer]>;
      client.send(' hello world\n', port, '127.0.0.1');
      expect((await reply)[0].toString()).toBe('HELLO WORLD');
    },
    30_000,
  );
});
