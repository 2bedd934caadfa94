/**
 * `sockit serve` black-box: the built CLI on real loopback sockets — banners,
 * transports, the built-in handlers, and stdout staying empty.
 */
import { describe, expect, test } from '@jest/globals';
import { statSync, existsSync } from 'node:fs';
import { Buffer } from 'node:buffer';

import { exchange } from '../helpers/loopback.js';
import { UnixDgramSocket } from '../../src/net/unix-dgram.js';
import {
  dial,
  readBytes,
  serve,
  stop,
  udpAsk,
  untilClosed,
  type Served,
  useServeTeardown,
} from './serve-helpers.js';
import { NO_UNIX_DGRAM, testIf } from '../helpers/skip.js';

const testDgram = testIf(NO_UNIX_DGRAM, import.meta.url);

const { defer, tmp, udp } = useServeTeardown();

/** Every byte value, several times over, in an order that crosses chunk boundaries. */
const BINARY = Buffer.from(Array.from({ length: 256 * 40 }, (_, i) => (i * 7) % 256));

async function expectCleanStop(s: Served): Promise<void> {
  expect(await stop(s)).toBe(0);
  expect(s.stdout().length).toBe(0);
}

describe('sockit serve tcp', () => {
  test('prints the banner with the real port and echoes bytes exactly', async () => {
    const s = await serve(['serve', 'tcp', '0']);
    expect(s.url).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    expect(s.port).toBeGreaterThan(0);
    expect(await exchange({ port: s.port }, BINARY)).toEqual(BINARY);
    expect(await exchange({ port: s.port }, '')).toEqual(Buffer.alloc(0));
    await expectCleanStop(s);
  });

  test('-p works like the [port] argument', async () => {
    const s = await serve(['serve', 'tcp', '-p', '0']);
    expect(await exchange({ port: s.port }, 'p')).toEqual(Buffer.from('p'));
    await expectCleanStop(s);
  });

  test('IPv6 literal: the banner brackets it', async () => {
    const s = await serve(['serve', 'tcp', '0', '-H', '::1']);
    expect(s.url).toBe(`tcp://[::1]:${s.port}`);
    expect(await exchange({ port: s.port, host: '::1' }, 'six')).toEqual(Buffer.from('six'));
  });

  test('-H :: takes IPv4 clients too; --ipv6-only does not', async () => {
    const dual = await serve(['serve', 'tcp', '0', '-H', '::']);
    expect(dual.url).toBe(`tcp://[::]:${dual.port}`);
    expect(await exchange({ port: dual.port, host: '127.0.0.1' }, 'v4')).toEqual(Buffer.from('v4'));
    const only = await serve(['serve', 'tcp', '0', '-H', '::', '--ipv6-only']);
    expect(await exchange({ port: only.port, host: '::1' }, 'v6')).toEqual(Buffer.from('v6'));
    await expect(exchange({ port: only.port, host: '127.0.0.1' }, 'v4')).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
  });

  test('upper-case (and the alias upper) changes only ASCII letters, even across reads', async () => {
    const s = await serve(['serve', 'tcp', '0', '-e', 'upper']);
    const text = Buffer.from('héllo wörld, ünïcode ✓ abc\n');
    const sock = await dial({ port: s.port });
    const reply = untilClosed(sock);
    // split inside the two bytes of 'é' and the three of '✓'
    const cut = [2, text.indexOf(Buffer.from('✓')) + 1, text.length];
    let from = 0;
    for (const at of cut) {
      await new Promise<void>((resolve) => sock.write(text.subarray(from, at), () => resolve()));
      from = at;
    }
    sock.end();
    expect((await reply).toString()).toBe('HéLLO WöRLD, üNïCODE ✓ ABC\n');
    const expected = Buffer.from(BINARY.map((b) => (b >= 0x61 && b <= 0x7a ? b - 32 : b)));
    expect(await exchange({ port: s.port }, BINARY)).toEqual(expected);
    const long = await serve(['serve', 'tcp', '0', '-e', 'upper-case']);
    expect((await exchange({ port: long.port }, 'MiXeD')).toString()).toBe('MIXED');
  });

  test('lower lower-cases ASCII letters only', async () => {
    const s = await serve(['serve', 'tcp', '0', '-e', 'lower']);
    expect((await exchange({ port: s.port }, 'HeLLo ÄÖ WORLD')).toString()).toBe('hello ÄÖ world');
  });

  test('threaded-echo prefixes every line with the worker name (MainThread in async mode)', async () => {
    const s = await serve(['serve', 'tcp', '0', '-e', 'threaded-echo']);
    expect((await exchange({ port: s.port }, 'hello\nworld\n')).toString()).toBe(
      'MainThread: hello\nMainThread: world\n',
    );
  });

  test('discard reads everything and answers nothing', async () => {
    const s = await serve(['serve', 'tcp', '0', '-e', 'discard', '-v']);
    expect(await exchange({ port: s.port }, BINARY)).toEqual(Buffer.alloc(0));
    await s.waitFor(new RegExp(`${BINARY.length} bytes in, 0 bytes out`));
  });

  test('daytime sends one RFC 867 line, then closes', async () => {
    const s = await serve(['serve', 'tcp', '0', '-e', 'daytime']);
    const sock = await dial({ port: s.port });
    const line = (await untilClosed(sock)).toString();
    expect(line).toMatch(/^[A-Z][a-z]+day, [A-Z][a-z]+ \d{1,2}, \d{4} \d\d:\d\d:\d\d UTC\r\n$/);
  });

  test('chargen streams the RFC 864 pattern for as long as the client reads', async () => {
    const s = await serve(['serve', 'tcp', '0', '-e', 'chargen']);
    const sock = await dial({ port: s.port });
    const got = await readBytes(sock, 74 * 200);
    const lines = got.toString('latin1').split('\r\n').slice(0, 200);
    const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('');
    lines.forEach((line, n) => {
      const start = n % 95;
      expect(line).toBe((printable + printable).slice(start, start + 72));
    });
    // the server is still fine after the client went away mid-stream
    const again = await dial({ port: s.port });
    expect((await readBytes(again, 74)).subarray(0, 74).toString()).toBe(
      `${printable.slice(0, 72)}\r\n`,
    );
    again.destroy();
    await expectCleanStop(s);
  });
});

