/**
 * `threading` workers write their connections' bytes to the sockets themselves
 * (net/write-gate.ts): every byte in order when the peer reads late (the rest goes the
 * owner's way, then direct again), counted in the request's end, and never into
 * another connection when connections come and go (descriptor numbers are reused).
 */
import { afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import type * as Lib from '../../src/index.js';
import type { BaseServer } from '../../src/engine/base-server.js';
import type { InetAddress, SocketAddress } from '../../src/net/address.js';
import { Teardown } from '../helpers/loopback.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyServer = BaseServer<any>;

const DIST_INDEX = '../../dist/index.js'; // a variable: TypeScript must not resolve dist/
const ECHO_URL = new URL('../../dist/handlers/echo.js', import.meta.url).href;
const FIXTURE = new URL('../fixtures/concurrency-handlers.js', import.meta.url).href;

let lib: typeof Lib;
beforeAll(async () => {
  lib = (await import(DIST_INDEX)) as typeof Lib;
});

const teardown = new Teardown();
afterEach(() => teardown.run());

/** A threading TCP server of 2 workers running `exportName` of `url`, serving. */
async function serve(
  url: string,
  exportName: string,
): Promise<{ server: AnyServer; port: number }> {
  const handlerModule = { url, exportName };
  const server: AnyServer = new lib.TCPServer({ host: '127.0.0.1', port: 0 }, class {} as never, {
    mode: 'threading',
    workers: 2,
    handlerModule,
  });
  teardown.add(() => server.serverClose());
  const address = (await server.listen()) as InetAddress;
  void server.serveForever();
  return { server, port: address.port };
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('threading: workers write to the sockets themselves', () => {
  test('a peer that reads late gets every byte in order, and the request counts them', async () => {
    const { server, port } = await serve(ECHO_URL, 'EchoHandler');
    const accepted = once(server, 'request') as Promise<[SocketAddress, Socket]>;
    const ended = once(server, 'requestEnd') as Promise<[{ bytesIn: number; bytesOut: number }]>;
    const payload = randomBytes(8 * 1024 * 1024);
    const client = connect(port, '127.0.0.1');
    teardown.add(() => client.destroy());
    client.pause();
    client.end(payload);
    const [, socket] = await accepted;
    // the main thread stopped reading: the worker holds as much as its window allows
    await once(socket, 'pause');
    const chunks: Buffer[] = [];
    client.on('data', (c: Buffer) => chunks.push(c)).resume();
    await once(client, 'end');
    const echoed = Buffer.concat(chunks);
    expect(echoed.length).toBe(payload.length);
    expect(sha(echoed)).toBe(sha(payload));
    const [info] = await ended;
    expect(info.bytesIn).toBe(payload.length);
    expect(info.bytesOut).toBe(payload.length);
    // the main thread's socket counts only what it wrote: the worker wrote some itself
    expect(socket.bytesWritten).toBeLessThan(payload.length);
  });

  test('a handler that fails after writing: its end counts what it wrote', async () => {
    const { server, port } = await serve(FIXTURE, 'WriteThenFailHandler');
    server.on('handleError', () => undefined);
    const accepted = once(server, 'request') as Promise<[SocketAddress, Socket]>;
    const ended = once(server, 'requestEnd') as Promise<[{ bytesOut: number; error?: Error }]>;
    const client = connect(port, '127.0.0.1');
    teardown.add(() => client.destroy());
    client.on('error', () => undefined);
    const chunks: Buffer[] = [];
    client.on('data', (c: Buffer) => chunks.push(c));
    const [info] = await ended;
    expect(info.error?.message).toMatch(/failed after writing/);
    expect(info.bytesOut).toBe(1000);
    const [, socket] = await accepted;
    expect(socket.bytesWritten).toBe(0); // all 1,000 written by the worker itself
    if (!client.destroyed) await once(client, 'close');
    expect(Buffer.concat(chunks)).toEqual(Buffer.alloc(1000, 0x78));
  });

  test('connections that come and go only ever get their own bytes', async () => {
    const { server, port } = await serve(FIXTURE, 'PortLinesHandler');
    const WAVES = 8;
    const PER_WAVE = 16;
    const foreign: string[] = [];
    for (let wave = 0; wave < WAVES; wave++) {
      const clients = Array.from({ length: PER_WAVE }, (_, i) =>
        readOwnLines(port, i % 2 === 0, foreign),
      );
      await Promise.all(clients);
    }
    expect(foreign).toEqual([]);
    // the server is still there, serving
    const last = await readOwnLines(port, false, foreign);
    expect(last).toBeGreaterThan(0);
    expect(server.stats.errors).toBe(0);
  });
});

/**
 * Connect, read at least 64 KiB of lines, note any line that is not this client's
 * port in `foreign`, then close (reset when `reset`). Resolves with the lines read.
 */
async function readOwnLines(port: number, reset: boolean, foreign: string[]): Promise<number> {
  const client = connect(port, '127.0.0.1');
  client.on('error', () => undefined);
  await once(client, 'connect');
  const own = String(client.localPort);
  let text = '';
  let lines = 0;
  const closed = once(client, 'close');
  await new Promise<void>((enough) => {
    client.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const cut = text.lastIndexOf('\n');
      if (cut < 0) return;
      for (const line of text.slice(0, cut).split('\n')) {
        lines++;
        if (line !== own) foreign.push(`${own} got ${line}`);
      }
      text = text.slice(cut + 1);
      if (lines * (own.length + 1) >= 64 * 1024) enough();
    });
    client.on('close', () => enough());
  });
  if (reset) client.resetAndDestroy();
  else client.destroy();
  await closed;
  return lines;
}
