/**
 * rawRelay(): an accepted socket relayed at handle level to a TCP or unix upstream:
 * byte-exact both ways (small reads through the shared buffer, bulk reads through a
 * side's own), each direction ending on its own, resets passed on, a refused upstream
 * resetting the client, and no fast path for a stream it cannot take over.
 */
import { afterEach, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { Buffer } from 'node:buffer';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { inetAddress, type SocketAddress } from '../../src/net/address.js';
import { rawRelay, type RawRelayResult } from '../../src/net/raw-relay.js';

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of closers.splice(0).reverse()) await fn();
});

async function listen(server: Server, where: number | string): Promise<void> {
  server.listen(where);
  await once(server, 'listening');
  closers.push(() => new Promise((r) => server.close(r)));
}

/** A relay server: each connection relayed to `to`; `results` gets each relay's result. */
async function relayServer(
  to: SocketAddress,
): Promise<{ port: number; results: RawRelayResult[] }> {
  const results: RawRelayResult[] = [];
  const server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (sock) => {
    sock.on('error', () => undefined);
    const relayed = rawRelay(sock, to, 5000);
    if (relayed) void relayed.then((r) => results.push(r));
    else sock.destroy(); // no fast path: the test fails on what the client sees
  });
  await listen(server, 0);
  return { port: (server.address() as { port: number }).port, results };
}

/** An upstream that reads to EOF, then replies with the sha256 of it and ends. */
async function digestUpstream(where: number | string = 0): Promise<Server> {
  const server = createServer({ allowHalfOpen: true }, (sock) => {
    const hash = createHash('sha256');
    sock.on('data', (d: Buffer) => hash.update(d));
    sock.on('end', () => sock.end(hash.digest()));
  });
  await listen(server, where);
  return server;
}

async function echoUpstream(): Promise<Server> {
  const server = createServer({ allowHalfOpen: true }, (sock) => sock.pipe(sock));
  await listen(server, 0);
  return server;
}

const portOf = (s: Server): number => (s.address() as { port: number }).port;

function collect(sock: Socket): Promise<Buffer> {
  const parts: Buffer[] = [];
  sock.on('data', (d: Buffer) => parts.push(d));
  return new Promise((resolve, reject) => {
    sock.on('end', () => resolve(Buffer.concat(parts)));
    sock.on('error', reject);
  });
}

/** Send `data` in pieces of mixed sizes (small ones and bulk ones), then half-close. */
function sendMixed(sock: Socket, data: Buffer): void {
  const sizes = [1, 100, 70_000, 33, 300_000, 5];
  for (let at = 0, i = 0; at < data.length; i += 1) {
    const n = Math.min(sizes[i % sizes.length]!, data.length - at);
    sock.write(data.subarray(at, at + n));
    at += n;
  }
  sock.end();
}

async function settled(results: RawRelayResult[], n: number): Promise<void> {
  for (let i = 0; i < 500 && results.length < n; i += 1) await new Promise((r) => setImmediate(r));
}

test('relays byte-exact through a half-close, and reports the bytes each way', async () => {
  const up = await digestUpstream();
  const relay = await relayServer(inetAddress('127.0.0.1', portOf(up)));
  const data = randomBytes(6 * 1024 * 1024 + 17);
  const client = createConnection({ port: relay.port, allowHalfOpen: true });
  const reply = collect(client);
  sendMixed(client, data);
  expect((await reply).equals(createHash('sha256').update(data).digest())).toBe(true);
  await settled(relay.results, 1);
  expect(relay.results).toEqual([{ bytesUp: data.length, bytesDown: 32, end: 'done' }]);
});

test('many connections at once each get back exactly their own bytes', async () => {
  const up = await echoUpstream();
  const relay = await relayServer(inetAddress('127.0.0.1', portOf(up)));
  const runs = Array.from({ length: 24 }, async (_, i) => {
    const data = randomBytes(i % 3 === 0 ? 200_000 + i : 50 + i * 7);
    const client = createConnection({ port: relay.port, allowHalfOpen: true });
    const got = collect(client);
    sendMixed(client, data);
    expect((await got).equals(data)).toBe(true);
  });
  await Promise.all(runs);
  await settled(relay.results, 24);
  expect(relay.results.map((r) => r.end)).toEqual(Array(24).fill('done'));
});

test('a unix upstream', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'raw-relay-'));
  closers.push(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'up.sock');
  await digestUpstream(path);
  const relay = await relayServer({ family: 'unix', path });
  const data = randomBytes(300_001);
  const client = createConnection({ port: relay.port, allowHalfOpen: true });
  const reply = collect(client);
  sendMixed(client, data);
  expect((await reply).equals(createHash('sha256').update(data).digest())).toBe(true);
});

test('a refused upstream resets the client', async () => {
  const gone = await echoUpstream();
  const port = portOf(gone);
  await new Promise((r) => gone.close(r));
  const relay = await relayServer(inetAddress('127.0.0.1', port));
  const client = createConnection({ port: relay.port });
  const [err] = (await once(client, 'error')) as [NodeJS.ErrnoException];
  expect(err.code).toBe('ECONNRESET');
  await settled(relay.results, 1);
  expect(relay.results).toEqual([
    { bytesUp: 0, bytesDown: 0, end: 'upstream-failed', code: 'ECONNREFUSED' },
  ]);
});

test('a reset by the upstream resets the client', async () => {
  const up = createServer((sock) => sock.once('data', () => sock.resetAndDestroy()));
  await listen(up, 0);
  const relay = await relayServer(inetAddress('127.0.0.1', portOf(up)));
  const client = createConnection({ port: relay.port });
  client.write('hello');
  const [err] = (await once(client, 'error')) as [NodeJS.ErrnoException];
  expect(err.code).toBe('ECONNRESET');
  await settled(relay.results, 1);
  expect(relay.results[0]).toMatchObject({ bytesUp: 5, end: 'upstream-reset', code: 'ECONNRESET' });
});

test('no fast path for a stream it cannot take over: nothing is done', () => {
  const stream = new PassThrough();
  expect(rawRelay(stream, inetAddress('127.0.0.1', 9), 1000)).toBeUndefined();
  expect(stream.destroyed).toBe(false);
});
