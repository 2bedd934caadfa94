/**
 * The README's "Python socketserver's examples, one command each", checked against
 * the Python servers themselves (__tests__/fixtures/python-examples.py): the same
 * input to both, the replies byte-equal. TCP and unix clients are OpenBSD nc
 * WITHOUT -N (it never shuts down its write side, so it returns only because the
 * server closes, as Python's do); UDP goes through Python's own socket.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { Buffer } from 'node:buffer';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { run, startServer } from '../helpers/cli.js';
import { tempSocketPath } from '../helpers/loopback.js';
import { describeIf } from '../helpers/skip.js';
import { NC, PYTHON, killPeers, runPeer, startPeer } from './interop-helpers.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/python-examples.py', import.meta.url));

const missing = !PYTHON
  ? 'python3 is not on PATH (CI installs it: .ci/run)'
  : !NC
    ? 'OpenBSD nc is not on PATH (CI installs netcat-openbsd: .ci/run)'
    : undefined;

const cleanups: (() => void)[] = [];
afterEach(async () => {
  await killPeers();
  for (const fn of cleanups.splice(0)) fn();
});

/** Start one of the Python examples; resolves with the port (or path) it printed. */
async function python(kind: string, ...args: string[]): Promise<string> {
  const peer = await startPeer('python3', ['-u', FIXTURE, kind, ...args], {
    keepStdin: true,
    ready: /\S\n/,
  });
  return peer.stdout().toString().trim();
}

/** Start a sockit server; resolves with its port. */
async function sockit(args: string[]): Promise<number> {
  const s = await startServer(['serve', ...args]);
  cleanups.push(() => s.child.kill('SIGKILL'));
  return s.port;
}

/** `nc [args] target` with `input` on stdin, no -N: it must return by itself. */
async function nc(target: string[], input: string | Buffer): Promise<Buffer> {
  const r = await runPeer('nc', target, input, 5000);
  expect({ target, input, code: r.code, stderr: r.stderr }).toEqual({
    target,
    input,
    code: 0,
    stderr: '',
  });
  return r.stdout;
}

/** The commands the README, `serve --help` and the man page give for each example. */
const COMMANDS = {
  tcp: 'sockit serve tcp 9999 -e upper --first-read --strip',
  line: 'sockit serve tcp 9999 -e upper --first-line --strip',
  udp: 'sockit serve udp 9999 -e upper --strip',
  threaded: 'sockit serve tcp 9999 -e threaded-echo -m threading --first-read',
} as const;

/** A command's arguments after `sockit serve <transport> 9999`. */
const flagsOf = (command: string): string[] => command.split(' ').slice(4);

const INPUTS = [
  'hello world\n',
  '  Mixed Case\t\r\n',
  'no newline',
  'two lines\nsecond line\n',
  'héllo wörld ÿ\n',
  '\n',
  `${'x'.repeat(1000)}\n`,
];

describeIf(missing, import.meta.url)("Python socketserver's examples, byte for byte", () => {
  test.each([
    ['MyTCPHandler', 'tcp'],
    ['StreamRequestHandler variant', 'line'],
  ] as const)(
    'TCPServer with %s, nc without -N',
    async (_name, kind) => {
      const py = await python(kind);
      const ours = await sockit(['tcp', '0', ...flagsOf(COMMANDS[kind])]);
      // readline() waits for a newline or EOF, and nc without -N sends no EOF: Python's
      // server would wait as long as ours, so the line example gets lines only
      const inputs = kind === 'line' ? INPUTS.filter((i) => i.includes('\n')) : INPUTS;
      for (const input of inputs) {
        const want = await nc(['127.0.0.1', py], input);
        const got = await nc(['127.0.0.1', String(ours)], input);
        expect({ input, reply: got.toString('latin1') }).toEqual({
          input,
          reply: want.toString('latin1'),
        });
      }
    },
    60_000,
  );

  test('UnixStreamServer with MyTCPHandler, nc -U without -N', async () => {
    const a = tempSocketPath('py.sock');
    const b = tempSocketPath('ours.sock');
    cleanups.push(a.cleanup, b.cleanup);
    await python('unix', a.path);
    await startServer(['serve', 'unix', b.path, ...flagsOf(COMMANDS.tcp)]).then((s) =>
      cleanups.unshift(() => s.child.kill('SIGKILL')),
    );
    for (const input of INPUTS) {
      const want = await nc(['-U', a.path], input);
      expect((await nc(['-U', b.path], input)).equals(want)).toBe(true);
    }
  }, 60_000);

  test('UDPServer with MyUDPHandler, through Python socket', async () => {
    const py = await python('udp');
    const ours = await sockit(['udp', '0', ...flagsOf(COMMANDS.udp)]);
    const hex = [...INPUTS, '', ' \t\x0b\x0c ', 'a\nb\n'].map((s) =>
      Buffer.from(s).toString('hex'),
    );
    const ask = async (port: string): Promise<string> => {
      const r = await runPeer('python3', [FIXTURE, 'udp-client', port, ...hex], '', 10_000);
      expect(r.code).toBe(0);
      return r.stdout.toString();
    };
    const want = await ask(py);
    expect(want.split('\n')).toHaveLength(hex.length + 1); // every datagram got its reply
    expect(await ask(String(ours))).toBe(want);
  }, 60_000);

  test('ThreadingMixIn TCPServer: "{thread name}: {data}", equal but for the name', async () => {
    const py = await python('threaded');
    const ours = await sockit(['tcp', '0', ...flagsOf(COMMANDS.threaded), '-w', '2']);
    for (const input of ['Hello World 1', 'two\nlines\n']) {
      const want = (await nc(['127.0.0.1', py], input)).toString();
      const got = (await nc(['127.0.0.1', String(ours)], input)).toString();
      // Python 3.10+ names its threads "Thread-1 (process_request_thread)"; ours are "Thread-2"
      expect(want).toMatch(/^Thread-\d+(?: \(process_request_thread\))?: /);
      expect(got).toMatch(/^Thread-\d+: /);
      expect(got.replace(/^[^:]*: /, '')).toBe(want.replace(/^[^:]*: /, ''));
    }
  }, 60_000);
});

describe('the README, serve --help and the man page give these commands', () => {
  const README = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
  const MAN = readFileSync(fileURLToPath(new URL('../../man/sockit.1', import.meta.url)), 'utf8');
  test.each(Object.entries(COMMANDS))('%s: %s', async (_kind, command) => {
    expect(README).toContain(`| \`${command}\` |`);
    expect(MAN).toContain(command.replace(/-/g, '\\-'));
    const help = await run(['serve', '--help']);
    expect(help.stdout.toString()).toContain(`  ${command}\n`);
  });

  test('the options are refused where they shape nothing, one line, exit 2', async () => {
    const r = await run(['serve', 'tcp', '0', '-e', 'daytime', '--strip']);
    expect({ code: r.code, stdout: r.stdout.length }).toEqual({ code: 2, stdout: 0 });
    expect(r.stderr).toMatch(
      /^sockit: --strip shapes the replies of echo, upper-case, lower and threaded-echo — not of -e daytime\n$/,
    );
    const both = await run(['serve', 'tcp', '0', '--first-read', '--first-line']);
    expect(both.code).toBe(2);
    expect(both.stderr.trim().split('\n')).toHaveLength(1);
  });
});
