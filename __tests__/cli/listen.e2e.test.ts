/**
 * `sockit listen`, netcat's listen mode, against real clients: one connection at
 * a time, stdin to the connection open at that moment, half-close both ways,
 * exit after the first connection (1 on a reset) unless -k; UDP and unix
 * datagrams with Python senders; `sockit -l` as netcat's habit.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PYTHON } from '../interop/interop-helpers.js';
import { LineReader, dial, killStarted, startProcess, startSockit } from './listen-helpers.js';

const dirs: string[] = [];
afterEach(async () => {
  await killStarted();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sk-'));
  dirs.push(dir);
  return dir;
}

describe('sockit listen (stream)', () => {
  test('-k serves three clients in a row; stdin goes to the connection open at that moment', async () => {
    const server = await startSockit(['listen', '-k', '0']);
    let expected = '';
    for (let i = 1; i <= 3; i++) {
      if (i === 2) server.child.stdin!.write('typed-before-2\n'); // nobody connected: it waits
      const client = await dial(server.port);
      const lines = new LineReader(client);
      client.write(`from-client-${i}\n`);
      expected += `from-client-${i}\n`;
      await server.stdoutAtLeast(expected.length);
      if (i === 2) expect(await lines.next()).toBe('typed-before-2');
      server.child.stdin!.write(`to-client-${i}\n`);
      expect(await lines.next()).toBe(`to-client-${i}`);
      client.end();
      await once(client, 'end'); // listen closed its side once the client did
    }
    expect(server.stdout().toString()).toBe(expected);
    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
  });

  test('a second client waits while the first is served: nothing interleaves', async () => {
    const server = await startSockit(['listen', '-k', '0']);
    const a = await dial(server.port);
    const aLines = new LineReader(a);
    a.write('A1\n');
    await server.stdoutAtLeast(3);
    const b = await dial(server.port);
    const bLines = new LineReader(b);
    b.end('B1\n'); // waits: B's bytes and EOF stay queued until A is done
    server.child.stdin!.write('for-A\n');
    expect(await aLines.next()).toBe('for-A');
    a.write('A2\n');
    await server.stdoutAtLeast(6);
    expect(server.stdout().toString()).toBe('A1\nA2\n');
    a.end();
    await once(a, 'end');
    await server.stdoutAtLeast(9);
    expect(server.stdout().toString()).toBe('A1\nA2\nB1\n');
    // B half-closed first: its connection is done once its bytes are out, stdin never reached it
    await expect(bLines.next()).rejects.toThrow(/stream ended/);
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
  });

  test('without -k: exits 0 after the first connection, a waiting client is closed', async () => {
    const server = await startSockit(['listen', '0']);
    const a = await dial(server.port);
    const b = await dial(server.port);
    const bClosed = once(b, 'end');
    a.end('only A\n');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(server.stdout().toString()).toBe('only A\n');
    await bClosed;
  });

  test('without -k: exits 1 when its connection is reset', async () => {
    const server = await startSockit(['listen', '0']);
    const a = await dial(server.port);
    a.write('before the reset\n');
    await server.stdoutAtLeast(17);
    a.resetAndDestroy();
    expect(await server.exited).toEqual({ code: 1, signal: null });
    expect(server.stderr()).toMatch(/^sockit: the connection was reset by the peer/m);
  });

  test("stdin's EOF half-closes the connection; the peer's bytes still print until it closes", async () => {
    const server = await startSockit(['listen', '0']);
    server.child.stdin!.end('hello\n');
    const client = await dial(server.port);
    const chunks: Buffer[] = [];
    client.on('data', (c: Buffer) => chunks.push(c));
    await once(client, 'end'); // sockit's FIN, after stdin's bytes
    expect(Buffer.concat(chunks).toString()).toBe('hello\n');
    client.end('after the EOF\n');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(server.stdout().toString()).toBe('after the EOF\n');
  });

  test('-U: a unix stream socket', async () => {
    const path = join(tempDir(), 's.sock');
    const server = await startSockit(['listen', '-U', path]);
    expect(server.stderr()).toContain(`listening on unix://${path}`);
    const client = await dial(path);
    client.end('over unix\n');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(server.stdout().toString()).toBe('over unix\n');
  });

  test.each([
    [['-l', '0'], 'tcp'],
    [['-lk', '0'], 'tcp'],
    [['-lu', '0'], 'udp'],
    [['-v', '-l', '0'], 'tcp'],
  ])("sockit %j is netcat's habit for sockit listen", async (args, scheme) => {
    const server = await startSockit(args);
    expect(server.stderr()).toMatch(
      new RegExp(`^listening on ${scheme}://127\\.0\\.0\\.1:\\d+$`, 'm'),
    );
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
  });
});

/** A Python datagram sender: sends `send`, then prints the `count` datagrams it gets back. */
const SENDER = `
import socket, sys
family, addr, send, count, own = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
if family == 'unix':
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(own)
    to = addr
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    to = ('127.0.0.1', int(addr))
s.settimeout(20)
s.sendto(send.encode(), to)
for _ in range(count):
    data, _ = s.recvfrom(65535)
    sys.stdout.write(repr(data) + '\\n')
    sys.stdout.flush()
`;

function sender(family: 'udp' | 'unix', addr: string, send: string, count: number, own = '') {
  return startProcess('python3', ['-c', SENDER, family, addr, send, String(count), own]);
}

(PYTHON ? describe : describe.skip)('sockit listen (datagrams, Python senders)', () => {
  test('-u: datagrams to stdout, stdin to the most recent sender', async () => {
    const server = await startSockit(['listen', '-u', '-v', '0']);
    expect(server.stderr()).toMatch(/stdin goes to the most recent sender, once a first datagram/);
    const a = sender('udp', String(server.port), 'from A\n', 1);
    await server.stdoutAtLeast(7);
    server.child.stdin!.write('to A\n');
    expect((await a.exited).code).toBe(0);
    expect(a.stdout().toString()).toBe("b'to A\\n'\n");
    const b = sender('udp', String(server.port), 'from B\n', 1);
    await server.stdoutAtLeast(14);
    server.child.stdin!.write('to B\n');
    expect((await b.exited).code).toBe(0);
    expect(b.stdout().toString()).toBe("b'to B\\n'\n");
    expect(server.stdout().toString()).toBe('from A\nfrom B\n');
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
  });

  test('-u --lines: one datagram per line of stdin', async () => {
    const server = await startSockit(['listen', '-u', '--lines', '0']);
    const a = sender('udp', String(server.port), 'hi\n', 3);
    await server.stdoutAtLeast(3);
    server.child.stdin!.end('one\ntwo\nlast without newline');
    expect((await a.exited).code).toBe(0);
    expect(a.stdout().toString()).toBe("b'one\\n'\nb'two\\n'\nb'last without newline'\n");
  });

  test('-U --datagram: a unix datagram socket', async () => {
    const dir = tempDir();
    const path = join(dir, 'l.sock');
    const server = await startSockit(['listen', '-U', path, '--datagram']);
    expect(server.stderr()).toContain(`listening on unix://${path}`);
    const a = sender('unix', path, 'over unix dgram\n', 1, join(dir, 'c.sock'));
    await server.stdoutAtLeast(16);
    server.child.stdin!.write('back over unix\n');
    expect((await a.exited).code).toBe(0);
    expect(a.stdout().toString()).toBe("b'back over unix\\n'\n");
    expect(server.stdout().toString()).toBe('over unix dgram\n');
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
  });
});
