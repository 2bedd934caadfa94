/**
 * `sockit serve` addressing options, black-box: --allow/--deny (IPv4, IPv6,
 * IPv4-mapped), host names, --ipv6-only and --reuse-address.
 */
import { describe, expect, test } from '@jest/globals';

import { exchange } from '../helpers/loopback.js';
import { run } from '../helpers/cli.js';
import {
  dial,
  jsonEvents,
  serve,
  stop,
  udpAsk,
  udpClient,
  untilClosed,
  useServeTeardown,
} from './serve-helpers.js';

const { defer, udp } = useServeTeardown();

describe('--allow and --deny', () => {
  test('--deny refuses a peer (counted, and said with -v)', async () => {
    const s = await serve(['serve', 'tcp', '0', '--deny', '127.0.0.0/8', '-v']);
    const sock = await dial({ port: s.port });
    expect((await untilClosed(sock)).length).toBe(0);
    await s.waitFor(/refused 127\.0\.0\.1:\d+ — not allowed by --allow\/--deny/);
    expect(await stop(s)).toBe(0);
    expect(s.stderr()).toMatch(/stopped: 0 connections, 1 refused/);
  });

  test('--allow lets only the listed networks in; deny wins', async () => {
    const other = await serve(['serve', 'tcp', '0', '--allow', '10.0.0.0/8']);
    expect((await untilClosed(await dial({ port: other.port }))).length).toBe(0);
    const ok = await serve(['serve', 'tcp', '0', '--allow', '10.0.0.0/8,127.0.0.1']);
    expect((await exchange({ port: ok.port }, 'in')).toString()).toBe('in');
    const both = await serve(['serve', 'tcp', '0', '--allow', '127.0.0.1', '--deny', '127.0.0.1']);
    expect((await untilClosed(await dial({ port: both.port }))).length).toBe(0);
  });

  test('on ::, an IPv4-mapped peer is matched as IPv4; IPv6 CIDRs match IPv6 peers', async () => {
    const s = await serve(['serve', 'tcp', '0', '-H', '::', '--deny', '127.0.0.0/8']);
    expect((await untilClosed(await dial({ port: s.port, host: '127.0.0.1' }))).length).toBe(0);
    expect((await exchange({ port: s.port, host: '::1' }, 'v6')).toString()).toBe('v6');
    const six = await serve(['serve', 'tcp', '0', '-H', '::1', '--deny', '::1/128']);
    expect((await untilClosed(await dial({ port: six.port, host: '::1' }))).length).toBe(0);
  });

  test('udp: a denied datagram gets no reply; an allowed one does', async () => {
    const s = await serve(['serve', 'udp', '0', '--allow', '10.0.0.0/8', '--json']);
    const c = await udp();
    c.send('nope', s.port, '127.0.0.1');
    await s.waitFor(
      /"event":"rejected","ts":"[^"]+","peer":\{"address":"127\.0\.0\.1","port":\d+\},"reason":"access"/,
    );
    const ok = await serve(['serve', 'udp', '0', '--allow', '127.0.0.1/32']);
    expect((await udpAsk(c, ok.port, 'yes')).toString()).toBe('yes');
  });
});

describe('hosts', () => {
  test('a host name is resolved once; the banner shows the address', async () => {
    const s = await serve(['serve', 'tcp', '0', '-H', 'localhost']);
    expect(s.url).toMatch(/^tcp:\/\/(127\.0\.0\.1|\[::1\]):\d+$/);
    const host = s.url.includes('[::1]') ? '::1' : '127.0.0.1';
    expect((await exchange({ port: s.port, host }, 'lh')).toString()).toBe('lh');
  });

  test('udp --ipv6-only on :: hears IPv6 senders only', async () => {
    const s = await serve([
      'serve',
      'udp',
      '0',
      '-H',
      '::',
      '--ipv6-only',
      '--max-requests',
      '1',
      '--json',
    ]);
    const v4 = await udp();
    v4.send('four', s.port, '127.0.0.1');
    const v6 = await udpClient('udp6');
    defer(() => v6.close());
    expect((await udpAsk(v6, s.port, 'six', '::1')).toString()).toBe('six');
    expect(await s.exited).toBe(0);
    const requests = jsonEvents(s.stderr()).filter((e) => e.event === 'request');
    expect(requests).toHaveLength(1);
    expect(requests[0]!.peer).toEqual({ address: '::1', port: expect.any(Number) });
  });
});

describe('address reuse', () => {
  test('udp --reuse-address lets two servers share a port; without it the second fails', async () => {
    const a = await serve(['serve', 'udp', '0', '--reuse-address']);
    const b = await serve(['serve', 'udp', String(a.port), '--reuse-address']);
    expect(b.port).toBe(a.port);
    const c = await serve(['serve', 'udp', '0']);
    const r = await run(['serve', 'udp', String(c.port)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `sockit: cannot bind 127.0.0.1:${c.port} — address in use (EADDRINUSE)\n`,
    );
  });

  test('tcp --no-reuse-address warns that Node always sets SO_REUSEADDR', async () => {
    const s = await serve(['serve', 'tcp', '0', '--no-reuse-address']);
    expect(s.stderr()).toContain(
      'sockit: warning: --no-reuse-address has no effect on tcp — Node always sets SO_REUSEADDR',
    );
  });
});
