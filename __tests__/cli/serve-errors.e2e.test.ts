/**
 * `sockit serve` failures, black-box: one `sockit: …` line on stderr, nothing on
 * stdout, exit 2 for bad input and 1 for what the system refused.
 */
import { describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { once } from 'node:events';
import { writeFileSync, existsSync, readFileSync, mkdirSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, finish, run } from '../helpers/cli.js';
import { useServeTeardown } from './serve-helpers.js';
import { NOBODY, cliAsNobodyMissing, lowPortsOpenToAll, testIf } from '../helpers/skip.js';

const { defer, tmp } = useServeTeardown();

async function expectFailure(args: string[], code: number, message: string | RegExp) {
  const r = await run(args);
  expect(r.stdout.length).toBe(0);
  expect(r.code).toBe(code);
  // exactly one line, no stack trace
  expect(r.stderr.split('\n')).toHaveLength(2);
  if (typeof message === 'string') expect(r.stderr).toBe(`${message}\n`);
  else expect(r.stderr).toMatch(message);
}

describe('bad input: exit 2', () => {
  test.each([
    [
      'port out of range',
      ['serve', 'tcp', '70000'],
      /^sockit: .*'70000'.* out of range 0-65535\n$/,
    ],
    ['-p out of range', ['serve', 'udp', '-p', '65536'], /out of range 0-65535/],
    [
      'two different ports',
      ['serve', 'tcp', '1234', '-p', '4321'],
      'sockit: two different ports given — 1234 and -p 4321',
    ],
    [
      'unknown handler',
      ['serve', 'tcp', '0', '-e', 'nope'],
      /^sockit: unknown handler 'nope' — expected one of echo, upper-case, .*\.\/my-handler\.js\n$/,
    ],
    [
      'unknown mode',
      ['serve', 'tcp', '0', '-m', 'fibers'],
      /Allowed choices are async, sequential, threading, forking/,
    ],
    [
      'bad CIDR',
      ['serve', 'tcp', '0', '--allow', '10.0.0.0/33'],
      "sockit: invalid CIDR '10.0.0.0/33' — prefix length must be 0-32",
    ],
    [
      'bad CIDR in --deny',
      ['serve', 'udp', '0', '--deny', 'not-an-ip'],
      "sockit: invalid CIDR 'not-an-ip' — not an IPv4 or IPv6 address",
    ],
    [
      'malformed host',
      ['serve', 'tcp', '0', '-H', 'bad host'],
      /a host has no spaces or control characters/,
    ],
    [
      'host that does not resolve',
      ['serve', 'tcp', '0', '-H', 'no-such-host.invalid'],
      /^sockit: bad host 'no-such-host\.invalid' — it does not resolve \(E[A-Z_]+\)\n$/,
    ],
    [
      '--once with --max-requests',
      ['serve', 'tcp', '0', '--once', '--max-requests', '2'],
      /cannot be used with/,
    ],
    ['-v with -q', ['serve', 'tcp', '0', '-v', '-q'], /cannot be used with/],
    ['--max-requests 0', ['serve', 'tcp', '0', '--max-requests', '0'], /whole number ≥ 1/],
    ['bad duration', ['serve', 'tcp', '0', '--idle-timeout', 'soon'], /expected a duration/],
    ['bad socket mode', ['serve', 'unix', '/tmp/x.sock', '--socket-mode', '9'], /octal file mode/],
    ['udp has no --backlog', ['serve', 'udp', '0', '--backlog', '5'], /unknown option '--backlog'/],
    [
      'stream options on unix --datagram',
      ['serve', 'unix', '/tmp/x.sock', '--datagram', '--max-conns', '3'],
      'sockit: --max-conns applies to stream sockets — not to unix --datagram',
    ],
  ])('%s', async (_name, args, message) => {
    await expectFailure(args as string[], 2, message as string | RegExp);
  });

  test('unix path too long', async () => {
    const path = `/tmp/${'a'.repeat(110)}.sock`;
    await expectFailure(
      ['serve', 'unix', path],
      2,
      `sockit: unix socket path too long — ${path.length} bytes, the limit is 107: ${path}`,
    );
  });

  test('unix path in a missing directory', async () => {
    const { dir } = tmp();
    const path = join(dir, 'missing', 's.sock');
    await expectFailure(
      ['serve', 'unix', path],
      2,
      `sockit: cannot listen on unix://${path} — directory ${join(dir, 'missing')} does not exist`,
    );
  });

  test('unix path whose directory is a file', async () => {
    const { dir } = tmp();
    writeFileSync(join(dir, 'file'), 'x');
    const path = join(dir, 'file', 's.sock');
    await expectFailure(
      ['serve', 'unix', path],
      2,
      `sockit: cannot listen on unix://${path} — ${join(dir, 'file')} is not a directory`,
    );
  });
});

describe('the system says no: exit 1', () => {
  test('address in use (tcp)', async () => {
    const taken: Server = createServer();
    taken.listen(0, '127.0.0.1');
    await once(taken, 'listening');
    defer(() => new Promise((resolve) => taken.close(resolve)));
    const port = (taken.address() as { port: number }).port;
    await expectFailure(
      ['serve', 'tcp', String(port)],
      1,
      `sockit: cannot listen on 127.0.0.1:${port} — address in use (EADDRINUSE)`,
    );
  });

  test('address not available on this machine', async () => {
    await expectFailure(
      ['serve', 'tcp', '0', '-H', '192.0.2.1'],
      1,
      /^sockit: cannot listen on 192\.0\.2\.1:0 — address not available on this machine \(EADDRNOTAVAIL\)\n$/,
    );
  });

  test('a regular file at the unix path is never replaced', async () => {
    const { path } = tmp();
    writeFileSync(path, 'keep me');
    await expectFailure(
      ['serve', 'unix', path],
      1,
      /^sockit: address in use — unix:\/\/.*not a socket/,
    );
    expect(readFileSync(path, 'utf8')).toBe('keep me');
  });

  // as nobody: root starts the CLI with uid/gid 65534 (skipped, with the reason, where it cannot)
  const asNobody = async (args: string[]) =>
    finish(
      spawn(process.execPath, [BIN, ...args], {
        ...NOBODY,
        env: { ...process.env, NO_COLOR: '1' },
        stdio: 'pipe',
      }),
    );
  const nobody = cliAsNobodyMissing();

  testIf(nobody ?? lowPortsOpenToAll(), import.meta.url)(
    'permission denied: port 80, as nobody',
    async () => {
      const r = await asNobody(['serve', 'tcp', '80']);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('sockit: cannot listen on 127.0.0.1:80 — permission denied (EACCES)\n');
    },
  );

  testIf(nobody, import.meta.url)(
    'permission denied: a read-only directory, as nobody',
    async () => {
      const { dir } = tmp();
      const ro = join(dir, 'ro');
      mkdirSync(ro);
      chmodSync(dir, 0o755);
      chmodSync(ro, 0o555);
      const u = await asNobody(['serve', 'unix', join(ro, 's.sock')]);
      expect(u.code).toBe(1);
      expect(u.stderr).toMatch(/permission denied \(EACCES\)\n$/);
      expect(existsSync(join(ro, 's.sock'))).toBe(false);
    },
  );
});
