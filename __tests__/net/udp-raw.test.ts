/**
 * The bound UDP socket on Node's UDP handle (net/udp-raw.ts): taken where the handle
 * has the known shape, byte-exact both ways (an empty datagram too), on IPv4 and
 * IPv6, with dgram's bind errors; the UDP echo server answering on it without a
 * request; and dgram again, with the same answers, where the binding is absent
 * (pending deprecations on).
 */
import { afterEach, describe, expect, jest, test } from '@jest/globals';
import { once } from 'node:events';
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { Buffer } from 'node:buffer';
import { Teardown } from '../helpers/loopback.js';
import { startServer } from '../helpers/cli.js';
import type { InetAddress, SocketAddress } from '../../src/net/address.js';
import {
  UDP_MAX_IPV4,
  bindDatagramSocket,
  type DatagramSocket,
} from '../../src/net/datagram-socket.js';
import { RawUdp } from '../../src/net/udp-raw.js';
import { UDPServer } from '../../src/engine/datagram-server.js';
import { EchoHandler } from '../../src/handlers/echo.js';

const teardown = new Teardown();
afterEach(() => teardown.run());

/** A dgram client on `family`, closed after the test. */
function client(family: 'IPv4' | 'IPv6'): Socket {
  const c = createSocket(family === 'IPv6' ? 'udp6' : 'udp4');
  teardown.add(() => new Promise<void>((resolve) => c.close(() => resolve())));
  return c;
}

/** Send each datagram in turn to `to` and collect as many answers, in order. */
async function roundTrips(c: Socket, to: InetAddress, data: Buffer[]): Promise<Buffer[]> {
  const got: Buffer[] = [];
  for (const d of data) {
    const answered = once(c, 'message') as Promise<[Buffer]>;
    c.send(d, to.port, to.address);
    got.push((await answered)[0]);
  }
  return got;
}

const DATA = [randomBytes(1200), Buffer.alloc(0), Buffer.from([0, 255, 10, 13]), randomBytes(64)];

describe('a bound UDP socket on the handle', () => {
  test('the handle is there on this Node (the fast path is taken)', async () => {
    const raw = RawUdp.bind('IPv4', '127.0.0.1', 0);
    expect(raw).toBeDefined();
    await raw!.close();
    const socket = await bindDatagramSocket({ family: 'IPv4', address: '127.0.0.1', port: 0 });
    teardown.add(() => socket.close());
    expect(socket.constructor.name).toBe('RawUdpDatagramSocket');
  });

  test.each([
    ['IPv4', '127.0.0.1'],
    ['IPv6', '::1'],
  ] as const)(
    '%s: byte-exact both ways, an empty datagram too, each with its sender',
    async (family, address) => {
      const server: DatagramSocket = await bindDatagramSocket({ family, address, port: 0 });
      teardown.add(() => server.close());
      const bound = server.address as InetAddress;
      expect(bound).toMatchObject({ family, address });
      const c = client(family);
      // the echo as a server's reply leaves: sendNow, no promise
      server.on('message', (d: Buffer, from: SocketAddress) => {
        expect(from).toEqual({ family, address, port: c.address().port });
        server.sendNow(d, from, undefined);
      });
      const big = randomBytes(UDP_MAX_IPV4);
      expect(await roundTrips(c, bound, [...DATA, big])).toEqual([...DATA, big]);
      // and as a request's reply: a promise
      server.removeAllListeners('message');
      server.on('message', (d: Buffer, from: SocketAddress) => void server.send(d, from));
      expect(await roundTrips(c, bound, DATA)).toEqual(DATA);
    },
  );

  test('a send the kernel refuses rejects with the error dgram gives', async () => {
    const server = await bindDatagramSocket({ family: 'IPv4', address: '127.0.0.1', port: 0 });
    teardown.add(() => server.close());
    const to: InetAddress = { family: 'IPv4', address: '127.0.0.1', port: 9 };
    const err = (await server
      .send(Buffer.alloc(UDP_MAX_IPV4 + 1), to)
      .catch((e: unknown) => e)) as NodeJS.ErrnoException;
    expect(err.message).toBe('send EMSGSIZE 127.0.0.1:9');
    expect(err).toMatchObject({ code: 'EMSGSIZE', syscall: 'send', address: '127.0.0.1', port: 9 });
    // sendNow reports nothing, as dgram without a callback; the socket still works
    server.sendNow(Buffer.alloc(UDP_MAX_IPV4 + 1), to, undefined);
    const c = client('IPv4');
    server.on('message', (d: Buffer, from: SocketAddress) => server.sendNow(d, from, undefined));
    expect(await roundTrips(c, server.address as InetAddress, [Buffer.from('ok')])).toEqual([
      Buffer.from('ok'),
    ]);
  });

  test('reuse and a receive buffer size are applied; a name is bound through dgram', async () => {
    const opts = { reuseAddress: true, recvBufferSize: 1 << 20 };
    const a = await bindDatagramSocket({ family: 'IPv4', address: '127.0.0.1', port: 0 }, opts);
    teardown.add(() => a.close());
    const { port } = a.address as InetAddress;
    const b = await bindDatagramSocket({ family: 'IPv4', address: '127.0.0.1', port }, opts);
    teardown.add(() => b.close());
    expect((b.address as InetAddress).port).toBe(port);
    const named = await bindDatagramSocket({ family: 'IPv4', address: 'localhost', port: 0 });
    teardown.add(() => named.close());
    expect(named.constructor.name).toBe('UdpDatagramSocket');
  });
});

describe('the UDP echo server', () => {
  test('answers every datagram without a request, counted as one', async () => {
    // a handler that runs is a request run: none may, while nobody watches the requests
    const handled = jest.spyOn(EchoHandler.prototype, 'handle');
    teardown.add(() => handled.mockRestore());
    const server = new UDPServer({ host: '127.0.0.1', port: 0 }, EchoHandler);
    teardown.add(() => server.serverClose());
    const address = (await server.listen()) as InetAddress;
    void server.serveForever();
    const c = client('IPv4');
    expect(await roundTrips(c, address, DATA)).toEqual(DATA);
    const bytes = DATA.reduce((n, d) => n + d.length, 0);
    expect(server.stats).toMatchObject({ requests: DATA.length, bytesIn: bytes, bytesOut: bytes });
    expect(handled).not.toHaveBeenCalled();
    // someone watching the requests: each datagram is a request again, and is seen
    const seen: SocketAddress[] = [];
    server.on('request', (from: SocketAddress) => seen.push(from));
    expect(await roundTrips(c, address, DATA)).toEqual(DATA);
    expect(seen).toHaveLength(DATA.length);
    expect(handled).toHaveBeenCalledTimes(DATA.length);
    expect(server.stats.requests).toBe(2 * DATA.length);
  });

  test.each([
    ['on the handle', {}],
    ['through dgram under pending deprecations', { NODE_PENDING_DEPRECATION: '1' }],
  ])('sockit serve udp %s: the same answers', async (_how, env) => {
    const { child, port, stderr } = await startServer(['serve', 'udp', '0', '-e', 'echo'], {
      env,
    });
    teardown.add(async () => {
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'close');
    });
    const c = client('IPv4');
    const to: InetAddress = { family: 'IPv4', address: '127.0.0.1', port };
    expect(await roundTrips(c, to, DATA)).toEqual(DATA);
    expect(stderr()).not.toMatch(/warning/i);
  });
});
