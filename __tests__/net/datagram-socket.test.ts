/**
 * The datagram socket adapter on real sockets, UDP and unix datagram alike:
 * open towards a peer and bind, datagrams both ways with their senders, the
 * one-line bind errors, an ICMP refusal on a connected socket, the private
 * temporary path of a unix sender, and an idempotent close.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { existsSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Buffer } from 'node:buffer';
import { tempSocketPath, Teardown } from '../helpers/loopback.js';
import { closedUdpPort } from '../clients/peers.js';
import type { InetAddress, SocketAddress } from '../../src/net/address.js';
import { ERR, NetworkError } from '../../src/net/errors.js';
import { UNIX_DGRAM_MAX } from '../../src/net/unix-dgram.js';
import {
  UDP_MAX_IPV4,
  bindDatagramSocket,
  openDatagramSocket,
  type DatagramSocket,
} from '../../src/net/datagram-socket.js';
import { NO_UNIX_DGRAM, describeIf } from '../helpers/skip.js';

const loopback = (port: number): InetAddress => ({ family: 'IPv4', address: '127.0.0.1', port });

const teardown = new Teardown();
afterEach(() => teardown.run());

function track(socket: DatagramSocket): DatagramSocket {
  teardown.add(() => socket.close());
  return socket;
}

/** The next datagram a socket receives, with its sender. */
function nextMessage(socket: DatagramSocket): Promise<[Buffer, SocketAddress]> {
  return once(socket, 'message') as Promise<[Buffer, SocketAddress]>;
}

describe('UDP', () => {
  test('bind on port 0, open towards it: binary datagrams both ways, each with its sender', async () => {
    const server = track(await bindDatagramSocket(loopback(0)));
    const bound = server.address as InetAddress;
    expect(bound).toMatchObject({ family: 'IPv4', address: '127.0.0.1' });
    expect(bound.port).toBeGreaterThan(0);
    expect(server.peer).toBeUndefined();
    const client = track(await openDatagramSocket(bound));
    expect(client.peer).toEqual(bound);
    expect(client.maxPayload).toBe(UDP_MAX_IPV4);
    const data = randomBytes(1200);
    const arrived = nextMessage(server);
    await client.send(data);
    const [got, from] = await arrived;
    expect(got).toEqual(data);
    // the first send bound the client (to 0.0.0.0 and a free port)
    expect(from).toEqual(loopback((client.address as InetAddress).port));
    const answered = nextMessage(client);
    await server.send(Buffer.from([0, 255]), from);
    expect(await answered).toEqual([Buffer.from([0, 255]), bound]);
  });

  test.each([
    ['IPv4', '127.0.0.1'],
    ['IPv6', '::1'],
  ] as const)(
    'send-only (%s): byte-exact datagrams from a bound free port, as dgram sends them',
    async (family, address) => {
      const server = track(await bindDatagramSocket({ family, address, port: 0 }));
      const client = track(await openDatagramSocket(server.address!, { sendOnly: true }));
      const local = client.address as InetAddress;
      expect(local.port).toBeGreaterThan(0);
      expect(local.address).toBe(family === 'IPv6' ? '::' : '0.0.0.0');
      const data = [randomBytes(1200), Buffer.alloc(0), randomBytes(UDP_MAX_IPV4)];
      const arrived: Buffer[] = [];
      const all = new Promise<void>((resolve) => {
        server.on('message', (d: Buffer, from: SocketAddress) => {
          expect(from).toEqual({ family, address, port: local.port });
          if (arrived.push(d) === data.length) resolve();
        });
      });
      for (const d of data) await client.send(d);
      await all;
      expect(arrived).toEqual(data);
      await client.close();
      expect(client.address).toBeUndefined();
      await expect(client.send(Buffer.from('late'))).rejects.toThrow('socket is closed');
    },
  );

  test('send-only: a refused send rejects with the error dgram gives', async () => {
    const broadcast: InetAddress = { family: 'IPv4', address: '255.255.255.255', port: 9 };
    const client = track(await openDatagramSocket(broadcast, { sendOnly: true }));
    const err = (await client
      .send(Buffer.from('x'))
      .catch((e: unknown) => e)) as NodeJS.ErrnoException;
    // EACCES: no SO_BROADCAST (ENETUNREACH where no interface can broadcast)
    expect(['EACCES', 'ENETUNREACH']).toContain(err.code);
    expect(err.message).toBe(`send ${err.code} 255.255.255.255:9`);
    expect(err).toMatchObject({ syscall: 'send', address: '255.255.255.255', port: 9 });
    expect(err.errno).toBeLessThan(0);
  });

  test('a port in use is the one-line bind error', async () => {
    const first = track(await bindDatagramSocket(loopback(0)));
    const { port } = first.address as InetAddress;
    const err = (await bindDatagramSocket(loopback(port)).catch((e: unknown) => e)) as NetworkError;
    expect(err).toBeInstanceOf(NetworkError);
    expect(err.message).toBe(`cannot bind 127.0.0.1:${port} — address in use (EADDRINUSE)`);
    expect(err.code).toBe(ERR.ADDRESS_IN_USE);
  });

  test('connected: an ICMP refusal comes as an ECONNREFUSED error', async () => {
    const port = await closedUdpPort();
    const client = track(await openDatagramSocket(loopback(port), { connect: true }));
    const failed = once(client, 'error') as Promise<[NodeJS.ErrnoException]>;
    await client.send(Buffer.from('anyone?'));
    expect((await failed)[0].code).toBe('ECONNREFUSED');
  });

  test('a source port is bound before sending', async () => {
    const server = track(await bindDatagramSocket(loopback(0)));
    const source = await closedUdpPort();
    const client = track(
      await openDatagramSocket(server.address!, { localAddress: '127.0.0.1', localPort: source }),
    );
    expect(client.address).toEqual(loopback(source));
    const arrived = nextMessage(server);
    await client.send(Buffer.from('x'));
    expect((await arrived)[1]).toEqual(loopback(source));
  });

  test('close is idempotent; a closed socket sends nothing and says nothing more', async () => {
    const client = await openDatagramSocket(loopback(await closedUdpPort()));
    const first = client.close();
    expect(client.close()).toBe(first);
    await first;
    expect(client.closed).toBe(true);
    await expect(client.send(Buffer.from('late'))).rejects.toThrow('socket is closed');
  });

  test('sendNow: a reply handed over just before close() still leaves', async () => {
    const peer = track(await bindDatagramSocket(loopback(0)));
    const server = await bindDatagramSocket(loopback(0));
    const arrived = nextMessage(peer);
    server.sendNow(Buffer.from('last words'), peer.address as InetAddress, undefined);
    const closed = server.close();
    expect((await arrived)[0].toString()).toBe('last words');
    await closed;
  });

  test('sendNow on a connected socket: to its peer, in order, as sent', async () => {
    const peer = track(await bindDatagramSocket(loopback(0)));
    const client = track(await openDatagramSocket(peer.address!, { connect: true }));
    const got: Buffer[] = [];
    const all = new Promise<void>((resolve) => {
      peer.on('message', (data: Buffer) => {
        got.push(data);
        if (got.length === 3) resolve();
      });
    });
    for (const word of ['one', 'two', 'three'])
      client.sendNow(Buffer.from(word), client.peer!, undefined);
    await all;
    expect(got.map(String)).toEqual(['one', 'two', 'three']);
  });
});

