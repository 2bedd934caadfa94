/** net/dial.ts: forward targets and the one stream dial (every address, one deadline). */
import { afterEach, describe, expect, test } from '@jest/globals';
import { createServer, type Server } from 'node:net';
import { once } from 'node:events';
import { Buffer } from 'node:buffer';
import {
  checkForwardTransport,
  dialStream,
  formatTarget,
  parseDialTarget,
} from '../../src/net/dial.js';
import { NetworkError, UsageError } from '../../src/net/errors.js';
import type { ResolvedAddress } from '../../src/net/resolve.js';
import { TCPServer } from '../../src/engine/stream-server.js';
import { ForwardHandler, forward } from '../../src/handlers/forward.js';
import { exchange } from '../helpers/loopback.js';

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of closers.splice(0).reverse()) await fn();
});

async function listening(host = '127.0.0.1'): Promise<{ server: Server; port: number }> {
  const server = createServer({ allowHalfOpen: true }, (s) => s.pipe(s));
  server.listen(0, host);
  await once(server, 'listening');
  closers.push(() => new Promise((r) => server.close(r)));
  return { server, port: (server.address() as { port: number }).port };
}

describe('parseDialTarget', () => {
  test.each([
    ['tcp://127.0.0.1:80', { kind: 'tcp', host: '127.0.0.1', port: 80 }],
    ['tcp://[::1]:8080', { kind: 'tcp', host: '::1', port: 8080 }],
    ['TCP://example.org:443', { kind: 'tcp', host: 'example.org', port: 443 }],
    ['udp://localhost:53', { kind: 'udp', host: 'localhost', port: 53 }],
    ['tls://[::1]:443', { kind: 'tls', host: '::1', port: 443 }],
    ['unix:///run/app.sock', { kind: 'unix', path: '/run/app.sock' }],
    ['unix-dgram:///tmp/d.sock', { kind: 'unix-dgram', path: '/tmp/d.sock' }],
  ])('%s', (url, want) => {
    expect(parseDialTarget(url)).toEqual(want);
  });

  test.each([
    ['127.0.0.1:80', /expected scheme/],
    ['tcp://host', /expected host:port/],
    ['tcp://host:0', /port 0 cannot be dialed/],
    ['tcp://host:70000', /out of range/],
    ['unix://relative.sock', /must be absolute/],
    [`unix:///${'x'.repeat(120)}`, /too long/],
    ['http://host:80', /unknown scheme 'http'/],
    ['tls://host', /expected host:port/],
  ])('%s is refused', (url, re) => {
    expect(() => parseDialTarget(url)).toThrow(UsageError);
    expect(() => parseDialTarget(url)).toThrow(re);
  });

  test('formatTarget and the transport check', () => {
    expect(formatTarget(parseDialTarget('tcp://[::1]:1'))).toBe('tcp://[::1]:1');
    expect(formatTarget(parseDialTarget('unix:///a'))).toBe('unix:///a');
    expect(formatTarget(parseDialTarget('tls://example.org:443'))).toBe('tls://example.org:443');
    expect(() => checkForwardTransport(parseDialTarget('tls://h:1'), false)).not.toThrow();
    expect(() => checkForwardTransport(parseDialTarget('udp://h:1'), false)).toThrow(
      /cannot forward a stream to udp:\/\/h:1/,
    );
    expect(() => checkForwardTransport(parseDialTarget('unix:///a'), true)).toThrow(
      /cannot forward datagrams to unix:\/\/\/a/,
    );
    expect(() => checkForwardTransport(parseDialTarget('unix-dgram:///a'), true)).not.toThrow();
  });
});

describe('dialStream', () => {
  test('tries every address the name resolves to, in order', async () => {
    const { port } = await listening('127.0.0.1');
    const seen: string[] = [];
    const resolver = async (host: string): Promise<ResolvedAddress[]> => {
      seen.push(host);
      return [
        { address: '::1', family: 6 }, // nobody listens there on this port
        { address: '127.0.0.1', family: 4 },
      ];
    };
    const d = await dialStream(
      { kind: 'tcp', host: 'relay.test', port },
      {
        timeoutMs: 5000,
        resolver,
      },
    );
    closers.push(() => d.socket.destroy());
    expect(d.address).toEqual({ family: 'IPv4', address: '127.0.0.1', port });
    expect(seen).toEqual(['relay.test']);
  });

  test('refused: a NetworkError with the errno name', async () => {
    const { server, port } = await listening();
    await new Promise((r) => server.close(r));
    const err = await dialStream(
      { kind: 'tcp', host: '127.0.0.1', port },
      { timeoutMs: 5000 },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect((err as NetworkError).errno).toBe('ECONNREFUSED');
    expect((err as Error).message).toBe(`cannot reach tcp://127.0.0.1:${port} — ECONNREFUSED`);
  });

  test('a name that does not resolve, and a missing unix path', async () => {
    const resolver = async (): Promise<ResolvedAddress[]> => [];
    const a = await dialStream(
      { kind: 'tcp', host: 'nowhere.test', port: 1 },
      { timeoutMs: 1000, resolver },
    ).catch((e: unknown) => e);
    expect((a as NetworkError).errno).toBe('ENOTFOUND');
    const b = await dialStream(
      { kind: 'unix', path: '/nonexistent/dir/x.sock' },
      {
        timeoutMs: 1000,
      },
    ).catch((e: unknown) => e);
    expect((b as NetworkError).errno).toBe('ENOENT');
  });
});

describe('ForwardHandler in a library server', () => {
  test('forward() gives the server option; the relay is byte-exact', async () => {
    const { port } = await listening();
    const server = new TCPServer({ host: '127.0.0.1', port: 0 }, ForwardHandler, {
      ...forward(`tcp://127.0.0.1:${port}`, { connectTimeout: 2 }),
    });
    const records: unknown[] = [];
    server.on('forward', (r) => records.push(r));
    const addr = await server.listen();
    void server.serveForever();
    closers.push(() => server.serverClose());
    const data = Buffer.from(Array.from({ length: 70000 }, (_, i) => i & 0xff));
    const reply = await exchange({ port: (addr as { port: number }).port }, data);
    expect(reply.equals(data)).toBe(true);
    await new Promise<void>((r) => (records.length > 0 ? r() : server.once('forward', () => r())));
    expect(records[0]).toMatchObject({
      upstream: `tcp://127.0.0.1:${port}`,
      bytesUp: 70000,
      bytesDown: 70000,
      reason: 'done',
    });
    expect(() => forward('nope')).toThrow(UsageError);
  });
});
