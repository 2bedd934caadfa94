/**
 * `sockit serve … --forward <url>` end to end: integrity of 256 MiB across tcp and
 * unix, half-close, resets, an upstream that is down, no descriptor left behind,
 * and the usage errors.
 */
import { describe, expect, test } from '@jest/globals';
import { readFileSync, readdirSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { connect, type Socket } from 'node:net';
import { run } from '../helpers/cli.js';
import { CONCURRENCY_MODES, MODES } from '../../src/engine/modes.js';
import { dial, jsonEvents, serve, stop, untilClosed, useServeTeardown } from './serve-helpers.js';
import { echo, pumpAndHash, replyAfterEof, untilCount, upstream } from './forward-helpers.js';

const { defer, tmp } = useServeTeardown();

const MIB = 256;

/**
 * Connect (sending nothing, so that no write can meet the reset as EPIPE) and
 * resolve with the error code the client sees: the reset may come before Node
 * reports the connection (connect ECONNRESET) or after it.
 */
function resetFor(target: { port: number }): Promise<string | undefined> {
  const c = connect(target.port, '127.0.0.1');
  return new Promise((resolve) => {
    c.once('error', (err: NodeJS.ErrnoException) => resolve(err.code));
    c.once('close', () => resolve('closed without a reset'));
  });
}

async function up(onConnection: (s: Socket) => void, path?: string) {
  const u = await upstream(onConnection, path);
  defer(() => u.close());
  return u;
}

describe('integrity: 256 MiB each way, sha256-equal', () => {
  test.each([
    ['tcp', 'tcp'],
    ['tcp', 'unix'],
    ['unix', 'tcp'],
  ] as const)(
    '%s → %s',
    async (from, to) => {
      const { dir, path } = tmp();
      const u = await up(echo, to === 'unix' ? join(dir, 'up.sock') : undefined);
      const where = from === 'unix' ? ['unix', path] : ['tcp', '0'];
      const s = await serve(['serve', ...where, '--forward', u.url]);
      const client = await dial(from === 'unix' ? { path } : { port: s.port });
      const r = await pumpAndHash(client, MIB);
      expect(r.bytes).toBe(MIB * 1024 * 1024);
      expect(r.received).toBe(r.sent);
    },
    120_000,
  );
});

describe('stream semantics', () => {
  test('half-close passes through: a server that replies after EOF gets its reply out', async () => {
    const u = await up(replyAfterEof);
    const s = await serve(['serve', 'tcp', '0', '--forward', u.url, '--json']);
    const c = await dial({ port: s.port });
    const got = untilClosed(c);
    c.end('twelve bytes');
    expect((await got).toString()).toBe('got 12 bytes');
    const [ev] = jsonEvents((await s.waitFor(/\{"event":"forward".*\n/))[0]);
    expect(ev).toMatchObject({ bytesUp: 12, bytesDown: 12, reason: 'done', upstream: u.url });
  });

  test('a reset by the upstream resets the client', async () => {
    const u = await up((sock) => sock.once('data', () => sock.resetAndDestroy()));
    const s = await serve(['serve', 'tcp', '0', '--forward', u.url, '--json']);
    const c = await dial({ port: s.port });
    const failed = once(c, 'error');
    c.write('x');
    const [err] = (await failed) as [NodeJS.ErrnoException];
    expect(err.code).toBe('ECONNRESET');
    await s.waitFor(/"reason":"upstream-reset","code":"ECONNRESET"/);
  });

  test('a reset by the client resets the upstream', async () => {
    let upstreamError: Promise<unknown[]> | undefined;
    let connected!: () => void;
    const arrived = new Promise<void>((resolve) => (connected = resolve));
    const u = await up((sock) => {
      upstreamError = once(sock, 'error');
      sock.once('data', () => connected());
    });
    const s = await serve(['serve', 'tcp', '0', '--forward', u.url, '--json']);
    const c = await dial({ port: s.port });
    c.write('x');
    await arrived;
    c.resetAndDestroy();
    const [err] = (await upstreamError!) as [NodeJS.ErrnoException];
    expect(err.code).toBe('ECONNRESET');
    await s.waitFor(/"reason":"client-reset"/);
  });
});

describe('every concurrency mode', () => {
  test.each(['async', 'sequential', 'threading', 'forking'])(
    '%s: relays, half-closes and reports the connection',
    async (mode) => {
      const u = await up(replyAfterEof);
      const args = ['serve', 'tcp', '0', '--forward', u.url, '-m', mode, '--json'];
      const s = await serve(
        mode === 'threading' || mode === 'forking' ? [...args, '-w', '1'] : args,
      );
      const c = await dial({ port: s.port });
      const got = untilClosed(c);
      c.end('abc');
      expect((await got).toString()).toBe('got 3 bytes');
      const [ev] = jsonEvents((await s.waitFor(/\{"event":"forward".*\n/))[0]);
      expect(ev).toMatchObject({ bytesUp: 3, bytesDown: 11, reason: 'done' });
    },
  );
});

describe('traffic tap', () => {
  test.each(['async', 'threading'] as const)(
    '%s: -x and -o show the relayed bytes of both directions',
    async (mode) => {
      const { dir } = tmp();
      const [dump, raw] = [join(dir, 'relay.hex'), join(dir, 'relay.raw')];
      const u = await up(replyAfterEof);
      const args = ['serve', 'tcp', '0', '--forward', u.url, '-m', mode, '-x', dump, '-o', raw];
      const s = await serve(MODES[mode].pooled ? [...args, '-w', '1'] : args);
      const c = await dial({ port: s.port });
      const got = untilClosed(c);
      c.end('abc');
      expect((await got).toString()).toBe('got 3 bytes');
      expect(await stop(s)).toBe(0);
      // client → upstream is `<` (from the peer), upstream → client is `>` (to the peer)
      expect(readFileSync(dump, 'utf8').split('\n')).toEqual([
        expect.stringMatching(/^\[1\] # tcp 127\.0\.0\.1:\d+ at \S+$/),
        `[1] < 00000000  61 62 63${' '.repeat(42)}|abc|`,
        `[1] > 00000000  67 6f 74 20 33 20 62 79  74 65 73${' '.repeat(17)}|got 3 bytes|`,
        '',
      ]);
      expect(readFileSync(raw, 'latin1')).toBe('abcgot 3 bytes');
    },
  );
});

describe('limits and shutdown', () => {
  test('SIGTERM drains: a relay in flight finishes, then the server exits 0', async () => {
    let arrived!: () => void;
    const relaying = new Promise<void>((resolve) => (arrived = resolve));
    const u = await up((sock) => {
      sock.once('data', () => arrived());
      replyAfterEof(sock);
    });
    const s = await serve(['serve', 'tcp', '0', '--forward', u.url, '--drain-timeout', '20s']);
    const c = await dial({ port: s.port });
    const got = untilClosed(c);
    c.write('before ');
    await relaying; // the relay is running: the upstream has the first bytes
    s.child.kill('SIGTERM');
    await s.waitFor(/stopping: waiting up to 20s for 1 open request/);
    c.end('after');
    expect((await got).toString()).toBe('got 12 bytes');
    expect(await s.exited).toBe(0);
  });

  test('--idle-timeout closes a silent relay; both sides go', async () => {
    let upstreamClosed!: Promise<void>;
    const u = await up((sock) => {
      sock.on('error', () => undefined); // the relay resets it
      upstreamClosed = new Promise((resolve) => sock.once('close', () => resolve()));
    });
    const s = await serve([
      'serve',
      'tcp',
      '0',
      '--forward',
      u.url,
      '--idle-timeout',
      '200ms',
      '-v',
    ]);
    const c = await dial({ port: s.port });
    await untilClosed(c);
    await s.waitFor(/closed idle connection/);
    await s.waitFor(/forward 127\.0\.0\.1:\d+ → tcp:[^\n]*, client-closed\n/);
    await upstreamClosed;
  });
});

describe('upstream down', () => {
  test('refused: the client sees a reset, one line on stderr, the server keeps serving', async () => {
    const gone = await upstream(echo);
    await gone.close(); // a port nobody listens on any more
    const s = await serve(['serve', 'tcp', '0', '--forward', gone.url]);
    expect(await resetFor({ port: s.port })).toBe('ECONNRESET');
    await s.waitFor(/failed: ECONNREFUSED, client reset\n/);
    const lines = s
      .stderr()
      .split('\n')
      .filter((l) => l !== '');
    expect(lines).toEqual([
      expect.stringMatching(/^listening on tcp:/),
      expect.stringMatching(
        new RegExp(
          `^sockit: forward 127\\.0\\.0\\.1:\\d+ → ${gone.url} failed: ECONNREFUSED, client reset$`,
        ),
      ),
    ]);
    expect(s.child.exitCode).toBeNull();
  });

  test.each(CONCURRENCY_MODES)(
    '%s: a refused upstream resets the client (ECONNRESET), the server keeps serving',
    async (mode) => {
      const gone = await upstream(echo);
      await gone.close();
      const args = ['serve', 'tcp', '0', '--forward', gone.url, '-m', mode, '--json'];
      const s = await serve(MODES[mode].pooled ? [...args, '-w', '1'] : args);
      for (let i = 1; i <= 2; i++) {
        expect(await resetFor({ port: s.port })).toBe('ECONNRESET');
        await untilCount(s, '"reason":"upstream-failed","code":"ECONNREFUSED"', i);
      }
      expect(s.child.exitCode).toBeNull();
    },
  );

  test('a unix upstream that appears later is reached by the next connection', async () => {
    const { dir } = tmp();
    const path = join(dir, 'later.sock');
    const s = await serve(['serve', 'tcp', '0', '--forward', `unix://${path}`, '--json']);
    expect(await resetFor({ port: s.port })).toBe('ECONNRESET');
    await s.waitFor(/"reason":"upstream-failed","code":"ENOENT"/);
    await up(echo, path);
    const second = await dial({ port: s.port });
    const got = untilClosed(second);
    second.end('late');
    expect((await got).toString()).toBe('late');
  });
});

describe('load', () => {
  test('1,000 sequential connections leave no descriptor behind', async () => {
    const u = await up(echo);
    const s = await serve(['serve', 'tcp', '0', '--forward', u.url, '--json']);
    const fds = (): number => readdirSync(`/proc/${s.child.pid}/fd`).length;
    const warm = await dial({ port: s.port });
    const warmed = untilClosed(warm);
    warm.end('warm');
    await warmed;
    await s.waitFor(/"event":"forward"/);
    const before = fds();
    for (let i = 0; i < 1000; i++) {
      const c = await dial({ port: s.port });
      const got = untilClosed(c);
      c.end(`n${i}`);
      expect((await got).toString()).toBe(`n${i}`);
    }
    await untilCount(s, '"event":"forward"', 1001);
    expect(fds()).toBe(before);
  }, 120_000);

  test('over 5,000 connections (10 at a time) the descriptor count stays put', async () => {
    const u = await up(echo);
    const s = await serve(['serve', 'tcp', '0', '--forward', u.url, '--json']);
    const fds = (): number => readdirSync(`/proc/${s.child.pid}/fd`).length;
    const relays = forwardCounter(s);
    const one = async (n: number): Promise<void> => {
      const c = await dial({ port: s.port });
      const got = untilClosed(c);
      c.end(`n${n}`);
      expect((await got).toString()).toBe(`n${n}`);
    };
    await one(0);
    await relays.reached(1);
    const before = fds();
    const counts: number[] = [];
    for (let k = 0; k < 5; k++) {
      for (let i = 0; i < 1000; i += 10) {
        await Promise.all(Array.from({ length: 10 }, (_, j) => one(k * 1000 + i + j + 1)));
      }
      await relays.reached(1 + (k + 1) * 1000);
      counts.push(fds());
    }
    expect(counts).toEqual([before, before, before, before, before]);
  }, 180_000);
});

/**
 * Count the server's `forward` events as lines arrive (a scan of all of stderr on
 * every chunk would cost quadratic time over thousands of events).
 */
function forwardCounter(s: { child: { stderr: NodeJS.ReadableStream } }) {
  let seen = 0;
  let tail = '';
  const waiting: { n: number; resolve: () => void }[] = [];
  s.child.stderr.on('data', (chunk: Buffer) => {
    const lines = (tail + chunk.toString()).split('\n');
    tail = lines.pop()!;
    for (const line of lines) if (line.startsWith('{"event":"forward"')) seen++;
    for (const w of waiting.splice(0)) {
      if (seen >= w.n) w.resolve();
      else waiting.push(w);
    }
  });
  return {
    reached: (n: number): Promise<void> =>
      seen >= n ? Promise.resolve() : new Promise((resolve) => waiting.push({ n, resolve })),
  };
}

describe('usage', () => {
  test.each([
    [['serve', 'udp', '0', '--forward', 'tcp://127.0.0.1:9'], /cannot forward datagrams to tcp:/],
    [['serve', 'tcp', '0', '--forward', 'udp://127.0.0.1:9'], /cannot forward a stream to udp:/],
    [['serve', 'tcp', '0', '-e', 'forward'], /-e forward needs the target: --forward <url>/],
    [['serve', 'tcp', '0', '--forward', 'tcp://127.0.0.1'], /bad forward target .* host:port/],
    [['serve', 'tcp', '0', '--forward', 'ftp://x:1'], /unknown scheme 'ftp'/],
    [
      ['serve', 'udp', '0', '--forward', 'udp://127.0.0.1:9', '-m', 'forking'],
      /datagram forwarding keeps one upstream socket per sender in one process/,
    ],
    [
      ['serve', 'udp', '0', '--max-conns', '3'],
      /--max-conns on udp caps --forward sessions or the programs of --exec/,
    ],
  ])('%j: one line, exit 2', async (args, re) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(re);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stdout.length).toBe(0);
  });
});
