/**
 * Unix socket files: created 0600 whatever the caller's umask (stream and datagram,
 * `serve unix` and `recvfrom --unix`), `--socket-mode` honoured; a symlink at the
 * path is never followed (to a live socket, to a file, dangling), and a file that
 * is not a socket is never deleted: not before binding, not when stopping.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { BIN, run } from '../helpers/cli.js';
import { exchange, tempSocketPath } from '../helpers/loopback.js';
import { serve, stop, stopAll, waitForText } from '../cli/serve-helpers.js';
import { UnixStreamServer } from '../../src/engine/stream-server.js';
import { EchoHandler } from '../../src/handlers/echo.js';
import { NO_UNIX_DGRAM, eachIf, testIf } from '../helpers/skip.js';

const testDgram = testIf(NO_UNIX_DGRAM, import.meta.url);
/** The datagram rows need the unix-dgram addon. */
const needsAddon = (row: readonly unknown[]): string | undefined =>
  row[0] === 'datagram' ? NO_UNIX_DGRAM : undefined;

const cleanups: (() => void)[] = [];
const children: ChildProcessWithoutNullStreams[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      const closed = once(c, 'close');
      c.kill('SIGKILL');
      await closed;
    }
  }
  await stopAll();
  for (const fn of cleanups.splice(0)) fn();
});

function tmp(): { dir: string; path: string } {
  const t = tempSocketPath();
  cleanups.push(t.cleanup);
  return t;
}

const HAS_MKFIFO = spawnSync('mkfifo', ['--version'], { stdio: 'ignore' }).status === 0;

/** `sockit …args` with `umask 000` in force: the socket file must still be 0600. */
async function startUnderUmask000(args: string[]): Promise<{
  child: ChildProcessWithoutNullStreams;
  stderr: () => string;
}> {
  const child = spawn('sh', ['-c', 'umask 000 && exec "$0" "$@"', process.execPath, BIN, ...args], {
    env: { ...process.env, NO_COLOR: '1' },
    stdio: 'pipe',
  });
  children.push(child);
  let text = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (c: string) => (text += c));
  const stderr = (): string => text;
  await waitForText(child, stderr, /listening on unix:\/\//);
  return { child, stderr };
}

const modeOf = (path: string): number => lstatSync(path).mode & 0o7777;

