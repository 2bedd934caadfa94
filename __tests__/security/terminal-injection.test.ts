/**
 * Nothing a peer or a user chooses reaches the operator's terminal as a control
 * sequence, and no value floods it: a unix datagram peer whose bound path holds ESC,
 * BEL, a newline and a C1 CSI (U+009B) cannot set the window title or forge a
 * `sockit:` line through `serve unix --datagram -v` or `recvfrom --unix -v`; a
 * worker's crash output is escaped (and is JSON events with --json); a 100,000-
 * character host name is cut in its error line.
 */
import { describe, expect, test } from '@jest/globals';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { join } from 'node:path';
import { Buffer } from 'node:buffer';
import { UnixDgramSocket } from '../../src/net/unix-dgram.js';
import { run } from '../helpers/cli.js';
import { exchange } from '../helpers/loopback.js';
import { jsonEvents, serve, stop, useServeTeardown } from '../cli/serve-helpers.js';

const { tmp, defer } = useServeTeardown();
const CRASH_DUMP = fileURLToPath(new URL('../fixtures/handlers/crash-dump.mjs', import.meta.url));
/** A window title, a bell, a forged log line and a C1 CSI that clears the screen. */
const EVIL = '\u001b]0;pwned\u0007\nsockit: forged \u009b2J';
const EVIL_SHOWN = '\\x1b]0;pwned\\x07\\x0asockit: forged \\x9b2J';

/** Nothing on stderr that a terminal would act on, and no line a peer wrote. */
function expectInert(stderr: string): void {
  // eslint-disable-next-line no-control-regex
  expect(stderr).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
  expect(stderr.split('\n').some((l) => l.startsWith('sockit: forged'))).toBe(false);
}

/** A unix datagram socket bound at a path holding {@link EVIL}; sends `data` to `to`. */
async function evilPeer(dir: string, to: string, data: string): Promise<Buffer> {
  const s = new UnixDgramSocket();
  defer(() => s.close());
  s.bind(join(dir, `${EVIL}.sock`));
  const reply = once(s, 'message') as Promise<[Buffer]>;
  await s.send(Buffer.from(data), to);
  return (await reply)[0];
}

describe('a unix datagram peer with controls in its path', () => {
  test('serve unix --datagram -v: the path is shown escaped, on its own line only', async () => {
    const { dir, path } = tmp();
    const s = await serve(['serve', 'unix', path, '--datagram', '-v']);
    expect((await evilPeer(dir, path, 'ping')).toString()).toBe('ping');
    await s.waitFor(/datagram from /);
    expect(await stop(s)).toBe(0);
    expectInert(s.stderr());
    expect(s.stderr()).toContain(`datagram from ${dir}/${EVIL_SHOWN}.sock: 4 bytes in`);
  });

  test('serve unix --datagram --json: the path in JSON, exact, with C1 as \\u009b', async () => {
    const { dir, path } = tmp();
    const s = await serve(['serve', 'unix', path, '--datagram', '--json']);
    await evilPeer(dir, path, 'ping');
    await s.waitFor(/"event":"request"/);
    expect(await stop(s)).toBe(0);
    expectInert(s.stderr());
    expect(s.stderr()).toContain('\\u009b2J');
    const request = jsonEvents(s.stderr()).find((e) => e.event === 'request');
    expect(request?.peer).toEqual({ path: join(dir, `${EVIL}.sock`) });
  });

  test('recvfrom --unix -v: the same', async () => {
    const { dir, path } = tmp();
    const rx = await serve(['recvfrom', '--unix', path, '-v', '--count', '1', '--echo']);
    await evilPeer(dir, path, 'ping');
    expect(await rx.exited).toBe(0);
    expectInert(rx.stderr());
    expect(rx.stderr()).toContain(`4 bytes from ${dir}/${EVIL_SHOWN}.sock\n`);
  });
});

describe("a worker's crash output", () => {
  test.each([
    ['forking', []],
    ['threading', []],
    ['forking', ['--json']],
    ['threading', ['--json']],
  ])('--mode %s %j: escaped, never raw', async (mode, flags) => {
    const s = await serve(['serve', 'tcp', '0', '-e', CRASH_DUMP, '-m', mode, '-w', '1', ...flags]);
    const payload = `${EVIL}\r\u0000\u00ff`;
    expect((await exchange({ port: s.port }, Buffer.from(payload, 'latin1'))).length).toBe(
      Buffer.byteLength(payload, 'latin1'),
    );
    await s.waitFor(/crash-dump\.mjs:8/);
    expect(await stop(s)).toBe(0);
    expectInert(s.stderr());
    if (flags.length > 0) {
      const output = jsonEvents(s.stderr()).filter((e) => e.event === 'worker-output');
      // (Node itself may add a warning line of its own in the worker: not ours to check)
      const ours = output
        .map((e) => e.text)
        .filter((t) => !/^\((node:\d+|Use `node)/.test(String(t)));
      expect(ours).toEqual([
        'Error: cannot parse \u001b]0;pwned\u0007',
        'sockit: forged \u009b2J\r\u0000ÿ',
        '    at handle (crash-dump.mjs:8)',
      ]);
    } else {
      expect(s.stderr()).toMatch(/^\[worker 1\] Error: cannot parse \\x1b\]0;pwned\\x07$/m);
      expect(s.stderr()).toMatch(/^\[worker 1\] sockit: forged \\x9b2J \\x00ÿ$/m);
    }
  });
});

describe('a huge value in an error', () => {
  const HOST = 'a'.repeat(100_000);

  test.each([
    [['connect', HOST, '80']],
    [['send', HOST, '80', 'x']],
    [['sendto', HOST, '80', 'x']],
    [['serve', 'tcp', '0', '-H', HOST]],
    [['connect', '-z', '127.0.0.1', `${HOST}`]],
  ])('%#: one short line with an ellipsis, exit 2', async (args) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')).toHaveLength(2);
    expect(r.stderr.length).toBeLessThan(600);
    expect(r.stderr).toContain('…');
  });
});
