/**
 * readChunks(): accepted sockets read without a 'data' event; a chunk the consumer
 * keeps stays intact whatever other sockets read later (the shared buffer's reads are
 * copies, a socket's own buffer is replaced once a chunk of it is kept).
 */
import { afterEach, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { Buffer } from 'node:buffer';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { readChunks } from '../../src/net/shared-read.js';

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of closers.splice(0).reverse()) await fn();
});

/**
 * A server whose sockets keep every chunk they read; `received[i]` resolves with what
 * the i-th connection (of `count`) sent, at its end.
 */
async function keepingServer(
  count: number,
): Promise<{ port: number; received: Promise<Buffer>[] }> {
  const ends: ((b: Buffer) => void)[] = [];
  const received = Array.from({ length: count }, () => new Promise<Buffer>((r) => ends.push(r)));
  let accepted = 0;
  const server: Server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (sock) => {
    const kept: Buffer[] = [];
    const end = ends[accepted++]!;
    sock.on('error', () => undefined);
    sock.on('end', () => {
      end(Buffer.concat(kept));
      sock.end();
    });
    expect(readChunks(sock, (chunk) => kept.push(chunk) > 0)).toBe(true);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => new Promise((resolve) => server.close(resolve)));
  return { port: (server.address() as { port: number }).port, received };
}

function patterned(length: number, seed: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = (i * 7 + seed) & 0xff;
  return b;
}

async function connect(port: number): Promise<Socket> {
  const s = createConnection({ port, host: '127.0.0.1' });
  closers.push(() => s.destroy());
  await once(s, 'connect');
  return s;
}

test('kept chunks, bulk and small, stay intact while other sockets read', async () => {
  const { port, received } = await keepingServer(2);
  const bulk = await connect(port);
  const small = await connect(port);
  const bulkBytes = patterned(4 * 1024 * 1024, 1);
  const pieces = Array.from({ length: 200 }, (_, i) => patterned(50 + (i % 30), i));
  bulk.end(bulkBytes);
  for (const piece of pieces) {
    await new Promise<void>((resolve, reject) =>
      small.write(piece, (err) => (err ? reject(err) : resolve())),
    );
  }
  small.end();
  const [gotBulk, gotSmall] = await Promise.all(received);
  expect(gotBulk!.equals(bulkBytes)).toBe(true);
  expect(gotSmall!.equals(Buffer.concat(pieces))).toBe(true);
});

test('only a plain socket that has not started reading qualifies', async () => {
  expect(readChunks(new Duplex({ read() {}, write: (_c, _e, cb) => cb() }), () => false)).toBe(
    false,
  );
  const server = createServer({ allowHalfOpen: true }); // not paused: reading from the start
  const verdict = new Promise<boolean>((resolve) =>
    server.once('connection', (sock: Socket) => {
      sock.on('error', () => undefined);
      resolve(readChunks(sock, () => false));
      sock.destroy();
    }),
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => new Promise((resolve) => server.close(resolve)));
  await connect((server.address() as { port: number }).port);
  expect(await verdict).toBe(false);
});
