/**
 * sockit's clients against other programs as servers: `connect` to nc -l and
 * ncat -l (TCP and unix, both directions), `send` to ncat --sh-exec and to Python's
 * UnixStreamServer, `sendto` to socat (UDP and unix datagram), to Python's
 * UnixDatagramServer and to nc -lUu, `connect -u` and `connect --unix --datagram`
 * to socat, `recvfrom` fed by socat, ncat and nc, and `connect -z` on their
 * listeners. A test whose peer program is missing is skipped.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { spawnSync } from 'node:child_process';
import { Buffer } from 'node:buffer';
import { run, startServer } from '../helpers/cli.js';
import { tempSocketPath } from '../helpers/loopback.js';
import { freePort } from '../clients/peers.js';
import { NC, NCAT, PYTHON, SOCAT, killPeers, runPeer, startPeer } from './interop-helpers.js';
import { NO_UNIX_DGRAM, testIf } from '../helpers/skip.js';

const testDgram = testIf(NO_UNIX_DGRAM, import.meta.url);

const cleanups: (() => void)[] = [];
afterEach(async () => {
  await killPeers();
  for (const fn of cleanups.splice(0)) await fn();
});

function tmp(): { dir: string; path: string } {
  const t = tempSocketPath();
  cleanups.push(t.cleanup);
  return t;
}

/** `sockit recvfrom …` running until it has its datagrams; killed in afterEach. */
async function recvfrom(args: string[]) {
  const s = await startServer(['recvfrom', ...args]);
  const out: Buffer[] = [];
  s.child.stdout.on('data', (c: Buffer) => out.push(c));
  const exited = once(s.child, 'close') as Promise<[number | null]>;
  cleanups.push(() => {
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
  });
  return { ...s, done: async () => ({ code: (await exited)[0], stdout: Buffer.concat(out) }) };
}

const jsonData = (stdout: Buffer): string[] =>
  stdout
    .toString()
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { data: string }).data)
    .sort();

(NC ? describe : describe.skip)('nc (OpenBSD) as the server', () => {
  test('connect ↔ nc -l over TCP: both directions, then both exit', async () => {
    const port = await freePort();
    const nc = await startPeer('nc', ['-v', '-l', '127.0.0.1', String(port)], {
      input: 'from nc\n',
      ready: /Listening on/,
    });
    const r = await run(['connect', '127.0.0.1', String(port)], { input: 'from sockit\n' });
    expect(r.stdout.toString()).toBe('from nc\n');
    expect(r.code).toBe(0);
    await nc.exited;
    expect(nc.stdout().toString()).toBe('from sockit\n');
  });

  test('connect --unix ↔ nc -lU', async () => {
    const { path } = tmp();
    const nc = await startPeer('nc', ['-v', '-lU', path], {
      input: 'nc unix\n',
      ready: /Listening on/,
    });
    const r = await run(['connect', '--unix', path], { input: 'sockit unix\n' });
    expect(r.stdout.toString()).toBe('nc unix\n');
    await nc.exited;
    expect(nc.stdout().toString()).toBe('sockit unix\n');
  });

  testDgram('connect --unix --datagram → nc -lUu', async () => {
    const { path } = tmp();
    const nc = await startPeer('nc', ['-v', '-lUu', path], { keepStdin: true, ready: /Bound on/ });
    // nc -lUu connects back to the sender's own path after the first datagram and gives up
    // if it is gone, so the sender stays bound for a moment (-q 1) instead of exiting at once
    const r = await run(['connect', '--unix', path, '--datagram', '-q', '1'], {
      input: 'dgram for nc',
    });
    expect(r.code).toBe(0);
    expect((await nc.stdoutAtLeast(12)).toString()).toBe('dgram for nc');
  });

  test('connect -z finds nc -l listening', async () => {
    const port = await freePort();
    await startPeer('nc', ['-v', '-l', '127.0.0.1', String(port)], { ready: /Listening on/ });
    const r = await run(['connect', '-z', '-v', '127.0.0.1', String(port)]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`127.0.0.1 ${port} open\n`);
  });
});

