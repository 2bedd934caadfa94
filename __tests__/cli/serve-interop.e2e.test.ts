/**
 * `sockit serve` with other programs as clients: Python's socket module (TCP, UDP,
 * unix stream, unix datagram with its own bound path), nc and socat when installed.
 */
import { describe, expect, test } from '@jest/globals';
import { execFile, spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { serve, stop, useServeTeardown } from './serve-helpers.js';
import { NO_UNIX_DGRAM, testIf } from '../helpers/skip.js';

const testDgram = testIf(NO_UNIX_DGRAM, import.meta.url);

const PYTHON = ['/usr/bin/python3', 'python3'].find(
  (p) => spawnSync(p, ['-c', 'pass']).status === 0,
);
const has = (bin: string, ...args: string[]): boolean =>
  spawnSync(bin, args, { stdio: 'ignore' }).error === undefined;
const NC = has('nc', '-h');
const SOCAT = has('socat', '-V');

const { tmp } = useServeTeardown();

/** Run a program with stdin, bounded in time; resolves with stdout. */
function exec(bin: string, args: string[], input = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(bin, args, { timeout: 10_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${bin} failed: ${err.message} ${stderr}`)) : resolve(stdout),
    );
    child.stdin?.end(input);
  });
}

function python(code: string): Promise<string> {
  return exec(PYTHON!, ['-c', code]);
}

const pyTest = PYTHON ? test : test.skip;

describe('Python socket clients', () => {
  pyTest('TCP: sendall, shutdown(SHUT_WR), read to EOF (the seeds\u2019 client)', async () => {
    const s = await serve(['serve', 'tcp', '0', '-e', 'upper']);
    const out = await python(`
import socket
with socket.create_connection(('127.0.0.1', ${s.port})) as s:
    s.sendall(b'hello world\\n')
    s.shutdown(socket.SHUT_WR)
    data = b''
    while chunk := s.recv(4096):
        data += chunk
print(data)
`);
    expect(out).toBe("b'HELLO WORLD\\n'\n");
    expect(await stop(s)).toBe(0);
  });

  pyTest('UDP: two senders, an empty datagram and a 65,507-byte one', async () => {
    const s = await serve(['serve', 'udp', '0']);
    const out = await python(`
import socket
a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); a.settimeout(5)
b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); b.settimeout(5)
addr = ('127.0.0.1', ${s.port})
a.sendto(b'from a', addr); b.sendto(b'from b', addr)
print(a.recvfrom(100)[0], b.recvfrom(100)[0])
a.sendto(b'', addr); print(a.recvfrom(100)[0])
big = bytes(range(256)) * 255 + bytes(range(227))
a.sendto(big, addr); print(a.recvfrom(70000)[0] == big, len(big))
`);
    expect(out).toBe("b'from a' b'from b'\nb''\nTrue 65507\n");
  });

  pyTest('unix stream', async () => {
    const { path } = tmp();
    await serve(['serve', 'unix', path, '-e', 'lower']);
    const out = await python(`
import socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.settimeout(5)
s.connect(${JSON.stringify(path)}); s.sendall(b'ABC Def'); s.shutdown(socket.SHUT_WR)
print(s.recv(100))
`);
    expect(out).toBe("b'abc def'\n");
  });

  (NO_UNIX_DGRAM ? testDgram : pyTest)(
    'unix datagram: Python binds its own path to get the reply',
    async () => {
      const { dir, path } = tmp();
      await serve(['serve', 'unix', path, '--datagram', '-e', 'upper']);
      const out = await python(`
import socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.settimeout(5)
s.bind(${JSON.stringify(join(dir, 'client.sock'))})
s.sendto(b'dgram', ${JSON.stringify(path)})
data, addr = s.recvfrom(100)
print(data, addr)
`);
      expect(out).toBe(`b'DGRAM' ${path}\n`);
    },
  );
});

describe('nc and socat clients', () => {
  (NC ? test : test.skip)('nc -N over TCP and nc -u over UDP', async () => {
    const s = await serve(['serve', 'tcp', '0', '-e', 'upper']);
    expect(await exec('nc', ['-N', '127.0.0.1', String(s.port)], 'from nc\n')).toBe('FROM NC\n');
    const u = await serve(['serve', 'udp', '0', '-e', 'upper', '--once']);
    // nc -u never sees an EOF from UDP: -W 1 makes it exit after one reply
    expect(await exec('nc', ['-u', '-W', '1', '127.0.0.1', String(u.port)], 'udp nc\n')).toBe(
      'UDP NC\n',
    );
    expect(await u.exited).toBe(0);
  });

  (SOCAT ? test : test.skip)('socat over TCP, UDP and a unix socket', async () => {
    const s = await serve(['serve', 'tcp', '0']);
    expect(await exec('socat', ['-', `TCP:127.0.0.1:${s.port}`], 'socat tcp\n')).toBe(
      'socat tcp\n',
    );
    const u = await serve(['serve', 'udp', '0', '-e', 'upper']);
    expect(await exec('socat', ['-T', '1', '-', `UDP:127.0.0.1:${u.port}`], 'socat udp')).toBe(
      'SOCAT UDP',
    );
    const { path } = tmp();
    await serve(['serve', 'unix', path, '-e', 'upper']);
    expect(await exec('socat', ['-', `UNIX-CONNECT:${path}`], 'socat unix\n')).toBe('SOCAT UNIX\n');
  });
});
