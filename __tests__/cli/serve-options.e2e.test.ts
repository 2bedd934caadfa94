/**
 * `sockit serve` options, black-box: --once/--max-requests/--timeout, --max-conns,
 * --idle-timeout, --backlog, the concurrency flags (sequential, threading, forking,
 * --workers) and the -v / -q / --json outputs.
 */
import { describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { Buffer } from 'node:buffer';

import { exchange } from '../helpers/loopback.js';
import { ISO_TS, run } from '../helpers/cli.js';
import {
  dial,
  jsonEvents,
  serve,
  stop,
  udpAsk,
  untilClosed,
  useServeTeardown,
} from './serve-helpers.js';

const { udp } = useServeTeardown();

describe('--once, --max-requests and --timeout', () => {
  test('--once serves one client and exits 0', async () => {
    const s = await serve(['serve', 'tcp', '0', '--once', '-e', 'upper']);
    expect((await exchange({ port: s.port }, 'one')).toString()).toBe('ONE');
    expect(await s.exited).toBe(0);
    expect(s.stdout().length).toBe(0);
  });

  test('--max-requests 3 on udp answers three datagrams and exits 0', async () => {
    const s = await serve(['serve', 'udp', '0', '--max-requests', '3']);
    const c = await udp();
    for (const m of ['a', 'b', 'c']) expect((await udpAsk(c, s.port, m)).toString()).toBe(m);
    expect(await s.exited).toBe(0);
  });

  test('--max-requests 2 on tcp: two clients, then exit 0', async () => {
    const s = await serve(['serve', 'tcp', '0', '--max-requests', '2']);
    expect((await exchange({ port: s.port }, '1')).toString()).toBe('1');
    expect((await exchange({ port: s.port }, '2')).toString()).toBe('2');
    expect(await s.exited).toBe(0);
  });

  test('--once --timeout gives up with exit 1 when nobody comes', async () => {
    const r = await run(['serve', 'tcp', '0', '--once', '--timeout', '200ms']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^listening on tcp:\/\/127\.0\.0\.1:\d+\nsockit: no request within 0\.2s\n$/,
    );
    expect(r.stdout.length).toBe(0);
  });

  test('--timeout without --once warns that it does nothing', async () => {
    const s = await serve(['serve', 'udp', '0', '--timeout', '1']);
    expect(s.stderr()).toContain('sockit: warning: --timeout applies to --once and --max-requests');
  });
});

describe('connection limits', () => {
  test('--max-conns refuses extra clients with a stderr line', async () => {
    const s = await serve(['serve', 'tcp', '0', '--max-conns', '1']);
    const first = await dial({ port: s.port });
    const firstReply = untilClosed(first);
    const served = once(first, 'data');
    first.write('x');
    await served; // the first client is being served
    const second = await dial({ port: s.port });
    const refused = await untilClosed(second);
    expect(refused.length).toBe(0);
    await s.waitFor(/sockit: refused 127\.0\.0\.1:\d+ — too many connections \(--max-conns 1\)/);
    first.end();
    expect((await firstReply).toString()).toBe('x');
    expect(await stop(s)).toBe(0);
    expect(s.stderr()).toMatch(/stopped: 1 connection, 1 refused, 0 errors/);
  });

  test('--idle-timeout closes a silent client', async () => {
    const s = await serve(['serve', 'tcp', '0', '--idle-timeout', '250ms', '-v']);
    const sock = await dial({ port: s.port });
    const started = Date.now();
    expect((await untilClosed(sock)).length).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    await s.waitFor(/closed idle connection from 127\.0\.0\.1:\d+/);
  });

  test('--backlog sets the listen queue (ss shows it as Send-Q)', async () => {
    const s = await serve(['serve', 'tcp', '0', '--backlog', '7']);
    let table: string;
    try {
      table = execFileSync('ss', ['-ltnH', `sport = :${s.port}`], { encoding: 'utf8' });
    } catch {
      return; // no ss here: the option was still accepted and the server listens
    }
    expect(table.trim().split(/\s+/)[2]).toBe('7');
    expect((await exchange({ port: s.port }, 'ok')).toString()).toBe('ok');
  });
});

describe('concurrency flags', () => {
  test('sequential: a second client waits until the first is done, then is served', async () => {
    const s = await serve(['serve', 'tcp', '0', '-m', 'sequential', '--json']);
    const a = await dial({ port: s.port });
    const peerA = `127.0.0.1:${a.localPort}`;
    const aReply = untilClosed(a);
    const served = once(a, 'data');
    a.write('a1');
    await served; // a is being served
    const b = await dial({ port: s.port });
    const peerB = `127.0.0.1:${b.localPort}`;
    let aEnded = false;
    const bFirstData = new Promise<boolean>((resolve) => b.once('data', () => resolve(aEnded)));
    const bReply = untilClosed(b);
    b.end('b');
    // one more round trip on a: it still has the server to itself
    const echoed = once(a, 'data');
    a.write('a2');
    await echoed;
    aEnded = true;
    a.end();
    expect((await aReply).toString()).toBe('a1a2');
    expect(await bFirstData).toBe(true); // b got nothing before a ended
    expect((await bReply).toString()).toBe('b');
    // the server's own log: b's handler started only after a's had finished
    await s.waitFor(/"event":"close"[^\n]*\n[^]*"event":"close"/);
    const events = jsonEvents(s.stderr()).map((e) => {
      const peer = e.peer as { address: string; port: number } | undefined;
      return `${e.event} ${peer ? `${peer.address}:${peer.port}` : ''}`;
    });
    expect(events.slice(1)).toEqual([
      `connection ${peerA}`,
      `close ${peerA}`,
      `connection ${peerB}`,
      `close ${peerB}`,
    ]);
  });

  test('threading and forking reach the engine: the worker names show', async () => {
    const t = await serve([
      'serve',
      'tcp',
      '0',
      '-e',
      'threaded-echo',
      '-m',
      'threading',
      '-w',
      '2',
    ]);
    expect((await exchange({ port: t.port }, 'hello\n')).toString()).toMatch(
      /^Thread-\d+: hello\n$/,
    );
    const f = await serve(['serve', 'tcp', '0', '-e', 'threaded-echo', '-m', 'forking', '-w', '2']);
    expect((await exchange({ port: f.port }, 'hello\n')).toString()).toMatch(
      /^Process-\d+: hello\n$/,
    );
    expect(await stop(f)).toBe(0);
  });

  test('--workers without threading or forking warns', async () => {
    const s = await serve(['serve', 'tcp', '0', '-w', '2']);
    expect(s.stderr()).toContain(
      'sockit: warning: --workers has no effect with --mode async (only threading and forking use a pool)',
    );
    expect((await exchange({ port: s.port }, 'w')).toString()).toBe('w');
  });
});

describe('-v, -q and --json', () => {
  test('-v prints one line per connection with byte counts', async () => {
    const s = await serve(['serve', 'tcp', '0', '-v']);
    await exchange({ port: s.port }, 'hello');
    await s.waitFor(/connection from 127\.0\.0\.1:\d+: 5 bytes in, 5 bytes out, [\d.]+ ms\n/);
    const u = await serve(['serve', 'udp', '0', '-v']);
    const c = await udp();
    await udpAsk(c, u.port, 'abc');
    await u.waitFor(/datagram from 127\.0\.0\.1:\d+: 3 bytes in, 3 bytes out/);
  });

  test('-q keeps the banner and drops the summary', async () => {
    const s = await serve(['serve', 'tcp', '0', '-q']);
    await exchange({ port: s.port }, 'q');
    expect(await stop(s, 'SIGINT')).toBe(0);
    expect(s.stderr()).toBe(`listening on tcp://127.0.0.1:${s.port}\n`);
  });

  test('--json writes NDJSON events: listening, connection, close, summary', async () => {
    const s = await serve(['serve', 'tcp', '0', '--json', '-e', 'upper']);
    await exchange({ port: s.port }, 'json');
    await s.waitFor(/"event":"close"/);
    expect(await stop(s)).toBe(0);
    const events = jsonEvents(s.stderr());
    expect(events.map((e) => e.event)).toEqual(['listening', 'connection', 'close', 'summary']);
    for (const e of events) expect(e.ts).toMatch(ISO_TS);
    expect(events[0]).toMatchObject({
      url: `tcp://127.0.0.1:${s.port}`,
      transport: 'tcp',
      address: '127.0.0.1',
      port: s.port,
      handler: 'upper',
      mode: 'async',
    });
    expect(events[2]).toMatchObject({ bytesIn: 4, bytesOut: 4 });
    expect(events[2]!.peer).toEqual({ address: '127.0.0.1', port: expect.any(Number) });
    expect(typeof events[2]!.durationMs).toBe('number');
    expect(events[3]).toMatchObject({ signal: 'SIGTERM', requests: 1, bytesIn: 4, bytesOut: 4 });
    expect(s.stdout()).toEqual(Buffer.alloc(0));
  });
});
