/**
 * Without the optional unix-dgram addon (a machine without a C++ toolchain: npm drops
 * the addon whose build failed), the unix datagram commands exit 1 with one line that
 * says what is missing and how to get it, and everything else works. A preload makes
 * the addon absent (or present but never built) for the CLI process it runs in.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { run, startServer } from '../helpers/cli.js';
import { exchange, tempSocketPath, Teardown } from '../helpers/loopback.js';
import { udpRequest } from '../helpers/matrix.js';
import { NO_UNIX_DGRAM, testIf } from '../helpers/skip.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const PRELOAD = fileURLToPath(new URL('../fixtures/unix-dgram-missing.mjs', import.meta.url));
const HERE = /^[\w./-]+$/.test(ROOT) ? ROOT : `'${ROOT}'`;

const teardown = new Teardown();
afterEach(() => teardown.run());

function withAddon(mode: 'absent' | 'broken'): { env: Record<string, string> } {
  const preload = `${process.env.NODE_OPTIONS ?? ''} --import ${JSON.stringify(pathToFileURL(PRELOAD).href)}`;
  return { env: { NODE_OPTIONS: preload.trim(), SOCKIT_TEST_ADDON: mode } };
}

/** The unix datagram commands, each given a fresh socket path. */
const COMMANDS: [string, (path: string) => string[]][] = [
  ['serve unix --datagram', (p) => ['serve', 'unix', p, '--datagram']],
  ['recvfrom --unix', (p) => ['recvfrom', '--unix', p, '--count', '1']],
  ['sendto --unix', (p) => ['sendto', '--unix', p, 'hello']],
  ['connect --unix --datagram', (p) => ['connect', '--unix', p, '--datagram']],
];

describe('the unix-dgram addon is not installed', () => {
  const NOT_INSTALLED =
    'sockit: unix datagram sockets need the unix-dgram addon, which is not installed ' +
    '(building it needs a C++ toolchain) — to get it: ' +
    `apt install g++ make python3 && cd ${HERE} && npm install\n`;

  test.each(COMMANDS)(
    '%s: exit 1, one line saying what is missing and how to get it',
    async (_name, argv) => {
      const tmp = tempSocketPath('d.sock');
      teardown.add(tmp.cleanup);
      const r = await run(argv(tmp.path), { ...withAddon('absent'), input: 'hello\n' });
      expect(r.stderr).toBe(NOT_INSTALLED);
      expect(r.code).toBe(1);
      expect(r.stdout.length).toBe(0);
      expect(readdirSync(tmp.dir)).toEqual([]); // no socket file left behind
    },
  );

  test('everything else works: tcp, udp and unix stream servers', async () => {
    const tcp = await startServer(['serve', 'tcp', '0'], withAddon('absent'));
    const udp = await startServer(['serve', 'udp', '0', '-e', 'upper'], withAddon('absent'));
    const tmp = tempSocketPath('s.sock');
    teardown.add(tmp.cleanup);
    const unix = await startServer(['serve', 'unix', tmp.path], withAddon('absent'));
    for (const s of [tcp, udp, unix]) {
      teardown.add(async () => {
        s.child.kill('SIGTERM');
        if (s.child.exitCode === null) await once(s.child, 'close');
      });
    }
    expect((await exchange({ port: tcp.port }, 'over tcp')).toString()).toBe('over tcp');
    const reply = await udpRequest({ family: 'IPv4', address: '127.0.0.1', port: udp.port }, 'dg');
    expect(reply.toString()).toBe('DG');
    expect((await exchange({ path: tmp.path }, 'over unix')).toString()).toBe('over unix');
  });
});

describe('the unix-dgram addon is installed but does not load', () => {
  testIf(NO_UNIX_DGRAM, import.meta.url)(
    'serve unix --datagram: exit 1, one line naming the failure and the rebuild',
    async () => {
      const tmp = tempSocketPath('d.sock');
      teardown.add(tmp.cleanup);
      const r = await run(['serve', 'unix', tmp.path, '--datagram'], withAddon('broken'));
      expect(r.stderr).toBe(
        'sockit: unix datagram sockets need the unix-dgram addon, which does not load ' +
          '(Could not locate the bindings file) — to rebuild it: ' +
          `apt install g++ make python3 && cd ${HERE} && npm rebuild unix-dgram\n`,
      );
      expect(r.code).toBe(1);
    },
  );
});