(NCAT ? describe : describe.skip)('ncat as the server', () => {
  test('connect ↔ ncat -l over TCP and over a unix socket', async () => {
    const port = await freePort();
    const n = await startPeer('ncat', ['-v', '-l', '127.0.0.1', String(port)], {
      input: 'from ncat\n',
      ready: /Listening on/,
    });
    const r = await run(['connect', '127.0.0.1', String(port)], { input: 'from sockit\n' });
    expect(r.stdout.toString()).toBe('from ncat\n');
    await n.exited;
    expect(n.stdout().toString()).toBe('from sockit\n');

    const { path } = tmp();
    const u = await startPeer('ncat', ['-v', '-lU', path], {
      input: 'ncat unix\n',
      ready: /Listening on/,
    });
    const ru = await run(['connect', '--unix', path], { input: 'sockit unix\n' });
    expect(ru.stdout.toString()).toBe('ncat unix\n');
    await u.exited;
    expect(u.stdout().toString()).toBe('sockit unix\n');
  });

  test('send → ncat -l, over TCP and a unix socket: the request in, the reply out', async () => {
    const port = await freePort();
    const n = await startPeer('ncat', ['-v', '-l', '127.0.0.1', String(port)], {
      input: 'reply from ncat\n',
      ready: /Listening on/,
    });
    const r = await run(['send', '127.0.0.1', String(port), 'hello', '-n']);
    expect(r.stdout.toString()).toBe('reply from ncat\n');
    expect(r.code).toBe(0);
    await n.exited;
    expect(n.stdout().toString()).toBe('hello\n');
    const { path } = tmp();
    const u = await startPeer('ncat', ['-v', '-lU', path], {
      input: 'unix reply',
      ready: /Listening on/,
    });
    const ru = await run(['send', '--unix', path, 'over', 'unix']);
    expect(ru.stdout.toString()).toBe('unix reply');
    await u.exited;
    expect(u.stdout().toString()).toBe('over unix');
  });

  testDgram('recvfrom ← ncat -u --send-only, and --unix ← ncat -U --udp --send-only', async () => {
    const rx = await recvfrom(['0', '--count', '1', '--json']);
    await runPeer('ncat', ['-u', '--send-only', '127.0.0.1', String(rx.port)], 'via ncat');
    const got = await rx.done();
    expect(got.code).toBe(0);
    expect(jsonData(got.stdout)).toEqual(['via ncat']);

    const { path } = tmp();
    const ux = await recvfrom(['--unix', path, '--count', '1']);
    await runPeer('ncat', ['-U', '--udp', '--send-only', path], 'unix via ncat');
    expect((await ux.done()).stdout.toString()).toBe('unix via ncat');
  });
});