describe('socket file modes', () => {
  eachIf<[string, string[]]>(
    [
      ['stream', [] as string[]],
      ['datagram', ['--datagram']],
    ],
    needsAddon,
    import.meta.url,
  )('serve unix (%s) under umask 000: the socket is 0600', async (_kind, extra) => {
    const { path } = tmp();
    const s = await startUnderUmask000(['serve', 'unix', path, ...extra]);
    expect(lstatSync(path).isSocket()).toBe(true);
    expect(modeOf(path)).toBe(0o600);
    s.child.kill('SIGTERM');
    await once(s.child, 'close');
    expect(existsSync(path)).toBe(false);
  });

  testDgram('recvfrom --unix under umask 000: the socket is 0600', async () => {
    const { path } = tmp();
    await startUnderUmask000(['recvfrom', '--unix', path]);
    expect(modeOf(path)).toBe(0o600);
  });

  eachIf<[string, string[], string, number]>(
    [
      ['stream', [] as string[], '660', 0o660],
      ['datagram', ['--datagram'], '0666', 0o666],
      ['stream', [] as string[], '0o640', 0o640],
    ],
    needsAddon,
    import.meta.url,
  )('serve unix (%s) --socket-mode %s', async (_kind, extra, mode, expected) => {
    const { path } = tmp();
    await serve(['serve', 'unix', path, ...extra, '--socket-mode', mode]);
    expect(modeOf(path)).toBe(expected);
  });

  testDgram(
    'the reply path of sendto --unix is private (0700 directory, 0600 socket)',
    async () => {
      const { path } = tmp();
      // a python unix datagram server that reports the sender's path and its modes
      const py = spawnSync('python3', ['-c', 'pass']);
      if (py.status !== 0) return; // python3 missing: nothing to check this with
      const server = spawn(
        'python3',
        [
          '-u',
          '-c',
          `
import os, socket, stat
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(${JSON.stringify(path)})
print('ready', flush=True)
data, addr = s.recvfrom(100)
m = stat.S_IMODE(os.lstat(addr).st_mode); d = stat.S_IMODE(os.lstat(os.path.dirname(addr)).st_mode)
s.sendto(b'%o %o' % (m, d), addr)
`,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      cleanups.push(() => server.kill('SIGKILL'));
      await once(server.stdout!, 'data');
      const r = await run(['sendto', '--unix', path, 'hi', '--wait', '5']);
      expect(r.stdout.toString().trim()).toBe('600 700');
    },
  );
});

describe('symlinks at the socket path are never followed', () => {
  test.each([
    ['stream', [] as string[]],
    ['datagram', ['--datagram']],
  ])('%s: a symlink to a live socket is refused; that server keeps its file', async (_k, extra) => {
    const { dir, path } = tmp();
    const live = join(dir, 'live.sock');
    const victim = await serve(['serve', 'unix', live, '-e', 'upper']);
    const before = lstatSync(live);
    symlinkSync(live, path);
    const r = await run(['serve', 'unix', path, ...extra]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^sockit: address in use — unix:\/\/.*symbolic link.*\n$/);
    expect(readlinkSync(path)).toBe(live);
    const after = lstatSync(live);
    expect([after.ino, after.mode]).toEqual([before.ino, before.mode]);
    expect((await exchange({ path: live }, 'still mine')).toString()).toBe('STILL MINE');
    expect(victim.child.exitCode).toBeNull();
  });

  test.each([
    ['serve unix', (p: string) => ['serve', 'unix', p]],
    ['serve unix --datagram', (p: string) => ['serve', 'unix', p, '--datagram']],
    ['serve unix --socket-mode 666', (p: string) => ['serve', 'unix', p, '--socket-mode', '666']],
    ['recvfrom --unix', (p: string) => ['recvfrom', '--unix', p]],
  ])('%s: a symlink to a regular file is refused; file untouched', async (_name, argv) => {
    const { dir, path } = tmp();
    const target = join(dir, 'precious.txt');
    writeFileSync(target, 'do not touch\n', { mode: 0o640 });
    const before = statSync(target);
    symlinkSync(target, path);
    const r = await run(argv(path));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^sockit: [^\n]*symbolic link[^\n]*\n$/);
    expect(readFileSync(target, 'utf8')).toBe('do not touch\n');
    expect(statSync(target).mode).toBe(before.mode);
    expect(statSync(target).mtimeMs).toBe(before.mtimeMs);
    expect(lstatSync(path).isSymbolicLink()).toBe(true);
  });

  test('a dangling symlink is refused, and nothing is created at its target', async () => {
    const { dir, path } = tmp();
    const target = join(dir, 'nowhere.sock');
    symlinkSync(target, path);
    for (const extra of [[], ['--datagram']]) {
      const r = await run(['serve', 'unix', path, ...extra]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/symbolic link/);
    }
    expect(existsSync(target)).toBe(false);
    expect(readlinkSync(path)).toBe(target);
  });
});

describe('a file that is not a socket is never deleted', () => {
  const kinds: [string, (p: string) => void][] = [
    ['a regular file', (p) => writeFileSync(p, 'data\n')],
    ['an empty regular file', (p) => writeFileSync(p, '')],
    ['a directory', (p) => mkdirSync(p)],
    ...(HAS_MKFIFO
      ? [['a FIFO', (p: string) => spawnSync('mkfifo', [p])] as [string, (p: string) => void]]
      : []),
  ];

  test.each(kinds)('%s at the path: refused (exit 1), left as it was', async (_kind, make) => {
    const { path } = tmp();
    make(path);
    const before = lstatSync(path);
    for (const argv of [
      ['serve', 'unix', path],
      ['serve', 'unix', path, '--datagram'],
      ['recvfrom', '--unix', path],
    ]) {
      const r = await run(argv);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^sockit: [^\n]+\n$/);
    }
    const after = lstatSync(path);
    expect([after.ino, after.mode, after.size]).toEqual([before.ino, before.mode, before.size]);
  });

  test('a file put in place of the socket while serving survives the stop', async () => {
    const { path } = tmp();
    const s = await serve(['serve', 'unix', path]);
    unlinkSync(path);
    writeFileSync(path, 'someone else now\n');
    expect(await stop(s)).toBe(0);
    expect(readFileSync(path, 'utf8')).toBe('someone else now\n');
    rmSync(path);
  });

  test("another server's socket put in place while serving survives the stop", async () => {
    const { dir, path } = tmp();
    const s = await serve(['serve', 'unix', path]);
    unlinkSync(path);
    const other = await serve(['serve', 'unix', path, '-e', 'upper']);
    expect(await stop(s)).toBe(0);
    expect(lstatSync(path).isSocket()).toBe(true);
    expect((await exchange({ path }, 'ok')).toString()).toBe('OK');
    expect(other.child.exitCode).toBeNull();
    expect(dir).toBeTruthy();
  });
});

describe('the alias protection holds for long paths too', () => {
  test("in a directory of 95 bytes, stopping a server never removes another server's live socket", async () => {
    const { dir } = tmp();
    const deep = join(dir, 'd'.repeat(Math.max(1, 95 - Buffer.byteLength(dir) - 1)));
    mkdirSync(deep);
    const path = join(deep, 'ab.sock');
    expect(Buffer.byteLength(deep)).toBeGreaterThanOrEqual(95);
    const s = await serve(['serve', 'unix', path]);
    unlinkSync(path);
    const other = await serve(['serve', 'unix', path, '-e', 'upper']);
    expect(await stop(s)).toBe(0);
    expect((await exchange({ path }, 'ok')).toString()).toBe('OK');
    expect(await stop(other)).toBe(0);
    expect(existsSync(path)).toBe(false);
  });
});

describe('--socket-mode never chmods by path', () => {
  test('a symlink swapped in right after the bind never gets its target chmod-ed (200 tries)', async () => {
    const { dir, path } = tmp();
    const target = join(dir, 'target');
    writeFileSync(target, 'private\n', { mode: 0o600 });
    // A swapper races 200 binds: whenever the socket appears, it puts a symlink to the
    // target in its place. The mode comes from the umask at the bind, so nothing is
    // ever chmod-ed through the symlink.
    const go = join(dir, 'go');
    writeFileSync(go, '');
    const loop = `while [ -e "$1" ]; do if [ -S "$2" ]; then rm -f "$2" && ln -s "$3" "$2"; fi; done`;
    const swapper = spawn('sh', ['-c', loop, 'sh', go, path, target], { stdio: 'ignore' });
    const swapperGone = once(swapper, 'close');
    try {
      for (let i = 0; i < 200; i++) {
        rmSync(path, { force: true });
        const server = new UnixStreamServer(path, EchoHandler, { socketMode: 0o666 });
        await server.listen().catch(() => undefined); // the swap came first: refused
        await server.serverClose();
        expect(modeOf(target)).toBe(0o600);
      }
    } finally {
      rmSync(go);
      await swapperGone;
    }
    expect(modeOf(target)).toBe(0o600);
  }, 60_000);
});
