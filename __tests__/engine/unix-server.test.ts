/**
 * Unix socket files (issue #2 item 4), for UnixStreamServer and UnixDatagramServer:
 * a stale socket is replaced, a live one never taken over, regular files and
 * symlinks never deleted, the file is 0600 (or socketMode) and removed on close.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  readFileSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { Buffer } from 'node:buffer';
import type { BaseServer } from '../../src/engine/base-server.js';
import { NetworkError, UnsupportedError, UsageError } from '../../src/net/errors.js';
import { UnixStreamServer } from '../../src/engine/stream-server.js';
import { UnixDatagramServer } from '../../src/engine/datagram-server.js';
import { EchoHandler } from '../../src/handlers/echo.js';
import { Teardown, exchange, tempSocketPath } from '../helpers/loopback.js';
import { unixDgramRequest } from '../helpers/matrix.js';
import { NO_UNIX_DGRAM, describeIf, eachIf, testIf, unixDgramMissing } from '../helpers/skip.js';

const PYTHON = '/usr/bin/python3';
const hasPython = existsSync(PYTHON);

const teardown = new Teardown();
afterEach(() => teardown.run());

type Kind = 'unix' | 'unix-dgram';
const KINDS: readonly Kind[] = ['unix', 'unix-dgram'];

function dir(): string {
  const tmp = tempSocketPath();
  teardown.add(tmp.cleanup);
  return tmp.dir;
}

function make(kind: Kind, path: string, socketMode?: number): BaseServer<unknown> {
  const server =
    kind === 'unix'
      ? new UnixStreamServer(path, EchoHandler, { socketMode })
      : new UnixDatagramServer(path, EchoHandler, { socketMode });
  teardown.add(() => server.serverClose({ graceMs: 0 }));
  return server as BaseServer<unknown>;
}

/** One request through the server at `path`. */
async function ask(kind: Kind, path: string, data: string, clientDir: string): Promise<string> {
  const reply =
    kind === 'unix'
      ? await exchange({ path }, data)
      : await unixDgramRequest(path, data, clientDir);
  return reply.toString();
}

async function serving(server: BaseServer<unknown>): Promise<void> {
  await server.listen();
  const running = server.serveForever(0.05);
  teardown.add(() => server.shutdown().then(() => running));
}

/** Leave a stale socket file at `path`: Python binds it and exits without unlinking. */
function staleSocket(path: string, type: 'SOCK_STREAM' | 'SOCK_DGRAM'): void {
  execFileSync(PYTHON, [
    '-c',
    `import socket, sys; s = socket.socket(socket.AF_UNIX, socket.${type}); s.bind(sys.argv[1])`,
    path,
  ]);
}

const pyTest = hasPython ? test : test.skip;