(SOCAT ? describe : describe.skip)('socat as the server', () => {
  test('sendto → UDP4-RECVFROM (fork, tr): every datagram answered', async () => {
    const port = await freePort();
    await startPeer(
      'socat',
      ['-d', '-d', `UDP4-RECVFROM:${port},bind=127.0.0.1,fork`, 'EXEC:tr a-z A-Z'],
      { ready: /receiving on/ },
    );
    const r = await run(['sendto', '127.0.0.1', String(port), 'hello', 'world', '--wait', '10']);
    // byte for byte, in whichever order socat's children answered
    expect(['HELLOWORLD', 'WORLDHELLO']).toContain(r.stdout.toString());
    expect(r.code).toBe(0);
  });

  testDgram('sendto --unix and connect --unix --datagram → UNIX-RECVFROM (fork, tr)', async () => {
    const { path } = tmp();
    await startPeer('socat', ['-d', '-d', `UNIX-RECVFROM:${path},fork`, 'EXEC:tr a-z A-Z'], {
      ready: /receiving on/,
    });
    const r = await run(['sendto', '--unix', path, 'unix dgram', '--wait', '10']);
    expect(r.stdout.toString()).toBe('UNIX DGRAM');
    const c = await run(['connect', '--unix', path, '--datagram', '-q', '1'], { input: 'pipe\n' });
    expect(c.stdout.toString()).toBe('PIPE\n');
    expect(c.code).toBe(0);
  });

  test('connect -u → UDP4-RECVFROM (fork, tr)', async () => {
    const port = await freePort();
    await startPeer(
      'socat',
      ['-d', '-d', `UDP4-RECVFROM:${port},bind=127.0.0.1,fork`, 'EXEC:tr a-z A-Z'],
      { ready: /receiving on/ },
    );
    const r = await run(['connect', '-u', '-q', '1', '127.0.0.1', String(port)], {
      input: 'udp pipe\n',
    });
    expect(r.stdout.toString()).toBe('UDP PIPE\n');
    expect(r.code).toBe(0);
  });

  testDgram('recvfrom ← UDP4-SENDTO and --unix ← UNIX-SENDTO, binary-safe', async () => {
    const rx = await recvfrom(['0', '--count', '1', '--hex']);
    await runPeer(
      'socat',
      ['-u', '-', `UDP4-SENDTO:127.0.0.1:${rx.port}`],
      Buffer.from([0, 255, 10, 13]),
    );
    expect((await rx.done()).stdout.toString()).toBe('00ff0a0d\n');
    const { path } = tmp();
    const ux = await recvfrom(['--unix', path, '--count', '1', '--hex']);
    await runPeer('socat', ['-u', '-', `UNIX-SENDTO:${path}`], Buffer.from([1, 2, 0, 3]));
    expect((await ux.done()).stdout.toString()).toBe('01020003\n');
  });
});

/** Quit once stdin is sent: Debian's -q 0, else a one-second idle timeout (-w 0 races stdin). */
const NC_QUIT =
  NC && /-q secs/.test(spawnSync('nc', ['-h']).stderr.toString()) ? ['-q', '0'] : ['-w', '1'];

(NC ? describe : describe.skip)('nc (OpenBSD) as a datagram sender', () => {
  testDgram('recvfrom ← nc -u and --unix ← nc -Uu', async () => {
    const rx = await recvfrom(['0', '--count', '1']);
    await runPeer('nc', ['-u', ...NC_QUIT, '127.0.0.1', String(rx.port)], 'via nc');
    expect((await rx.done()).stdout.toString()).toBe('via nc');
    const { path } = tmp();
    const ux = await recvfrom(['--unix', path, '--count', '1']);
    await runPeer('nc', ['-Uu', ...NC_QUIT, path], 'unix via nc');
    expect((await ux.done()).stdout.toString()).toBe('unix via nc');
  });
});

(PYTHON ? describe : describe.skip)('Python socketserver on unix sockets as the server', () => {
  test('send --unix and connect --unix → socketserver.UnixStreamServer', async () => {
    const { path } = tmp();
    await startPeer(
      'python3',
      [
        '-u',
        '-c',
        `
import socketserver
class H(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(self.rfile.read().upper())
s = socketserver.UnixStreamServer(${JSON.stringify(path)}, H)
print('ready', flush=True)
s.serve_forever()
`,
      ],
      { ready: /ready/ },
    );
    const r = await run(['send', '--unix', path, 'python unix']);
    expect(r.stdout.toString()).toBe('PYTHON UNIX');
    const c = await run(['connect', '--unix', path], { input: 'and connect\n' });
    expect(c.stdout.toString()).toBe('AND CONNECT\n');
  });

  testDgram('sendto --unix → socketserver.UnixDatagramServer answers our bound path', async () => {
    const { path } = tmp();
    await startPeer(
      'python3',
      [
        '-u',
        '-c',
        `
import socketserver
class H(socketserver.DatagramRequestHandler):
    def handle(self):
        self.wfile.write(self.rfile.read().upper() + b' from ' + self.client_address.encode())
s = socketserver.UnixDatagramServer(${JSON.stringify(path)}, H)
print('ready', flush=True)
s.serve_forever()
`,
      ],
      { ready: /ready/ },
    );
    const r = await run(['sendto', '--unix', path, 'py dgram', '--wait', '10']);
    expect(r.stdout.toString()).toMatch(/^PY DGRAM from \/\S+$/);
    expect(r.code).toBe(0);
  });
});
