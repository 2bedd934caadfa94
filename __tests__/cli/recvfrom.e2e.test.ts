/**
 * `sockit recvfrom` as a black box: the banner, raw/--hex/--json output,
 * --count, --timeout, --echo/--reply, unix datagrams, EPIPE, and round trips
 * with `sockit sendto`, Python's socket and nc.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Buffer } from 'node:buffer';
import { ISO_TS, finish, run, start, startServer } from '../helpers/cli.js';
import { tempSocketPath, Teardown } from '../helpers/loopback.js';
import { hasCommand, PYTHON } from '../clients/peers.js';
import { NO_UNIX_DGRAM, testIf } from '../helpers/skip.js';

const testDgram = testIf(NO_UNIX_DGRAM, import.meta.url);

const teardown = new Teardown();
afterEach(() => teardown.run());

const testPy = PYTHON ? test : test.skip;
const testNc = hasCommand('nc') ? test : test.skip;

/** Start `sockit recvfrom …` and wait for its banner; the child is killed in teardown. */
async function recvfrom(args: string[]): Promise<Awaited<ReturnType<typeof startServer>>> {
  const s = await startServer(['recvfrom', ...args]);
  teardown.add(async () => {
    if (s.child.exitCode === null && s.child.signalCode === null) {
      s.child.kill('SIGKILL');
      await once(s.child, 'close');
    }
  });
  return s;
}

/** Collect a started child's stdout and wait for it to exit. */
async function outcome(
  child: Awaited<ReturnType<typeof startServer>>['child'],
): Promise<{ code: number | null; stdout: Buffer }> {
  const chunks: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => chunks.push(c));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout: Buffer.concat(chunks) };
}

async function sender(): Promise<UdpSocket> {
  const s = createSocket('udp4');
  teardown.add(() => new Promise<void>((r) => s.close(() => r())));
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  return s;
}