describe('sockit serve udp', () => {
  test('banner, echo to each sender, empty and 65,507-byte datagrams', async () => {
    const s = await serve(['serve', 'udp', '0']);
    expect(s.url).toBe(`udp://127.0.0.1:${s.port}`);
    const a = await udp();
    const b = await udp();
    const [ra, rb] = await Promise.all([udpAsk(a, s.port, 'from a'), udpAsk(b, s.port, 'from b')]);
    expect(ra.toString()).toBe('from a');
    expect(rb.toString()).toBe('from b');
    expect(await udpAsk(a, s.port, Buffer.alloc(0))).toEqual(Buffer.alloc(0));
    const big = Buffer.alloc(65507, 0xab);
    big[0] = 1;
    big[65506] = 2;
    expect(await udpAsk(a, s.port, big)).toEqual(big);
    await expectCleanStop(s);
  });

  test('upper-case over UDP (the seeds\u2019 MyUDPHandler)', async () => {
    const s = await serve(['serve', 'udp', '0', '-e', 'upper']);
    const c = await udp();
    expect((await udpAsk(c, s.port, 'hello world')).toString()).toBe('HELLO WORLD');
  });

  test('IPv6 and dual-stack UDP', async () => {
    const s = await serve(['serve', 'udp', '0', '-H', '::']);
    expect(s.url).toBe(`udp://[::]:${s.port}`);
    const v6 = await udp('udp6');
    const v4 = await udp();
    expect((await udpAsk(v6, s.port, 'six', '::1')).toString()).toBe('six');
    expect((await udpAsk(v4, s.port, 'four')).toString()).toBe('four');
  });

  test('daytime, chargen, threaded-echo and discard answer datagrams their way', async () => {
    const day = await serve(['serve', 'udp', '0', '-e', 'daytime']);
    const c = await udp();
    expect((await udpAsk(c, day.port, '')).toString()).toMatch(/ \d\d:\d\d:\d\d UTC\r\n$/);
    const gen = await serve(['serve', 'udp', '0', '-e', 'chargen']);
    expect((await udpAsk(c, gen.port, 'x')).length).toBe(74);
    const te = await serve(['serve', 'udp', '0', '-e', 'threaded-echo']);
    expect((await udpAsk(c, te.port, 'hi')).toString()).toBe('MainThread: hi');
    const dis = await serve([
      'serve',
      'udp',
      '0',
      '-e',
      'discard',
      '--max-requests',
      '1',
      '--json',
    ]);
    c.send('dropped', dis.port, '127.0.0.1');
    expect(await dis.exited).toBe(0);
    expect(dis.stderr()).toMatch(
      /"event":"request","ts":"[^"]+","peer":\{"address":"127\.0\.0\.1","port":\d+\},"bytesIn":7,"bytesOut":0/,
    );
  });
});

describe('sockit serve unix', () => {
  test('stream: banner, echo, 0600 socket file removed on exit', async () => {
    const { path } = tmp();
    const s = await serve(['serve', 'unix', path]);
    expect(s.url).toBe(`unix://${path}`);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(await exchange({ path }, BINARY)).toEqual(BINARY);
    await expectCleanStop(s);
    expect(existsSync(path)).toBe(false);
  });

  test('--socket-mode sets the file mode', async () => {
    const { path } = tmp();
    await serve(['serve', 'unix', path, '--socket-mode', '660', '-e', 'upper']);
    expect(statSync(path).mode & 0o777).toBe(0o660);
    expect((await exchange({ path }, 'up')).toString()).toBe('UP');
  });

  testDgram('--datagram: a real SOCK_DGRAM socket that answers to the sender path', async () => {
    const { dir, path } = tmp();
    const s = await serve(['serve', 'unix', path, '--datagram', '-e', 'upper']);
    expect(s.url).toBe(`unix://${path}`);
    const client = new UnixDgramSocket();
    defer(() => client.close());
    client.bind(`${dir}/c.sock`);
    const reply = new Promise<Buffer>((resolve) => client.once('message', resolve));
    await client.send(Buffer.from('dgram'), path);
    expect((await reply).toString()).toBe('DGRAM');
    await expectCleanStop(s);
    expect(existsSync(path)).toBe(false);
  });
});
