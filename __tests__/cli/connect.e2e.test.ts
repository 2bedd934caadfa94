/**
 * `sockit connect` as a black box (the built CLI): byte-exact piping with
 * half-close against sockit's engine servers, Python's socketserver/socket and
 * socat; datagram pipes; probes (-z) with their output formats; exit codes.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { watch } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { Buffer } from 'node:buffer';
import { createServer } from 'node:net';
import { ISO_TS, finish, run, start } from '../helpers/cli.js';
import { tempSocketPath, Teardown } from '../helpers/loopback.js';
import { EchoHandler } from '../../src/handlers/echo.js';
import { UpperCaseHandler } from '../../src/handlers/case.js';
import { ChargenHandler } from '../../src/handlers/chargen.js';
import {
  engineTcp,
  engineUdp,
  engineUnix,
  engineUnixDgram,
  freePort,
  hasCommand,
  pythonPeer,
  PYTHON,
  rawTcp,
} from '../clients/peers.js';
import { NO_UNIX_DGRAM, testIf } from '../helpers/skip.js';

const testDgram = testIf(NO_UNIX_DGRAM, import.meta.url);

const teardown = new Teardown();
afterEach(() => teardown.run());

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const testPy = PYTHON ? test : test.skip;
const testSocat = hasCommand('socat') ? test : test.skip;
const testScript = hasCommand('script') ? test : test.skip;

function track<T extends ChildProcess>(child: T): T {
  teardown.add(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'close');
    }
  });
  return child;
}

/** Python's socketserver from the seeds: read the request to EOF, answer it upper-cased. */
const PY_UPPER_READ_ALL = `
import socketserver
class H(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(self.rfile.read().upper())
s = socketserver.TCPServer(('127.0.0.1', 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
`;