describeIf(NO_UNIX_DGRAM, import.meta.url)('unix datagram', () => {
  test('a sender gets a private path the receiver can answer; close removes it', async () => {
    const tmp = tempSocketPath('d.sock');
    teardown.add(tmp.cleanup);
    const server = track(await bindDatagramSocket({ family: 'unix', path: tmp.path }));
    expect(server.address).toEqual({ family: 'unix', path: tmp.path });
    expect(server.maxPayload).toBe(UNIX_DGRAM_MAX);
    const client = await openDatagramSocket({ family: 'unix', path: tmp.path });
    const own = client.address as { path: string };
    expect(own.path).not.toBe(tmp.path);
    expect(existsSync(own.path)).toBe(true);
    const data = randomBytes(4096);
    const arrived = nextMessage(server);
    await client.send(data);
    const [got, from] = await arrived;
    expect(got).toEqual(data);
    expect(from).toEqual({ family: 'unix', path: own.path });
    const answered = nextMessage(client);
    await server.send(Buffer.from('back'), from);
    expect(await answered).toEqual([Buffer.from('back'), { family: 'unix', path: tmp.path }]);
    await Promise.all([client.close(), client.close()]);
    expect(existsSync(dirname(own.path))).toBe(false);
    await server.close();
    expect(existsSync(tmp.path)).toBe(false);
  });

  test('a live socket is never taken over; a file in the way is never deleted', async () => {
    const tmp = tempSocketPath('d.sock');
    teardown.add(tmp.cleanup);
    track(await bindDatagramSocket({ family: 'unix', path: tmp.path }));
    await expect(bindDatagramSocket({ family: 'unix', path: tmp.path })).rejects.toThrow(
      `address in use — unix://${tmp.path}: a datagram socket is bound to it`,
    );
    const file = `${tmp.dir}/plain`;
    writeFileSync(file, 'keep me');
    await expect(bindDatagramSocket({ family: 'unix', path: file })).rejects.toThrow(
      /a file that is not a socket is there/,
    );
    expect(existsSync(file)).toBe(true);
  });

  test('sending to a path nobody is bound to rejects with the system error', async () => {
    const tmp = tempSocketPath('none.sock');
    teardown.add(tmp.cleanup);
    const client = track(await openDatagramSocket({ family: 'unix', path: tmp.path }));
    await expect(client.send(Buffer.from('x'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('a destination of the other kind is refused', async () => {
    const tmp = tempSocketPath('d.sock');
    teardown.add(tmp.cleanup);
    const unix = track(await bindDatagramSocket({ family: 'unix', path: tmp.path }));
    const udp = track(await bindDatagramSocket(loopback(0)));
    await expect(unix.send(Buffer.from('x'), udp.address)).rejects.toThrow(TypeError);
    await expect(udp.send(Buffer.from('x'), unix.address)).rejects.toThrow(TypeError);
    await expect(udp.send(Buffer.from('x'))).rejects.toThrow('no destination');
  });
});
