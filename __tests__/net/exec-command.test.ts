/**
 * The program behind --exec before it runs (words, start-up check, environment)
 * and while it runs (net/child-run.ts): its process group ends with it, a child
 * that ignores SIGTERM is killed after the grace, a child that never reads stops
 * the connection, and a datagram's answer is cut at the limit.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { Buffer } from 'node:buffer';
import {
  checkProgram,
  execCommand,
  execEnv,
  shellCommand,
  splitArgv,
} from '../../src/net/exec-command.js';
import {
  ChildRun,
  describeExit,
  exitCodeOf,
  linkStream,
  liveChildren,
  runWithInput,
} from '../../src/net/child-run.js';
import { ERR } from '../../src/net/errors.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

describe('splitArgv', () => {
  test.each([
    ['/bin/cat', ['/bin/cat']],
    ['  tr  a-z   A-Z ', ['tr', 'a-z', 'A-Z']],
    ["printf '%s\\n' 'two words'", ['printf', '%s\\n', 'two words']],
    ['echo "a \\"quoted\\" $HOME" x', ['echo', 'a "quoted" $HOME', 'x']],
    ['echo a\\ b \\$x', ['echo', 'a b', '$x']],
    ['x \'\' ""', ['x', '', '']],
    ['a"b"c', ['abc']],
    ['', []],
  ])('%j', (text, words) => {
    expect(splitArgv(text)).toEqual(words);
  });

  test('an unterminated quote is a one-line usage error', () => {
    expect(() => splitArgv("echo 'oops")).toThrow(
      expect.objectContaining({
        code: ERR.EXEC,
        exitCode: 2,
        message: "unterminated ' quote in 'echo 'oops'",
      }),
    );
  });

  test('execCommand and shellCommand', () => {
    expect(execCommand('tr a-z A-Z')).toEqual({
      file: 'tr',
      args: ['a-z', 'A-Z'],
      display: 'tr a-z A-Z',
    });
    expect(shellCommand('echo $X')).toEqual({
      file: '/bin/sh',
      args: ['-c', 'echo $X'],
      display: 'echo $X',
    });
    expect(() => execCommand('   ')).toThrow(/empty program/);
    expect(() => shellCommand('')).toThrow(/empty command/);
  });
});

describe('checkProgram', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sk-exec-'));
  const script = join(dir, 'run.sh');
  const plain = join(dir, 'plain.txt');
  beforeAll(() => {
    writeFileSync(script, '#!/bin/sh\necho hi\n');
    chmodSync(script, 0o755);
    writeFileSync(plain, 'not a program\n');
    chmodSync(plain, 0o644);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('a path that runs, and a name found along PATH', async () => {
    expect(await checkProgram(execCommand(script))).toBe(script);
    expect(await checkProgram(execCommand('run.sh'), { PATH: `/nowhere:${dir}` })).toBe(script);
    expect(await checkProgram(shellCommand('anything'))).toBe('/bin/sh');
  });

  test.each([
    [join(dir, 'missing'), `cannot run '${join(dir, 'missing')}' — no such file`],
    [plain, `cannot run '${plain}' — not executable (no x permission)`],
    [dir, `cannot run '${dir}' — not a file`],
    [
      'no-such-program-xyz',
      "cannot run 'no-such-program-xyz' — no such program in PATH (give a path such as ./no-such-program-xyz)",
    ],
  ])('%s is refused at start', async (file, message) => {
    await expect(checkProgram(execCommand(file))).rejects.toMatchObject({
      code: ERR.EXEC,
      exitCode: 2,
      message,
    });
  });
});

describe('execEnv', () => {
  test('inet and unix peers', () => {
    const inet = execEnv(
      {
        remote: { family: 'IPv6', address: '::1', port: 4000 },
        local: { family: 'IPv6', address: '::1', port: 7000 },
        proto: 'tcp',
      },
      { KEEP: 'me' },
    );
    expect(inet).toEqual({
      KEEP: 'me',
      SOCKIT_REMOTE_ADDR: '::1',
      SOCKIT_REMOTE_PORT: '4000',
      SOCKIT_LOCAL_ADDR: '::1',
      SOCKIT_LOCAL_PORT: '7000',
      SOCKIT_PROTO: 'tcp',
    });
    const unix = execEnv(
      {
        remote: { family: 'unix', path: '' },
        local: { family: 'unix', path: '/tmp/s' },
        proto: 'unix-dgram',
      },
      {},
    );
    expect(unix).toMatchObject({
      SOCKIT_REMOTE_ADDR: '',
      SOCKIT_REMOTE_PORT: '',
      SOCKIT_LOCAL_ADDR: '/tmp/s',
      SOCKIT_PROTO: 'unix-dgram',
    });
  });

  test('exit codes as a shell reports them', () => {
    expect(exitCodeOf({ code: 3, signal: null })).toBe(3);
    expect(exitCodeOf({ code: null, signal: 'SIGTERM' })).toBe(143);
    expect(exitCodeOf({ code: null, signal: 'SIGKILL' })).toBe(137);
    expect(describeExit({ code: 0, signal: null })).toBe('exited with code 0');
    expect(describeExit({ code: null, signal: 'SIGKILL' })).toBe('killed by SIGKILL');
  });
});

describe('ChildRun', () => {
  test('what the child left in its process group goes when it exits', async () => {
    // the background sleep holds the child's stdout: 'close' comes once it is dead
    const run = new ChildRun(shellCommand('sleep 60 & echo $!'), process.env);
    const chunks: Buffer[] = [];
    run.child.stdout.on('data', (c: Buffer) => chunks.push(c));
    run.child.stdin.end();
    await once(run.child, 'close');
    const orphan = Number(Buffer.concat(chunks).toString().trim());
    expect(orphan).toBeGreaterThan(0);
    expect(await run.exited).toEqual({ code: 0, signal: null });
    // dead (a zombie until init reaps it): its output closed as it exited, and the
    // kernel may need a moment more to mark it so
    expect(['gone', 'Z']).toContain(await settledState(orphan));
  });

  test('a child that ignores SIGTERM is killed after the grace', async () => {
    const run = new ChildRun(shellCommand('trap "" TERM; echo ready; exec sleep 60'), process.env);
    run.child.stdin.end();
    await once(run.child.stdout, 'data');
    const started = performance.now();
    expect(await run.terminate(300)).toEqual({ code: null, signal: 'SIGKILL' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(280);
    expect(liveChildren()).toBe(0);
  });

  test('a program that cannot start rejects its exit', async () => {
    const run = new ChildRun(execCommand('/no/such/file'), process.env);
    await expect(run.exited).rejects.toMatchObject({ code: 'ENOENT' });
    expect(run.pid).toBeUndefined();
  });

  test('a datagram answer is cut at the limit, the rest counted', async () => {
    const run = new ChildRun(shellCommand('cat; head -c 100000 /dev/zero'), process.env);
    const answer = await runWithInput(run, Buffer.from('in\n'), 65507);
    expect(answer.output.length).toBe(65507);
    expect(answer.output.subarray(0, 3).toString()).toBe('in\n');
    expect(answer.dropped).toBe(100003 - 65507);
    expect(answer.status).toEqual({ code: 0, signal: null });
  });
});

/** The state of `pid` once it is gone or a zombie, or what it is after 3 s. */
async function settledState(pid: number): Promise<string> {
  const deadline = performance.now() + 3000;
  for (let i = 0; i < 200; i++) {
    const state = stateOf(pid);
    if (state === 'gone' || state === 'Z' || performance.now() >= deadline) return state;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return stateOf(pid);
}

function stateOf(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]!;
  } catch {
    return 'gone';
  }
}

