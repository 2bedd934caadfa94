/**
 * sockit's servers with other programs as clients, filling what
 * __tests__/cli/serve-interop.e2e.test.ts leaves out: ncat on every transport
 * (TCP, UDP, unix stream, unix datagram), nc on unix stream and unix datagram and
 * over IPv6, socat on unix datagram, IPv6 and 4 MiB of binary, Python over IPv6.
 * A test whose peer program is missing is skipped.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { tempSocketPath } from '../helpers/loopback.js';
import { serve, stopAll } from '../cli/serve-helpers.js';
import { NC, NCAT, PYTHON, SOCAT, killPeers, runPeer, startPeer } from './interop-helpers.js';
import { NO_UNIX_DGRAM, testIf } from '../helpers/skip.js';

const testDgram = testIf(NO_UNIX_DGRAM, import.meta.url);

const cleanups: (() => void)[] = [];
afterEach(async () => {
  await killPeers();
  await stopAll();
  for (const fn of cleanups.splice(0)) fn();
});

function tmp(): { dir: string; path: string } {
  const t = tempSocketPath();
  cleanups.push(t.cleanup);
  return t;
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/**
 * A datagram client that never sees an EOF: keep its stdin open, wait for the
 * reply on its stdout, then stop it.
 */
async function datagramClient(bin: string, args: string[], send: string, expected: string) {
  const p = await startPeer(bin, args, { input: send, keepStdin: true });
  const got = await p.stdoutAtLeast(expected.length);
  p.child.kill('SIGTERM');
  return got.toString();
}

(NCAT ? describe : describe.skip)('ncat as the client', () => {
  test('TCP: sends, half-closes on EOF, prints the reply', async () => {
    const s = await serve(['serve', 'tcp', '0', '-e', 'upper']);
    const r = await runPeer('ncat', ['127.0.0.1', String(s.port)], 'from ncat\n');
    expect(r.stdout.toString()).toBe('FROM NCAT\n');
    expect(r.code).toBe(0);
  });

  test('UDP: one datagram, one reply', async () => {
    const s = await serve(['serve', 'udp', '0', '-e', 'upper']);
    expect(
      await datagramClient('ncat', ['-u', '127.0.0.1', String(s.port)], 'ncat udp\n', 'NCAT UDP\n'),
    ).toBe('NCAT UDP\n');
  });

  test('unix stream (-U)', async () => {
    const { path } = tmp();
    await serve(['serve', 'unix', path, '-e', 'upper']);
    const r = await runPeer('ncat', ['-U', path], 'ncat unix\n');
    expect(r.stdout.toString()).toBe('NCAT UNIX\n');
  });

  testDgram('unix datagram (-U --udp): the reply reaches ncat’s own bound path', async () => {
    const { path } = tmp();
    const s = await serve(['serve', 'unix', path, '--datagram', '-e', 'upper', '-v']);
    expect(
      await datagramClient('ncat', ['-U', '--udp', path], 'ncat dgram\n', 'NCAT DGRAM\n'),
    ).toBe('NCAT DGRAM\n');
    await s.waitFor(/datagram from \/\S+: 11 bytes in, 11 bytes out/);
  });

  test('IPv6 (-6) to serve tcp -H ::1', async () => {
    const s = await serve(['serve', 'tcp', '0', '-H', '::1', '-e', 'upper']);
    const r = await runPeer('ncat', ['-6', '::1', String(s.port)], 'v6\n');
    expect(r.stdout.toString()).toBe('V6\n');
  });
});

(NC ? describe : describe.skip)('nc (OpenBSD) as the client', () => {
  test('unix stream: nc -N -U', async () => {
    const { path } = tmp();
    await serve(['serve', 'unix', path, '-e', 'upper']);
    const r = await runPeer('nc', ['-N', '-U', path], 'nc unix\n');
    expect(r.stdout.toString()).toBe('NC UNIX\n');
    expect(r.code).toBe(0);
  });

  testDgram('unix datagram: nc -U -u binds a path of its own and gets the reply', async () => {
    const { path } = tmp();
    await serve(['serve', 'unix', path, '--datagram', '-e', 'upper']);
    const r = await runPeer('nc', ['-Uu', '-W', '1', path], 'nc dgram\n');
    expect(r.stdout.toString()).toBe('NC DGRAM\n');
  });

  test('IPv6: nc -N ::1 to serve tcp -H ::', async () => {
    const s = await serve(['serve', 'tcp', '0', '-H', '::', '-e', 'upper']);
    const r = await runPeer('nc', ['-N', '::1', String(s.port)], 'nc v6\n');
    expect(r.stdout.toString()).toBe('NC V6\n');
  });
});

(SOCAT ? describe : describe.skip)('socat as the client', () => {
  testDgram('unix datagram: UNIX-SENDTO with a bound reply path', async () => {
    const { dir, path } = tmp();
    await serve(['serve', 'unix', path, '--datagram', '-e', 'upper']);
    const r = await runPeer(
      'socat',
      ['-T', '2', '-', `UNIX-SENDTO:${path},bind=${join(dir, 'socat-client.sock')}`],
      'socat dgram',
    );
    expect(r.stdout.toString()).toBe('SOCAT DGRAM');
  });

  test('IPv6 TCP and UDP', async () => {
    const t = await serve(['serve', 'tcp', '0', '-H', '::1', '-e', 'upper']);
    expect(
      (await runPeer('socat', ['-', `TCP6:[::1]:${t.port}`], 'tcp6\n')).stdout.toString(),
    ).toBe('TCP6\n');
    const u = await serve(['serve', 'udp', '0', '-H', '::1', '-e', 'upper']);
    const r = await runPeer('socat', ['-T', '2', '-', `UDP6:[::1]:${u.port}`], 'udp6');
    expect(r.stdout.toString()).toBe('UDP6');
  });

  test('4 MiB of random bytes through serve tcp (echo) and serve unix (echo), sha256-equal', async () => {
    const data = randomBytes(4 * 1024 * 1024);
    const t = await serve(['serve', 'tcp', '0']);
    const r = await runPeer('socat', ['-b', '65536', '-', `TCP:127.0.0.1:${t.port}`], data, 20_000);
    expect(r.stdout.length).toBe(data.length);
    expect(sha(r.stdout)).toBe(sha(data));
    const { path } = tmp();
    await serve(['serve', 'unix', path]);
    const u = await runPeer('socat', ['-b', '65536', '-', `UNIX-CONNECT:${path}`], data, 20_000);
    expect(sha(u.stdout)).toBe(sha(data));
  });
});

(PYTHON ? describe : describe.skip)('Python over IPv6', () => {
  test('TCP and UDP on ::1', async () => {
    const t = await serve(['serve', 'tcp', '0', '-H', '::1', '-e', 'upper']);
    const u = await serve(['serve', 'udp', '0', '-H', '::1', '-e', 'upper']);
    const r = await runPeer('python3', [
      '-c',
      `
import socket
with socket.create_connection(('::1', ${t.port}), timeout=5) as s:
    s.sendall(b'py tcp6'); s.shutdown(socket.SHUT_WR); print(s.recv(100).decode())
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u.settimeout(5)
u.sendto(b'py udp6', ('::1', ${u.port})); data, addr = u.recvfrom(100); print(data.decode(), addr[0])
`,
    ]);
    expect(r.stdout.toString()).toBe('PY TCP6\nPY UDP6 ::1\n');
  });
});