describe('recvfrom', () => {
  test('banner on stderr with the real port; raw bytes of each datagram; --count exits 0', async () => {
    const srv = await recvfrom(['0', '--count', '2']);
    expect(srv.url).toMatch(/^udp:\/\/127\.0\.0\.1:\d+$/);
    expect(srv.port).toBeGreaterThan(0);
    const done = outcome(srv.child);
    const tx = await sender();
    const a = randomBytes(1000);
    const b = Buffer.from([0, 10, 13, 255]);
    tx.send(a, srv.port, '127.0.0.1');
    tx.send(b, srv.port, '127.0.0.1');
    const r = await done;
    expect(r.stdout).toEqual(Buffer.concat([a, b]));
    expect(r.code).toBe(0);
  });

  test('--json: one datagram event each with the sender; --hex: one hex line', async () => {
    const tx = await sender();
    const j = await recvfrom(['0', '--count', '2', '--json']);
    const jDone = outcome(j.child);
    tx.send('text', j.port, '127.0.0.1');
    tx.send(Buffer.from([0xff, 0x00]), j.port, '127.0.0.1');
    const lines = (await jDone).stdout.toString().trim().split('\n');
    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual([
      {
        event: 'datagram',
        ts: expect.stringMatching(ISO_TS),
        peer: { address: '127.0.0.1', port: tx.address().port },
        bytes: 4,
        data: 'text',
        encoding: 'utf8',
      },
      {
        event: 'datagram',
        ts: expect.stringMatching(ISO_TS),
        peer: { address: '127.0.0.1', port: tx.address().port },
        bytes: 2,
        data: '/wA=',
        encoding: 'base64',
      },
    ]);

    const h = await recvfrom(['0', '--count', '1', '--hex']);
    const hDone = outcome(h.child);
    tx.send(Buffer.from([0xde, 0xad, 0xbe, 0xef]), h.port, '127.0.0.1');
    expect((await hDone).stdout.toString()).toBe('deadbeef\n');
  });

  test('--echo answers each sender; --reply answers with fixed text', async () => {
    const tx = await sender();
    const e = await recvfrom(['0', '--count', '1', '--echo']);
    const echoed = once(tx, 'message') as Promise<[Buffer]>;
    tx.send('mirror', e.port, '127.0.0.1');
    expect((await echoed)[0].toString()).toBe('mirror');

    const r = await recvfrom(['0', '--count', '1', '--reply', 'ack']);
    const acked = once(tx, 'message') as Promise<[Buffer]>;
    tx.send('x', r.port, '127.0.0.1');
    expect((await acked)[0].toString()).toBe('ack');
  });

  test('sendto → recvfrom round trip with binary datagrams (both CLIs)', async () => {
    const srv = await recvfrom(['0', '--count', '3', '--hex', '--echo']);
    const done = outcome(srv.child);
    const payloads = ['00ff7f80', '0a0d', randomBytes(300).toString('hex')];
    const s = await run([
      'sendto',
      '--hex-input',
      '--hex',
      '--wait',
      '10',
      '127.0.0.1',
      String(srv.port),
      ...payloads,
    ]);
    expect(s.stdout.toString()).toBe(payloads.map((p) => `${p}\n`).join(''));
    expect(s.code).toBe(0);
    const r = await done;
    expect(r.stdout.toString()).toBe(payloads.map((p) => `${p}\n`).join(''));
    expect(r.code).toBe(0);
  });

  testDgram(
    '--unix: banner unix://PATH, echo to a sendto --unix client, path removed at exit',
    async () => {
      const tmp = tempSocketPath('r.sock');
      teardown.add(tmp.cleanup);
      const srv = await recvfrom(['--unix', tmp.path, '--count', '1', '--echo']);
      expect(srv.url).toBe(`unix://${tmp.path}`);
      const done = outcome(srv.child);
      const s = await run(['sendto', '--unix', tmp.path, '--wait', '10', 'hello unix']);
      expect(s.stdout.toString()).toBe('hello unix');
      const r = await done;
      expect(r.stdout.toString()).toBe('hello unix');
      expect(r.code).toBe(0);
      expect(existsSync(tmp.path)).toBe(false);
    },
  );

  testPy("Python's socket.sendto reaches it", async () => {
    const srv = await recvfrom(['0', '--count', '1']);
    const done = outcome(srv.child);
    const py = spawn(PYTHON!, [
      '-c',
      `import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'from python', ('127.0.0.1', ${srv.port}))`,
    ]);
    await once(py, 'close');
    expect((await done).stdout.toString()).toBe('from python');
  });

  testNc('nc -u reaches it', async () => {
    const srv = await recvfrom(['0', '--count', '1', '--json']);
    const done = outcome(srv.child);
    const nc = spawn('nc', ['-u', '-w', '1', '127.0.0.1', String(srv.port)]);
    nc.stdin.end('from nc\n');
    const r = await done;
    nc.kill();
    expect(JSON.parse(r.stdout.toString())).toMatchObject({ data: 'from nc\n', bytes: 8 });
  });

  test('EPIPE on stdout (| head -1) ends quietly with exit 0', async () => {
    const srv = await recvfrom(['0']);
    const tx = await sender();
    srv.child.stdout.once('data', () => srv.child.stdout.destroy());
    let closed = false;
    const exited = once(srv.child, 'close').then(([code]) => {
      closed = true;
      return code as number | null;
    });
    // keep sending until a write after the closed pipe ends it: paced, so that a loaded
    // machine still gets datagrams after the pipe closed, and bounded in count and time
    const deadline = Date.now() + 20_000;
    for (let i = 0; i < 2000 && !closed && Date.now() < deadline; i += 1) {
      tx.send(`line ${i}\n`, srv.port, '127.0.0.1');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10))]);
    }
    expect(await exited).toBe(0);
    expect(srv.stderr()).toMatch(/^listening on udp:\/\/127\.0\.0\.1:\d+\n$/);
  });

  test('SIGINT stops it with 130', async () => {
    const srv = await recvfrom(['0']);
    const done = outcome(srv.child);
    srv.child.kill('SIGINT');
    expect((await done).code).toBe(130);
  });
});

describe('recvfrom: exit codes', () => {
  test('--timeout with nothing received: 1; with a datagram: 0', async () => {
    const none = await run(['recvfrom', '0', '--timeout', '200ms']);
    expect(none.stderr).toMatch(
      /^listening on udp:\/\/127\.0\.0\.1:\d+\nsockit: no datagram within 0\.2s\n$/,
    );
    expect(none.code).toBe(1);

    const srv = await recvfrom(['0', '--timeout', '1s']);
    const done = outcome(srv.child);
    (await sender()).send('one', srv.port, '127.0.0.1');
    const r = await done;
    expect(r.stdout.toString()).toBe('one');
    expect(r.code).toBe(0);
  });

  test('a port in use: 1', async () => {
    const busy = await sender();
    const r = await run(['recvfrom', String(busy.address().port)]);
    expect(r.stderr).toMatch(
      /^sockit: cannot bind 127\.0\.0\.1:\d+ — address in use \(EADDRINUSE\)\n$/,
    );
    expect(r.code).toBe(1);
  });

  test.each([
    [['recvfrom', '70000'], /out of range/],
    [['recvfrom', '0', '--echo', '--reply', 'x'], /exclude each other/],
    [['recvfrom', '0', '--count', 'many'], /whole number/],
    [['recvfrom', '0', '-H', 'not a host!'], /a host has no spaces or control characters/],
  ])('%j is bad usage (exit 2)', async (args, message) => {
    const child = start(args);
    const r = await finish(child);
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(2);
  });
});