describe('linkStream', () => {
  async function pair(): Promise<[Socket, Socket, Server]> {
    const server = createServer({ allowHalfOpen: true });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as { port: number }).port;
    const client = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const [accepted] = (await once(server, 'connection')) as [Socket];
    await once(client, 'connect').catch(() => undefined);
    client.on('error', () => undefined); // a reset when a test destroys its end
    accepted.on('error', () => undefined);
    cleanups.push(() => {
      client.destroy();
      accepted.destroy();
      server.close();
    });
    return [client, accepted, server];
  }

  test('EOF passes both ways and the status comes back', async () => {
    const [client, accepted] = await pair();
    const run = new ChildRun(shellCommand('tr a-z A-Z; exit 4'), process.env);
    const done = linkStream(accepted, run, 1000);
    const chunks: Buffer[] = [];
    client.on('data', (c: Buffer) => chunks.push(c));
    client.end('hello\n');
    await once(client, 'end');
    expect(Buffer.concat(chunks).toString()).toBe('HELLO\n');
    expect(await done).toEqual({ code: 4, signal: null });
  });

  test('a child that never reads stops the connection: its bytes wait in the kernel, not here', async () => {
    const [client, accepted] = await pair();
    const run = new ChildRun(shellCommand('echo ready; exec sleep 60'), process.env);
    const done = linkStream(accepted, run, 300);
    await once(client, 'data'); // ready: the child runs and reads nothing
    const paused = once(accepted, 'pause');
    const chunk = Buffer.alloc(1 << 20);
    for (let i = 0; i < 32; i++) client.write(chunk); // 32 MiB offered
    await paused; // backpressure reached the socket
    expect(accepted.readableLength).toBeLessThan(1 << 20);
    expect(run.child.stdin.writableLength).toBeLessThan(1 << 20);
    expect(accepted.bytesRead).toBeLessThan(8 << 20);
    accepted.destroy(); // the connection closes: the child goes
    expect(await done).toEqual({ code: null, signal: 'SIGTERM' });
  });
});
