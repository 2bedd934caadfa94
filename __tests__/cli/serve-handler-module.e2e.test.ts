/**
 * `sockit serve … --handler ./file.js`, black-box: class and function modules on
 * stream and datagram servers, `import … from 'sockit'` from anywhere, handler
 * failures, and every kind of bad module (exit 2, one line).
 */
import { describe, expect, test } from '@jest/globals';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Buffer } from 'node:buffer';

import { exchange } from '../helpers/loopback.js';
import { run } from '../helpers/cli.js';
import { dial, serve, stop, udpAsk, untilClosed, useServeTeardown } from './serve-helpers.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/handlers/', import.meta.url));
/** A fixture as a relative path from the test's working directory, as a user would type it. */
const fixture = (name: string): string => `./${relative(process.cwd(), join(FIXTURES, name))}`;

const { defer, udp } = useServeTeardown();

function outsideDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sk-mod-'));
  defer(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('handler classes', () => {
  test('a StreamRequestHandler subclass serves tcp', async () => {
    const s = await serve(['serve', 'tcp', '0', '-e', fixture('reverse-class.mjs')]);
    expect((await exchange({ port: s.port }, 'stressed')).toString()).toBe('desserts');
  });

  test("outside this package, `import … from 'sockit'` still resolves to sockit itself", async () => {
    const dir = outsideDir();
    const file = join(dir, 'reverse.js'); // .js with no package.json around: ESM by syntax
    copyFileSync(join(FIXTURES, 'reverse-class.mjs'), file);
    const s = await serve(['serve', 'tcp', '0', '-e', file]);
    expect((await exchange({ port: s.port }, 'abc')).toString()).toBe('cba');
    // a stream handler on a datagram server: each datagram is a little connection
    const u = await serve(['serve', 'udp', '0', '-e', file]);
    expect((await udpAsk(await udp(), u.port, 'live')).toString()).toBe('evil');
  });

  test('a DatagramRequestHandler serves udp, and is refused on tcp', async () => {
    const u = await serve(['serve', 'udp', '0', '-e', fixture('datagram-class.mjs')]);
    expect((await udpAsk(await udp(), u.port, 'hello')).toString()).toBe('5 bytes');
    const r = await run(['serve', 'tcp', '0', '-e', fixture('datagram-class.mjs')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `sockit: handler module '${fixture('datagram-class.mjs')}' exports a DatagramRequestHandler, which runs only on udp and unix --datagram servers — extend StreamRequestHandler to serve streams\n`,
    );
  });

  test('a BaseRequestHandler subclass gets the socket as request', async () => {
    const s = await serve(['serve', 'tcp', '0', '-e', fixture('base-class.mjs')]);
    const sock = await dial({ port: s.port });
    expect((await untilClosed(sock)).toString()).toBe('hello from base\n');
  });

  test('a failing handler is reported in one line and the server keeps serving', async () => {
    const name = fixture('failing.mjs');
    const s = await serve(['serve', 'tcp', '0', '-e', name]);
    const sock = await dial({ port: s.port });
    const closed = untilClosed(sock);
    sock.write('boom');
    await closed;
    await s.waitFor(
      new RegExp(
        `sockit: handler '${name.replace(/\./g, '\\.')}' failed for 127\\.0\\.0\\.1:\\d+: kaboom\\n`,
      ),
    );
    expect((await exchange({ port: s.port }, 'fine')).toString()).toBe('fine');
    expect(await stop(s)).toBe(0);
    expect(s.stderr()).toMatch(/stopped: 2 connections, 0 refused, 1 error,/);
    expect(s.stderr()).not.toMatch(/\n\s+at /); // no stack trace
  });
});

describe('handler functions', () => {
  test('(data, info) => reply, per chunk on tcp and per datagram on udp', async () => {
    const s = await serve(['serve', 'tcp', '0', '-e', fixture('shout-function.js')]);
    expect((await exchange({ port: s.port }, 'hi')).toString()).toBe('stream#0: HI');
    const u = await serve(['serve', 'udp', '0', '-e', fixture('shout-function.js')]);
    expect((await udpAsk(await udp(), u.port, 'yo')).toString()).toBe('datagram#0: YO');
  });

  test('an async function may return null for no reply', async () => {
    const u = await serve([
      'serve',
      'udp',
      '0',
      '-e',
      fixture('async-function.mjs'),
      '--json',
      '--max-requests',
      '2',
    ]);
    const c = await udp();
    c.send('silence', u.port, '127.0.0.1');
    await u.waitFor(/"bytesIn":7,"bytesOut":0/);
    expect(await udpAsk(c, u.port, Buffer.from([0, 1]))).toEqual(Buffer.from([60, 0, 1, 62]));
    expect(await u.exited).toBe(0);
  });
});

describe('bad handler modules: exit 2 and one line', () => {
  test.each([
    [
      'missing file',
      './no/such/handler.js',
      "sockit: handler module './no/such/handler.js' not found — no such file",
    ],
    [
      'no default export',
      fixture('no-default.mjs'),
      `sockit: handler module '${fixture('no-default.mjs')}' has no default export — export default a handler class or a function (data, info) => reply`,
    ],
    [
      'default export of the wrong kind',
      fixture('not-a-handler.mjs'),
      `sockit: handler module '${fixture('not-a-handler.mjs')}' — the default export is a number, not a handler class or a function`,
    ],
    [
      'class that is no handler',
      fixture('plain-class.mjs'),
      `sockit: handler module '${fixture('plain-class.mjs')}' — class NotAHandler does not extend sockit's StreamRequestHandler, DatagramRequestHandler or BaseRequestHandler`,
    ],
    [
      'module that throws on import',
      fixture('throws-on-load.mjs'),
      `sockit: cannot load handler module '${fixture('throws-on-load.mjs')}' — missing configuration`,
    ],
    [
      'not a .js/.mjs file',
      './handler.ts',
      "sockit: handler module './handler.ts' — must be an ES module file ending in .js or .mjs",
    ],
  ])('%s', async (_name, spec, message) => {
    const r = await run(['serve', 'tcp', '0', '-e', spec]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`${message}\n`);
    expect(r.stdout.length).toBe(0);
  });

  test('a syntax error says so, and how to find it', async () => {
    const dir = outsideDir();
    const file = join(dir, 'broken.mjs');
    writeFileSync(file, '// broken\nexport default function broken( {\n  return 1;\n}\n');
    const r = await run(['serve', 'udp', '0', '-e', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      new RegExp(
        `^sockit: cannot load handler module '${file}' — SyntaxError: .+ \\(node --check ${file} shows where\\)\\n$`,
      ),
    );
  });

  test('a directory is not a module', async () => {
    const dir = join(outsideDir(), 'handler.mjs');
    mkdirSync(dir);
    const r = await run(['serve', 'tcp', '0', '-e', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`sockit: handler module '${dir}' is not a file\n`);
  });
});