describe('connect: the pipe', () => {
  test('32 MiB of random bytes through an engine echo server, sha256-equal', async () => {
    const port = await engineTcp(EchoHandler as never, teardown);
    const data = randomBytes(32 * 1024 * 1024);
    const r = await run(['connect', '127.0.0.1', String(port)], { input: data });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBe(data.length);
    expect(sha(r.stdout)).toBe(sha(data));
  });

  testPy('Python socketserver reads to EOF, then replies: half-close gets the reply', async () => {
    const py = await pythonPeer(PY_UPPER_READ_ALL, teardown);
    const r = await run(['connect', '127.0.0.1', py.line], { input: 'hello, socketserver\n' });
    expect(r.stdout.toString()).toBe('HELLO, SOCKETSERVER\n');
    expect(r.code).toBe(0);
  });

  testPy('Python socket replies before reading, then reads to EOF and replies again', async () => {
    const py = await pythonPeer(
      `
import socket
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
c.sendall(b'banner\\n')
n = 0
while True:
    d = c.recv(65536)
    if not d: break
    n += len(d)
c.sendall(b'got %d\\n' % n)
c.close()
`,
      teardown,
    );
    const r = await run(['connect', '127.0.0.1', py.line], { input: randomBytes(100_000) });
    expect(r.stdout.toString()).toBe('banner\ngot 100000\n');
    expect(r.code).toBe(0);
  });

  testPy('the peer closes first while stdin stays open: connect exits promptly', async () => {
    const py = await pythonPeer(
      `
import socket
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
c.sendall(b'bye\\n')
c.close()
`,
      teardown,
    );
    // stdin is never ended: only the peer's close can end the command
    const child = track(start(['connect', '127.0.0.1', py.line], { keepStdin: true }));
    const r = await finish(child);
    expect(r.stdout.toString()).toBe('bye\n');
    expect(r.code).toBe(0);
  });

  test('-k: the peer half-closes first, stdin is still sent until it ends', async () => {
    let got = '';
    let gotEnd!: () => void;
    const ended = new Promise<void>((r) => (gotEnd = r));
    const { port } = await rawTcp((s) => {
      s.end('bye\n');
      s.on('data', (c: Buffer) => (got += c.toString()));
      s.once('end', gotEnd);
    }, teardown);
    const child = track(start(['connect', '-k', '127.0.0.1', String(port)], { keepStdin: true }));
    const result = finish(child);
    // after our 'bye' arrived the peer's FIN has too: keep writing
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.stdin.end('still here');
    await ended;
    const r = await result;
    expect(got).toBe('still here');
    expect(r.code).toBe(0);
  });

  test('-q 0 quits after stdin EOF even though the peer never closes', async () => {
    let got = '';
    const { port } = await rawTcp(
      (s) => s.on('data', (c: Buffer) => (got += c.toString())),
      teardown,
    );
    const r = await run(['connect', '-q', '0', '127.0.0.1', String(port)], { input: 'one-way' });
    expect(r.code).toBe(0);
    expect(got).toBe('one-way');
  });

  test('-C sends CRLF line ends; replies are left alone', async () => {
    let got = '';
    const { port } = await rawTcp((s) => {
      s.on('data', (c: Buffer) => (got += c.toString()));
      s.once('end', () => s.end('a\nb\n'));
    }, teardown);
    const r = await run(['connect', '-C', '127.0.0.1', String(port)], { input: 'x\ny\n' });
    expect(got).toBe('x\r\ny\r\n');
    expect(r.stdout.toString()).toBe('a\nb\n');
  });

  test('-s/--source and -p/--source-port choose our end of the connection', async () => {
    const { port } = await rawTcp((s) => s.end(`${s.remoteAddress} ${s.remotePort}`), teardown);
    const source = await freePort();
    const r = await run(
      ['connect', '-s', '127.0.0.1', '-p', String(source), '127.0.0.1', String(port)],
      { input: '' },
    );
    expect(r.stdout.toString()).toBe(`127.0.0.1 ${source}`);
    expect(r.code).toBe(0);
  });

  test('-6 with an IPv4 literal is bad usage', async () => {
    const r = await run(['connect', '-6', '127.0.0.1', '9'], { input: '' });
    expect(r.stderr).toBe('sockit: address 127.0.0.1 is not IPv6\n');
    expect(r.code).toBe(2);
  });

  test('--unix against an engine unix stream server', async () => {
    const tmp = tempSocketPath();
    teardown.add(tmp.cleanup);
    await engineUnix(UpperCaseHandler as never, tmp.path, teardown);
    const r = await run(['connect', '--unix', tmp.path], { input: 'over a path\n' });
    expect(r.stdout.toString()).toBe('OVER A PATH\n');
    expect(r.code).toBe(0);
  });

  testSocat('socat as the server, on TCP and on a unix path', async () => {
    const socat = track(
      spawn('socat', ['-d', '-d', 'TCP-LISTEN:0,bind=127.0.0.1', 'EXEC:tr a-z A-Z'], {
        stdio: ['ignore', 'ignore', 'pipe'],
      }),
    );
    let log = '';
    socat.stderr!.setEncoding('utf8');
    const port = await new Promise<string>((resolve) =>
      socat.stderr!.on('data', (c: string) => {
        log += c;
        const m = /listening on AF=2 127\.0\.0\.1:(\d+)/.exec(log);
        if (m) resolve(m[1]!);
      }),
    );
    const r = await run(['connect', '127.0.0.1', port], { input: 'socat says\n' });
    expect(r.stdout.toString()).toBe('SOCAT SAYS\n');
    expect(r.code).toBe(0);

    const tmp = tempSocketPath();
    teardown.add(tmp.cleanup);
    const created = new Promise<void>((resolve) => {
      const w = watch(tmp.dir, (_ev, name) => {
        if (name === 's.sock') {
          w.close();
          resolve();
        }
      });
    });
    track(spawn('socat', [`UNIX-LISTEN:${tmp.path}`, 'EXEC:tr a-z A-Z'], { stdio: 'ignore' }));
    await created;
    const u = await run(['connect', '--unix', tmp.path], { input: 'unix socat\n' });
    expect(u.stdout.toString()).toBe('UNIX SOCAT\n');
  });

  test('EPIPE on stdout (the reader went away) ends quietly with exit 0', async () => {
    const port = await engineTcp(ChargenHandler as never, teardown);
    const child = track(start(['connect', '127.0.0.1', String(port)], { keepStdin: true }));
    child.stdout.once('data', () => child.stdout.destroy());
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const [code] = await once(child, 'close');
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  testScript('on a terminal: a prompt on stderr, each line sent, the reply printed', async () => {
    const port = await engineTcp(UpperCaseHandler as never, teardown);
    const bin = new URL('../../bin/sockit.js', import.meta.url).pathname;
    const child = track(
      spawn(
        'script',
        ['-qec', `"${process.execPath}" "${bin}" connect 127.0.0.1 ${port}`, '/dev/null'],
        {
          stdio: ['pipe', 'pipe', 'pipe'],
          env: { ...process.env, NO_COLOR: '1' },
        },
      ),
    );
    let screen = '';
    const waitFor = (text: string): Promise<void> =>
      new Promise((resolve) => {
        const check = (): void => (screen.includes(text) ? resolve() : undefined);
        child.stdout!.on('data', (c: Buffer) => {
          screen += c.toString();
          check();
        });
        check();
      });
    await waitFor('> ');
    child.stdin!.write('hello tty\n');
    await waitFor('HELLO TTY');
    child.stdin!.write('\x04'); // ^D: EOF on the terminal → half-close → the server ends
    const [code] = await once(child, 'close');
    expect(screen).toMatch(/> [\s\S]*HELLO TTY\r?\n> /);
    expect(code).toBe(0);
  });
});

describe('connect: datagrams', () => {
  testPy('-u against Python socketserver.UDPServer', async () => {
    const py = await pythonPeer(
      `
import socketserver
class H(socketserver.DatagramRequestHandler):
    def handle(self):
        self.wfile.write(self.rfile.read().upper())
s = socketserver.UDPServer(('127.0.0.1', 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
`,
      teardown,
    );
    const child = track(
      start(['connect', '-u', '-q', '30', '127.0.0.1', py.line], { keepStdin: true }),
    );
    const result = finish(child);
    child.stdin.write('ping\n');
    // the reply arrived: end stdin and stop without waiting for -q
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.kill('SIGINT');
    const r = await result;
    expect(r.stdout.toString()).toBe('PING\n');
    expect(r.code).toBe(130);
  });

  test('-u: a closed UDP port (ICMP refusal) is exit 1', async () => {
    const dead = await freePort();
    const r = await run(['connect', '-u', '-k', '127.0.0.1', String(dead)], {
      input: 'hello?',
    });
    expect(r.stderr).toMatch(/^sockit: udp:\/\/127\.0\.0\.1:\d+ refused the datagram/);
    expect(r.code).toBe(1);
  });

  testDgram('--unix --datagram against an engine unix datagram server', async () => {
    const tmp = tempSocketPath('d.sock');
    teardown.add(tmp.cleanup);
    await engineUnixDgram(UpperCaseHandler as never, tmp.path, teardown);
    const child = track(
      start(['connect', '--unix', tmp.path, '--datagram', '-q', '30'], { keepStdin: true }),
    );
    const result = finish(child);
    child.stdin.write(Buffer.from([0x61, 0x00, 0xff]));
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.kill('SIGTERM');
    const r = await result;
    expect(r.stdout).toEqual(Buffer.from([0x41, 0x00, 0xff]));
    expect(r.code).toBe(143);
  });

  test('-u with -q 0 against an engine UDP echo server', async () => {
    const port = await engineUdp(EchoHandler as never, teardown);
    const r = await run(['connect', '-u', '-q', '0', '127.0.0.1', String(port)], { input: 'x' });
    expect(r.code).toBe(0);
  });
});

describe('connect -z: probes', () => {
  test('a range with known open and closed ports: -v lines, --json lines, exit 0', async () => {
    const open = await engineTcp(EchoHandler as never, teardown);
    const closed = await freePort();
    const spec = `${open},${closed}`;
    const v = await run(['connect', '-z', '-v', '127.0.0.1', spec]);
    expect(v.code).toBe(0);
    expect(v.stdout.length).toBe(0); // silent on stdout
    const lines = v.stderr.trim().split('\n');
    const expected = [
      { port: open, line: `127.0.0.1 ${open} open` },
      { port: closed, line: `127.0.0.1 ${closed} closed ECONNREFUSED` },
    ]
      .sort((a, b) => a.port - b.port)
      .map((e) => e.line);
    expect(lines).toEqual(expected);

    const j = await run(['connect', '-z', '--json', '127.0.0.1', spec]);
    const objects = j.stdout
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown> & { peer: { port: number } });
    expect(objects.map((o) => o.peer.port)).toEqual([open, closed].sort((a, b) => a - b));
    expect(objects.find((o) => o.peer.port === open)).toEqual({
      event: 'probe',
      ts: expect.stringMatching(ISO_TS),
      host: '127.0.0.1',
      peer: { address: '127.0.0.1', port: open },
      proto: 'tcp',
      open: true,
      state: 'open',
      errno: '0',
      errnum: 0,
    });
    expect(objects.find((o) => o.peer.port === closed)).toMatchObject({
      event: 'probe',
      open: false,
      state: 'closed',
      errno: 'ECONNREFUSED',
      errnum: 111,
    });
  });

  test('quiet without -v; exit 1 when nothing is open; --all needs every port', async () => {
    const open = await engineTcp(EchoHandler as never, teardown);
    const closed = await freePort();
    const none = await run(['connect', '-z', '127.0.0.1', String(closed)]);
    expect(none).toMatchObject({ code: 1, stderr: '' });
    expect(none.stdout.length).toBe(0);
    expect((await run(['connect', '-z', '127.0.0.1', `${open},${closed}`])).code).toBe(0);
    expect((await run(['connect', '-z', '--all', '127.0.0.1', `${open},${closed}`])).code).toBe(1);
    expect((await run(['connect', '-z', '--all', '127.0.0.1', String(open)])).code).toBe(0);
  });

  test('a contiguous range around an open port, every port reported in order', async () => {
    const open = await engineTcp(EchoHandler as never, teardown);
    const r = await run(['connect', '-z', '--json', '127.0.0.1', `${open - 20}-${open + 20}`]);
    const objects = r.stdout
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { peer: { port: number }; open: boolean });
    expect(objects.map((o) => o.peer.port)).toEqual(
      Array.from({ length: 41 }, (_, i) => open - 20 + i),
    );
    expect(objects.find((o) => o.peer.port === open)?.open).toBe(true);
    expect(r.code).toBe(0);
  });

  test('a scan large enough to run on worker threads: every port once, in order', async () => {
    const open = await engineTcp(EchoHandler as never, teardown);
    const lo = Math.max(1, open - 1600);
    const hi = Math.min(65535, lo + 3199);
    const r = await run(['connect', '-z', '--json', '127.0.0.1', `${lo}-${hi}`]);
    const objects = r.stdout
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { peer: { port: number }; open: boolean; state: string });
    expect(objects.map((o) => o.peer.port)).toEqual(
      Array.from({ length: hi - lo + 1 }, (_, i) => lo + i),
    );
    expect(objects.find((o) => o.peer.port === open)).toMatchObject({ open: true, state: 'open' });
    expect(r.code).toBe(0);
  });

  test('--wait: exit 0 at once when open, exit 1 when the time runs out', async () => {
    const open = await engineTcp(EchoHandler as never, teardown);
    const closed = await freePort();
    expect((await run(['connect', '-z', '--wait', '30', '127.0.0.1', String(open)])).code).toBe(0);
    const r = await run(['connect', '-z', '--wait', '300ms', '-v', '127.0.0.1', String(closed)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`127.0.0.1 ${closed} closed ECONNREFUSED\n`);
  });

  test('--wait: succeeds once a server starts listening', async () => {
    const port = await freePort();
    const child = track(start(['connect', '-z', '--wait', '20s', '127.0.0.1', String(port)]));
    const result = finish(child);
    // the first attempts are refused; whenever we start listening, it must notice
    const server = createServer();
    teardown.add(() => new Promise((r) => server.close(r)));
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    expect((await result).code).toBe(0);
  });

  test('UDP: closed on ICMP refusal, open when a server replies', async () => {
    const open = await engineUdp(EchoHandler as never, teardown);
    const closed = await freePort();
    const r = await run(['connect', '-u', '-z', '-v', '127.0.0.1', `${open},${closed}`]);
    const lines = r.stderr.trim().split('\n').sort();
    expect(lines).toEqual(
      [`127.0.0.1 ${open} open`, `127.0.0.1 ${closed} closed ECONNREFUSED`].sort(),
    );
    expect(r.code).toBe(0);
  });

  test('--unix -z: a path someone listens on, and one nobody does', async () => {
    const tmp = tempSocketPath();
    teardown.add(tmp.cleanup);
    await engineUnix(EchoHandler as never, tmp.path, teardown);
    expect((await run(['connect', '-z', '--unix', tmp.path])).code).toBe(0);
    const r = await run(['connect', '-z', '-v', '--unix', `${tmp.dir}/none.sock`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/none\.sock closed ENOENT/);
  });

  test('service names are ports', async () => {
    const r = await run(['connect', '-z', '--json', '--timeout', '200ms', '127.0.0.1', 'echo']);
    const o = JSON.parse(r.stdout.toString()) as { peer: { port: number } };
    expect(o.peer.port).toBe(7);
  });
});

describe('connect: exit codes', () => {
  test('refused is 1 with the OS wording', async () => {
    const port = await freePort();
    const r = await run(['connect', '127.0.0.1', String(port)], { input: 'x' });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`sockit: connect ECONNREFUSED 127.0.0.1:${port}\n`);
  });

  test('an unknown host is 1', async () => {
    const r = await run(['connect', 'no-such-host.invalid', '80'], { input: '' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^sockit: cannot resolve 'no-such-host\.invalid' — E/);
  });

  test.each([
    [['connect', '127.0.0.1', '70000'], /invalid port '70000' — out of range 1-65535/],
    [['connect', '127.0.0.1', '0'], /out of range 1-65535/],
    [['connect', '127.0.0.1'], /missing <port>/],
    [['connect'], /missing <host>/],
    [['connect', '-z', '127.0.0.1', '30-20'], /range 30-20 is reversed/],
    [['connect', '-z', '127.0.0.1', '65536'], /out of range/],
    [['connect', '-z', '127.0.0.1', '0'], /out of range 1-65535/],
    [['connect', '-z', '127.0.0.1'], /missing <ports>/],
    [['connect', '--send-only', '--recv-only', 'h', '1'], /exclude each other/],
    [['connect', '-4', '-6', 'h', '1'], /-4 and -6 exclude each other/],
    [['connect', '-w', 'soon', 'h', '1'], /duration/],
    [['connect', '--json', '127.0.0.1', '1'], /--json works with -z only/],
    [['connect', '--datagram', '127.0.0.1', '1'], /--datagram needs --unix/],
    [['connect', '--bogus'], /unknown option/],
  ])('%j is bad usage (exit 2)', async (args, message) => {
    const r = await run(args, { input: '' });
    expect(r.stderr).toMatch(message);
    expect(r.stderr.split('\n')[0]).toMatch(/^sockit: /);
    expect(r.code).toBe(2);
  });
});
