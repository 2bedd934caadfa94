/**
 * sendto / recvfrom / the datagram pipe in-process: binary datagrams with their
 * boundaries, replies with senders, EMSGSIZE, ICMP refusals, unix datagrams
 * (temp client path removed afterwards).
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { PassThrough } from 'node:stream';
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import {
  datagramPipe,
  recvfrom,
  sendto,
  UDP_MAX_IPV4,
  type ReceivedDatagram,
} from '../../src/clients/datagram-client.js';
import type { InetAddress } from '../../src/net/address.js';
import { NetworkError } from '../../src/net/errors.js';
import { EchoHandler } from '../../src/handlers/echo.js';
import { UpperCaseHandler } from '../../src/handlers/case.js';
import { tempSocketPath, Teardown } from '../helpers/loopback.js';
import { closedUdpPort, engineUdp, engineUnixDgram } from './peers.js';
import { NO_UNIX_DGRAM, testIf } from '../helpers/skip.js';

const testDgram = testIf(NO_UNIX_DGRAM, import.meta.url);

const teardown = new Teardown();
afterEach(() => teardown.run());

async function udpSocket(): Promise<UdpSocket> {
  const s = createSocket('udp4');
  teardown.add(() => new Promise<void>((r) => s.close(() => r())));
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  return s;
}

function sockitTempDirs(): string[] {
  return readdirSync(tmpdir()).filter((n) => n.startsWith('sockit-'));
}

describe('sendto', () => {
  test('one datagram per payload, binary and boundaries kept, replies with their sender', async () => {
    const port = await engineUdp(EchoHandler as never, teardown);
    const payloads = [randomBytes(1), Buffer.from([0, 255, 10, 13]), randomBytes(60_000)];
    const replies: ReceivedDatagram[] = [];
    const r = await sendto({ host: '127.0.0.1', port }, payloads, {
      wait: 10,
      onReply: (d) => replies.push(d),
    });
    expect(r).toEqual({ sent: 3, bytes: 60_005, replies: 3 });
    // stopped early: every datagram got its reply, so the 10 s wait did not run out
    expect(replies.map((d) => d.data)).toEqual(payloads);
    expect(replies[0]!.from).toEqual({ family: 'IPv4', address: '127.0.0.1', port });
  });

  test('count and interval repeat the list', async () => {
    const rx = await udpSocket();
    const got: string[] = [];
    rx.on('message', (m: Buffer) => got.push(m.toString()));
    const all = new Promise<void>((resolve) =>
      rx.on('message', () => (got.length === 6 ? resolve() : undefined)),
    );
    const r = await sendto(
      { host: '127.0.0.1', port: rx.address().port },
      [Buffer.from('a'), Buffer.from('b')],
      {
        count: 3,
        interval: 5,
      },
    );
    await all;
    expect(r.sent).toBe(6);
    expect(got).toEqual(['a', 'b', 'a', 'b', 'a', 'b']);
  });

  test('an oversized datagram is EMSGSIZE before anything is sent', async () => {
    const rx = await udpSocket();
    let received = 0;
    rx.on('message', () => (received += 1));
    const err = (await sendto({ host: '127.0.0.1', port: rx.address().port }, [
      Buffer.from('small'),
      Buffer.alloc(UDP_MAX_IPV4 + 1),
    ]).catch((e: unknown) => e)) as NetworkError;
    expect(err).toBeInstanceOf(NetworkError);
    expect(err.message).toBe(
      'datagram too large — 65508 bytes, the limit over IPv4 is 65,507 bytes (EMSGSIZE)',
    );
    expect(err.errno).toBe('EMSGSIZE');
    // the largest legal datagram goes through
    const ok = await sendto({ host: '127.0.0.1', port: rx.address().port }, [
      Buffer.alloc(UDP_MAX_IPV4),
    ]);
    expect(ok.sent).toBe(1);
  });

  test('wait with no reply: replies 0 after the wait', async () => {
    const rx = await udpSocket();
    const r = await sendto({ host: '127.0.0.1', port: rx.address().port }, [Buffer.from('x')], {
      wait: 0.2,
    });
    expect(r).toEqual({ sent: 1, bytes: 1, replies: 0 });
  });

  testDgram(
    'unix datagrams: replies come back to a temp path that is removed afterwards',
    async () => {
      const tmp = tempSocketPath('d.sock');
      teardown.add(tmp.cleanup);
      await engineUnixDgram(UpperCaseHandler as never, tmp.path, teardown);
      const before = sockitTempDirs();
      const replies: ReceivedDatagram[] = [];
      const r = await sendto({ path: tmp.path }, [Buffer.from('unix hi')], {
        wait: 10,
        onReply: (d) => replies.push(d),
      });
      expect(r.replies).toBe(1);
      expect(replies[0]!.data.toString()).toBe('UNIX HI');
      expect(replies[0]!.from).toEqual({ family: 'unix', path: tmp.path });
      expect(sockitTempDirs()).toEqual(before);
    },
  );

  testDgram('a unix path with nothing bound is refused', async () => {
    const tmp = tempSocketPath('none.sock');
    teardown.add(tmp.cleanup);
    await expect(sendto({ path: tmp.path }, [Buffer.from('x')])).rejects.toThrow(
      /refused the datagram — nothing is listening there/,
    );
  });
});

describe('recvfrom', () => {
  test('port 0, count, binary datagrams and their senders, echo to each sender', async () => {
    const tx = await udpSocket();
    const seen: ReceivedDatagram[] = [];
    const echoes: Buffer[] = [];
    tx.on('message', (m: Buffer) => echoes.push(m));
    const echoed = new Promise<void>((resolve) =>
      tx.on('message', () => (echoes.length === 2 ? resolve() : undefined)),
    );
    const payloads = [Buffer.from([0, 1, 2, 255]), Buffer.from('two')];
    const result = await recvfrom(
      { host: '127.0.0.1', port: 0 },
      {
        count: 2,
        echo: true,
        onListening: (a) => {
          for (const p of payloads) tx.send(p, (a as InetAddress).port, '127.0.0.1');
        },
        onDatagram: (d) => seen.push(d),
      },
    );
    expect(result.reason).toBe('count');
    expect(result.received).toBe(2);
    expect(seen.map((d) => d.data)).toEqual(payloads);
    expect(seen[0]!.from).toEqual({
      family: 'IPv4',
      address: '127.0.0.1',
      port: tx.address().port,
    });
    await echoed;
    expect(echoes).toEqual(payloads);
  });

  test('reply answers each sender with fixed bytes', async () => {
    const tx = await udpSocket();
    const answer = once(tx, 'message') as Promise<[Buffer]>;
    await recvfrom(
      { host: '127.0.0.1', port: 0 },
      {
        count: 1,
        reply: Buffer.from('ack'),
        onListening: (a) => tx.send('x', (a as InetAddress).port, '127.0.0.1'),
      },
    );
    expect((await answer)[0].toString()).toBe('ack');
  });

  test('timeout with nothing received', async () => {
    const r = await recvfrom({ host: '127.0.0.1', port: 0 }, { timeout: 0.2 });
    expect(r).toMatchObject({ received: 0, reason: 'timeout' });
  });

  test('a port in use is a NetworkError', async () => {
    const busy = await udpSocket();
    await expect(
      recvfrom({ host: '127.0.0.1', port: busy.address().port }, { count: 1 }),
    ).rejects.toThrow(/address in use \(EADDRINUSE\)/);
  });

  testDgram(
    'sendto → recvfrom round trip over a unix datagram path, then the path is gone',
    async () => {
      const tmp = tempSocketPath('r.sock');
      teardown.add(tmp.cleanup);
      const data = randomBytes(4096);
      const seen: ReceivedDatagram[] = [];
      const r = await recvfrom(
        { path: tmp.path },
        {
          count: 1,
          echo: true,
          onListening: () => {
            void sendto({ path: tmp.path }, [data], { wait: 5 });
          },
          onDatagram: (d) => seen.push(d),
        },
      );
      expect(r.received).toBe(1);
      expect(seen[0]!.data).toEqual(data);
      expect(existsSync(tmp.path)).toBe(false);
    },
  );

  test('abort stops it', async () => {
    const ac = new AbortController();
    const r = await recvfrom(
      { host: '127.0.0.1', port: 0 },
      { signal: ac.signal, onListening: () => ac.abort() },
    );
    expect(r.reason).toBe('aborted');
  });
});

describe('datagramPipe (connect -u)', () => {
  test('each input chunk is one datagram; replies go to the output', async () => {
    const port = await engineUdp(UpperCaseHandler as never, teardown);
    const input = new PassThrough();
    const out = new PassThrough();
    const replies: string[] = [];
    out.on('data', (c: Buffer) => {
      replies.push(c.toString());
      if (replies.length === 1) input.end();
    });
    input.write('ping\n');
    const r = await datagramPipe({ host: '127.0.0.1', port }, input, out, { quitAfterEof: 0 });
    expect(replies).toEqual(['PING\n']);
    expect(r).toMatchObject({ sent: 1, received: 1 });
  });

  test('an ICMP refusal rejects with ECONNREFUSED', async () => {
    const port = await closedUdpPort();
    const input = new PassThrough();
    input.write('anyone?');
    const p = datagramPipe({ host: '127.0.0.1', port }, input, new PassThrough(), {
      keepOpen: true,
    });
    await expect(p).rejects.toThrow(/refused the datagram .*ECONNREFUSED/);
  });

  testDgram('unix datagram pipe', async () => {
    const tmp = tempSocketPath('p.sock');
    teardown.add(tmp.cleanup);
    await engineUnixDgram(EchoHandler as never, tmp.path, teardown);
    const input = new PassThrough();
    const out = new PassThrough();
    const got = once(out, 'data') as Promise<[Buffer]>;
    input.write(Buffer.from([1, 2, 3]));
    const p = datagramPipe({ path: tmp.path }, input, out, { quitAfterEof: 0 });
    expect((await got)[0]).toEqual(Buffer.from([1, 2, 3]));
    input.end();
    await expect(p).resolves.toMatchObject({ sent: 1, received: 1 });
  });
});