describe.each(KINDS)('%s socket files', (kind) => {
  // the tests that open a socket of this kind (unix-dgram needs the addon)
  const live = testIf(unixDgramMissing(kind), import.meta.url);
  (unixDgramMissing(kind) ? live : pyTest).each(['SOCK_STREAM', 'SOCK_DGRAM'] as const)(
    'a stale %s socket file is replaced',
    async (type) => {
      const d = dir();
      const path = join(d, 's.sock');
      staleSocket(path, type);
      expect(lstatSync(path).isSocket()).toBe(true);
      const server = make(kind, path);
      await serving(server);
      // Only a fresh socket answers: the stale file was unlinked and bound anew.
      expect(await ask(kind, path, 'fresh', d)).toBe('fresh');
    },
  );

  eachIf(
    KINDS,
    (otherKind) => unixDgramMissing(kind) ?? unixDgramMissing(otherKind),
    import.meta.url,
  )("a live %s server's socket is never taken over", async (otherKind) => {
    const d = dir();
    const path = join(d, 's.sock');
    const live = make(otherKind, path);
    await serving(live);
    const ino = lstatSync(path).ino;
    const second = make(kind, path);
    const err = await second.listen().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NetworkError);
    expect(err).toMatchObject({ code: 'SOCKIT_ERR_ADDRESS_IN_USE', exitCode: 1 });
    await second.serverClose(); // closing the refused server leaves the live one's file alone
    const why =
      otherKind === 'unix' ? 'a server is listening on it' : 'a datagram socket is bound to it';
    expect((err as Error).message).toBe(`address in use — unix://${path}: ${why}`);
    // The live server still owns its file and still answers.
    expect(lstatSync(path).ino).toBe(ino);
    expect(await ask(otherKind, path, 'still mine', d)).toBe('still mine');
  });

  test('a regular file at the path is never deleted', async () => {
    const path = join(dir(), 's.sock');
    writeFileSync(path, 'precious');
    await expect(make(kind, path).listen()).rejects.toMatchObject({
      code: 'SOCKIT_ERR_ADDRESS_IN_USE',
      exitCode: 1,
      message: `address in use — unix://${path}: a file that is not a socket is there, and sockit never deletes it`,
    });
    expect(readFileSync(path, 'utf8')).toBe('precious');
  });

  pyTest(
    'a symlink at the path is never deleted or followed (even to a stale socket)',
    async () => {
      const d = dir();
      const target = join(d, 'stale.sock');
      staleSocket(target, 'SOCK_STREAM');
      const path = join(d, 'link.sock');
      symlinkSync(target, path);
      await expect(make(kind, path).listen()).rejects.toMatchObject({
        code: 'SOCKIT_ERR_ADDRESS_IN_USE',
        message: `address in use — unix://${path}: it is a symbolic link, which sockit never follows or replaces`,
      });
      expect(lstatSync(path).isSymbolicLink()).toBe(true);
      expect(lstatSync(target).isSocket()).toBe(true);
    },
  );

  live('the socket file is 0600 by default and removed on serverClose()', async () => {
    const path = join(dir(), 's.sock');
    const server = make(kind, path);
    await server.listen();
    const st = statSync(path);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    await server.serverClose();
    expect(existsSync(path)).toBe(false);
  });

  live('socketMode sets the file mode', async () => {
    const path = join(dir(), 's.sock');
    const server = make(kind, path, 0o660);
    await server.listen();
    expect(statSync(path).mode & 0o777).toBe(0o660);
  });

  live('a missing directory is a NetworkError with errno ENOENT', async () => {
    const path = join(dir(), 'no', 'such', 's.sock');
    const err = await make(kind, path)
      .listen()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(NetworkError);
    expect(err).toMatchObject({ code: 'SOCKIT_ERR_BIND', errno: 'ENOENT', exitCode: 1 });
    const where = kind === 'unix' ? 'cannot listen on' : 'cannot bind unix://';
    expect((err as Error).message).toContain(where);
    expect((err as Error).message).toMatch(/— no such directory \(ENOENT\)$/);
  });

  test('a path too long for sun_path is a UsageError; an abstract name is unsupported', () => {
    const long = `/tmp/${'x'.repeat(120)}.sock`;
    const build = (p: string): unknown =>
      kind === 'unix'
        ? new UnixStreamServer(p, EchoHandler)
        : new UnixDatagramServer(p, EchoHandler);
    expect(() => build(long)).toThrow(UsageError);
    expect(() => build(long)).toThrow(/unix socket path too long — 130 bytes, the limit is 107/);
    expect(() => build('@abstract')).toThrow(UnsupportedError);
    expect(() => build('')).toThrow(UsageError);
  });
});

describeIf(NO_UNIX_DGRAM, import.meta.url)('UnixDatagramServer socket file ownership', () => {
  // (A stream server's file is unlinked by libuv itself when the listener closes,
  // whatever is at the path by then; the datagram server unlinks only its own.)
  pyTest('serverClose() never removes a socket file that is no longer its own', async () => {
    const path = join(dir(), 's.sock');
    const server = make('unix-dgram', path);
    await server.listen();
    unlinkSync(path);
    staleSocket(path, 'SOCK_STREAM'); // someone else's socket now (likely the same inode number)
    const ino = lstatSync(path).ino;
    await server.serverClose();
    expect(lstatSync(path).ino).toBe(ino);
  });
});

describeIf(NO_UNIX_DGRAM, import.meta.url)('UnixDatagramServer with Python', () => {
  pyTest(
    'exchanges datagrams with a Python AF_UNIX SOCK_DGRAM client bound to its own path',
    async () => {
      const d = dir();
      const path = join(d, 'srv.sock');
      const server = make('unix-dgram', path);
      await serving(server);
      const script = [
        'import socket, sys',
        's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
        's.bind(sys.argv[2])',
        's.settimeout(10)',
        "payloads = [b'hello', b'\\x00\\xff\\xfe binary \\x80', b'']",
        'for p in payloads:',
        '    s.sendto(p, sys.argv[1])',
        '    data, addr = s.recvfrom(65536)',
        '    sys.stdout.write(data.hex() + "\\n")',
      ].join('\n');
      const { spawn } = await import('node:child_process');
      const child = spawn(PYTHON, ['-c', script, path, join(d, 'py.sock')]);
      teardown.add(() => child.kill());
      const out: Buffer[] = [];
      child.stdout.on('data', (c: Buffer) => out.push(c));
      const err: Buffer[] = [];
      child.stderr.on('data', (c: Buffer) => err.push(c));
      const code = await new Promise((resolve) => child.once('close', resolve));
      expect(Buffer.concat(err).toString()).toBe('');
      expect(code).toBe(0);
      expect(Buffer.concat(out).toString()).toBe(
        ['68656c6c6f', '00fffe2062696e61727920' + '80', ''].join('\n') + '\n',
      );
    },
  );
});
