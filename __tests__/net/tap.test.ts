/**
 * The traffic tap on real loopback sockets: hex rows as `hexdump -C` prints them,
 * both directions of a connection with running offsets, no change to a paused
 * socket's mode, backpressure from a log that falls behind (nothing lost, the
 * transfer waits), and datagram records dropped and counted past the backlog.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import { Buffer } from 'node:buffer';
import { rowsSize, writeRows } from '../../src/net/hex-rows.js';
import { MAX_DATAGRAM_BACKLOG, Tap } from '../../src/net/tap.js';
import { Teardown } from '../helpers/loopback.js';

const teardown = new Teardown();
afterEach(() => teardown.run());

/** Bytes with no two equal 16-byte rows (hexdump -C would print `*` for a repeat). */
function pattern(length: number, seed = 1): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i += 1) b[i] = (i * 31 + seed * 7 + (i >> 4) * 13) & 255;
  return b;
}

function rows(data: Uint8Array, prefix = '', offset = 0): string {
  const p = Buffer.from(prefix);
  const out = Buffer.alloc(rowsSize(data.length, p.length));
  return out.toString('latin1', 0, writeRows(out, 0, p, data, offset));
}

function collect(stream: PassThrough): () => string {
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString('latin1')));
  return () => text;
}

/** A connected pair: our client socket and the server's socket. */
async function pair(opts: { pauseOnConnect?: boolean } = {}): Promise<[Socket, Socket]> {
  const server: Server = createServer({ allowHalfOpen: true, ...opts });
  teardown.add(() => new Promise((r) => server.close(r)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const client = connect({ port: (server.address() as { port: number }).port, host: '127.0.0.1' });
  teardown.add(() => client.destroy());
  const [srv] = await accepted;
  teardown.add(() => srv.destroy());
  await once(client, 'connect');
  return [client, srv];
}

describe('hex rows', () => {
  test.each([0, 1, 15, 16, 17, 100, 4096 + 5])('%d bytes: exactly what hexdump -C prints', (n) => {
    const data = pattern(n);
    const hd = spawnSync('hexdump', ['-C'], { input: data });
    const expected = hd.stdout.toString('latin1').split('\n').slice(0, -2); // without the final offset
    expect(rows(data)).toBe(expected.map((l) => `${l}\n`).join(''));
  });

  test('a prefix on every row, and offsets beyond 32 bits keep counting', () => {
    expect(rows(Buffer.from('hello\n'), '[3] < ', 0x1_0000_0000)).toBe(
      '[3] < 100000000  68 65 6c 6c 6f 0a                                 |hello.|\n',
    );
  });
});

describe('a tapped stream', () => {
  test('both directions, in order, running offsets; the raw log holds every byte', async () => {
    const [client, server] = await pair();
    const hex = new PassThrough();
    const raw = new PassThrough();
    const hexText = collect(hex);
    const rawText = collect(raw);
    const tap = new Tap({ hexDump: hex, output: raw, numbered: true });
    tap.attach(server, { family: 'IPv4', address: '127.0.0.1', port: 1234 }, 'tcp');
    server.on('data', (c: Buffer) => server.write(c.toString().toUpperCase()));
    client.write('hello\n');
    await once(client, 'data');
    client.write('x'.repeat(20));
    const more = once(client, 'data');
    await more;
    await tap.close();
    const lines = hexText().split('\n');
    expect(lines[0]).toMatch(/^\[1\] # tcp 127\.0\.0\.1:1234 at \d{4}-\d\d-\d\dT[\d:.]+Z$/);
    expect(lines.slice(1).join('\n')).toBe(
      [
        rows(Buffer.from('hello\n'), '[1] < '),
        rows(Buffer.from('HELLO\n'), '[1] > '),
        rows(Buffer.from('x'.repeat(20)), '[1] < ', 6),
        rows(Buffer.from('X'.repeat(20)), '[1] > ', 6),
      ].join(''),
    );
    expect(rawText()).toBe(`hello\nHELLO\n${'x'.repeat(20)}${'X'.repeat(20)}`);
  });

  test('a paused socket stays paused: the tap adds no data listener', async () => {
    const [client, server] = await pair({ pauseOnConnect: true });
    const tap = new Tap({ output: new PassThrough() });
    (server as unknown as { readableFlowing: boolean | null }).readableFlowing = null;
    tap.attach(server, { family: 'IPv4', address: '127.0.0.1', port: 1 }, 'tcp');
    expect(server.listenerCount('data')).toBe(0);
    expect(server.readableFlowing).toBe(null);
    client.end('late reader');
    const chunks: Buffer[] = [];
    for await (const c of server) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('late reader');
  });

  test('a log that falls behind holds the transfer; released, nothing is lost', async () => {
    const [client, server] = await pair();
    let release: (() => void) | undefined;
    let logged = 0;
    const slow = new Writable({
      highWaterMark: 64 * 1024,
      write(chunk: Buffer, _enc, cb) {
        logged += chunk.length;
        release = cb; // the disk is stuck until the test says so
      },
    });
    const tap = new Tap({ output: slow });
    tap.attach(server, { family: 'IPv4', address: '127.0.0.1', port: 1 }, 'tcp');
    const payload = pattern(8 * 1024 * 1024);
    client.end(payload);
    let received = 0;
    server.on('data', (c: Buffer) => (received += c.length));
    // wait until the log is stuck, then check that the socket stopped with it
    for (let i = 0; i < 1e6 && !release; i += 1) await new Promise((r) => setImmediate(r));
    expect(release).toBeDefined();
    const stuckAt = received;
    for (let i = 0; i < 20; i += 1) await new Promise((r) => setImmediate(r));
    expect(received - stuckAt).toBeLessThanOrEqual(2 * 1024 * 1024);
    expect(received).toBeLessThan(payload.length);
    // the disk catches up: everything arrives, and all of it is logged
    const ended = once(server, 'end');
    const drainAll = (): void => {
      const cb = release;
      release = undefined;
      cb?.();
    };
    const pump = setInterval(drainAll, 1);
    teardown.add(() => clearInterval(pump));
    await ended;
    await tap.close(); // resolves once the log took everything written before
    expect(received).toBe(payload.length);
    expect(logged).toBe(payload.length);
  });
});

describe('datagrams', () => {
  test('one record each, with the sender; past the backlog they are dropped and counted', async () => {
    const stuck = new Writable({ highWaterMark: 1024, write() {} }); // never completes
    const tap = new Tap({ output: stuck, numbered: true });
    const from = { family: 'IPv4' as const, address: '127.0.0.1', port: 9 };
    const big = Buffer.alloc(60_000);
    const fits = Math.floor(MAX_DATAGRAM_BACKLOG / big.length) + 1;
    for (let i = 0; i < fits + 10; i += 1) tap.datagram('<', big, from, tap.nextNumber());
    expect(tap.dropped).toBe(10);
  });

  test('an empty datagram is a header alone', async () => {
    const hex = new PassThrough();
    const text = collect(hex);
    const tap = new Tap({ hexDump: hex });
    tap.datagram('>', Buffer.alloc(0), { family: 'unix', path: '/tmp/\u001b]0;x\u0007.sock' });
    await tap.close();
    expect(text()).toMatch(/^# > unix-dgram \/tmp\/\\x1b\]0;x\\x07\.sock 0 bytes at [^\n]+Z\n$/);
  });
});

describe('the sink', () => {
  /**
   * A writable that reads each chunk only when it completes it, a few writes later,
   * as an asynchronous file write reads memory when the system call runs: a batch
   * buffer reused before its writes completed would show up as wrong bytes.
   */
  function lateReader(): { out: Writable; bytes: () => Buffer } {
    const parts: Buffer[] = [];
    const queue: [Buffer, () => void][] = [];
    const completeOne = (): void => {
      const [chunk, cb] = queue.shift()!;
      parts.push(Buffer.from(chunk));
      cb();
    };
    const out = new Writable({
      highWaterMark: 1024 * 1024,
      write(chunk: Buffer, _enc, cb) {
        queue.push([chunk, cb]);
        setImmediate(completeOne);
      },
    });
    return { out, bytes: () => Buffer.concat(parts) };
  }

  test('batches are reused only after their writes completed: many batches, every byte right', async () => {
    const { out, bytes } = lateReader();
    const raw = lateReader();
    const tap = new Tap({ hexDump: out, output: raw.out });
    const prefix = Buffer.from('< ');
    const sizes = [1, 15, 16, 17, 4096, 16 * 1024 + 3, 65536, 200_000, 700_000];
    const chunks = sizes.map((n, i) => pattern(n, i + 2));
    let offset = 0;
    let expected = '';
    for (let round = 0; round < 3; round += 1) {
      for (const c of chunks) {
        tap.record(c, prefix, offset);
        expected += rows(c, '< ', offset); // each record starts its own rows
        offset += c.length;
        await new Promise((r) => setImmediate(r)); // let some writes complete in between
      }
    }
    await tap.close();
    const all = Buffer.concat([...chunks, ...chunks, ...chunks]);
    // booleans: a failing comparison of megabytes would make jest print a huge diff
    expect(raw.bytes().equals(all)).toBe(true);
    expect(bytes().equals(Buffer.from(expected, 'latin1'))).toBe(true);
  });
});
