/**
 * The forward handler on a library UDP server: a sender's later datagrams take the
 * server's shortcut (no request each) once its session is open, and still count as
 * requests with their bytes; the session record has every byte both ways; what
 * must see each datagram (a `requestEnd` listener, `handleRequest()`, an access
 * list that refuses) keeps the request path.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { Buffer } from 'node:buffer';
import { UDPServer } from '../../src/engine/datagram-server.js';
import { ForwardHandler, forward, type ForwardRecord } from '../../src/handlers/forward.js';
import { Teardown } from '../helpers/loopback.js';

const teardown = new Teardown();
afterEach(() => teardown.run());

/** A UDP echo that appends '!' to each datagram. */
async function upstream(): Promise<number> {
  const s = createSocket('udp4');
  s.on('message', (m, from) =>
    s.send(Buffer.concat([m, Buffer.from('!')]), from.port, from.address),
  );
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  teardown.add(() => new Promise<void>((r) => s.close(() => r())));
  return s.address().port;
}

function client(): UdpSocket {
  const s = createSocket('udp4');
  teardown.add(() => new Promise<void>((r) => s.close(() => r())));
  return s;
}

/** Send `count` datagrams one after another (each after the previous reply); the replies. */
async function ask(c: UdpSocket, port: number, count: number, tag = 'd'): Promise<string[]> {
  const replies: string[] = [];
  for (let i = 0; i < count; i++) {
    const reply = once(c, 'message', { signal: AbortSignal.timeout(5000) });
    c.send(`${tag}${i}`, port, '127.0.0.1');
    replies.push(String((await reply)[0]));
  }
  return replies;
}

/** Handler instances made (each runs setup → handle → finish). */
let handled = 0;
class CountingForward extends ForwardHandler {
  override handle(): void | Promise<void> {
    handled += 1;
    return super.handle();
  }
}

async function relay(
  upstreamPort: number,
  options: { accessList?: string[] } = {},
): Promise<{ server: UDPServer; port: number; records: ForwardRecord[] }> {
  handled = 0;
  const server = new UDPServer({ host: '127.0.0.1', port: 0 }, CountingForward, {
    ...forward(`udp://127.0.0.1:${upstreamPort}`),
    ...(options.accessList ? { accessList: { allow: options.accessList } } : {}),
  });
  const records: ForwardRecord[] = [];
  server.on('forward', (r: ForwardRecord) => records.push(r));
  teardown.add(() => server.serverClose({ graceMs: 0 }));
  const addr = await server.listen();
  return { server, port: (addr as { port: number }).port, records };
}

describe('datagram forwarding: the session shortcut', () => {
  test('later datagrams of a session skip the handler, counted as requests, bytes exact', async () => {
    const { server, port, records } = await relay(await upstream());
    void server.serveForever(0.05);
    const c = client();
    // the first datagram opens the session through the request path
    expect(await ask(c, port, 1, 'first')).toEqual(['first0!']);
    expect(handled).toBe(1);
    const replies = await ask(c, port, 200);
    expect(replies).toEqual(Array.from({ length: 200 }, (_, i) => `d${i}!`));
    expect(handled).toBe(1);
    expect(server.stats.requests).toBe(201);
    const up = 6 + Array.from({ length: 200 }, (_, i) => `d${i}`.length).reduce((a, b) => a + b);
    expect(server.stats.bytesIn).toBe(up);
    await server.serverClose();
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ bytesUp: up, bytesDown: up + 201, reason: 'server-closed' });
  });

  test('a requestEnd listener sees every datagram (the shortcut steps aside)', async () => {
    const { server, port } = await relay(await upstream());
    void server.serveForever(0.05);
    const ends: number[] = [];
    server.on('requestEnd', (info: { bytesIn: number }) => ends.push(info.bytesIn));
    expect(await ask(client(), port, 20)).toHaveLength(20);
    expect(ends).toHaveLength(20);
    expect(handled).toBe(20);
    expect(server.stats.requests).toBe(20);
  });

  test('handleRequest() counts each datagram as its request', async () => {
    const { server, port } = await relay(await upstream());
    const c = client();
    for (let i = 0; i < 3; i++) {
      const reply = once(c, 'message', { signal: AbortSignal.timeout(5000) });
      c.send(`h${i}`, port, '127.0.0.1');
      await server.handleRequest();
      expect(String((await reply)[0])).toBe(`h${i}!`);
    }
    expect(server.stats.requests).toBe(3);
    expect(handled).toBe(3);
  });

  test('an access list still refuses every datagram of a sender it does not allow', async () => {
    const { server, port } = await relay(await upstream(), { accessList: ['10.0.0.0/8'] });
    void server.serveForever(0.05);
    const c = client();
    const rejected: string[] = [];
    server.on('rejected', (_addr: unknown, reason: string) => rejected.push(reason));
    for (let i = 0; i < 5; i++) c.send(`x${i}`, port, '127.0.0.1');
    while (rejected.length < 5) {
      await once(server, 'rejected', { signal: AbortSignal.timeout(5000) });
    }
    expect(rejected).toEqual(Array(5).fill('verifyRequest'));
    expect(server.stats.requests).toBe(0);
    expect(handled).toBe(0);
  });
});
