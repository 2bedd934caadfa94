/**
 * `sockit serve` and signals, black-box: SIGINT/SIGTERM stop accepting, let open
 * requests finish (bounded by --drain-timeout), remove the unix socket, print a
 * summary and exit 0; a second SIGINT stops at once with 130.
 */
import { describe, expect, test } from '@jest/globals';
import { existsSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { exchange, tempSocketPath } from '../helpers/loopback.js';
import { dial, serve, untilClosed, useServeTeardown } from './serve-helpers.js';

const { defer } = useServeTeardown();

describe('stopping sockit serve', () => {
  test('SIGTERM: refuse new clients, finish the open one, summary, exit 0', async () => {
    const s = await serve(['serve', 'tcp', '0', '-e', 'upper']);
    const open = await dial({ port: s.port });
    const reply = untilClosed(open);
    const served = once(open, 'data');
    open.write('first ');
    await served;
    s.child.kill('SIGTERM');
    await s.waitFor(/stopping: waiting up to 5s for 1 open request \(SIGINT again to stop now\)/);
    // not served: refused, or (if the kernel had queued it already) cut without a reply
    const late = await exchange({ port: s.port }, 'late').then(
      (reply) => reply.toString(),
      (err: NodeJS.ErrnoException) => err.code,
    );
    expect(['ECONNREFUSED', 'ECONNRESET', '']).toContain(late);
    open.end('second');
    expect((await reply).toString()).toBe('FIRST SECOND');
    expect(await s.exited).toBe(0);
    expect(s.stderr()).toMatch(
      /\nstopped: 1 connection, 0 refused, 0 errors, 12 bytes in, 12 bytes out\n$/,
    );
    expect(s.stdout().length).toBe(0);
  });

  test('a second SIGINT stops at once with exit 130', async () => {
    const s = await serve(['serve', 'tcp', '0']);
    const open = await dial({ port: s.port });
    const closed = untilClosed(open);
    const served = once(open, 'data');
    open.write('x');
    await served;
    s.child.kill('SIGINT');
    await s.waitFor(/stopping: .*\(Ctrl-C again to stop now\)/);
    s.child.kill('SIGINT');
    expect(await s.exited).toBe(130);
    await closed; // the open client was cut
    expect(s.stderr()).not.toMatch(/stopped:/);
  });

  test('--drain-timeout bounds the wait for open requests', async () => {
    const s = await serve(['serve', 'tcp', '0', '--drain-timeout', '300ms']);
    const open = await dial({ port: s.port });
    const closed = untilClosed(open);
    const served = once(open, 'data');
    open.write('x');
    await served;
    const t0 = Date.now();
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect((await closed).toString()).toBe('x');
    expect(s.stderr()).toMatch(/stopped: 1 connection/);
  });

  test('SIGINT with nothing open: exit 0 at once, unix socket file removed', async () => {
    const t = tempSocketPath();
    defer(t.cleanup);
    const s = await serve(['serve', 'unix', t.path]);
    expect(existsSync(t.path)).toBe(true);
    s.child.kill('SIGINT');
    expect(await s.exited).toBe(0);
    expect(existsSync(t.path)).toBe(false);
    expect(s.stderr()).not.toMatch(/stopping:/);
    expect(s.stderr()).toMatch(/stopped: 0 connections/);
  });

  test('SIGHUP stops like SIGTERM: summary, exit 0, unix socket file removed', async () => {
    const t = tempSocketPath();
    defer(t.cleanup);
    const s = await serve(['serve', 'unix', t.path]);
    s.child.kill('SIGHUP');
    expect(await s.exited).toBe(0);
    expect(existsSync(t.path)).toBe(false);
    expect(s.stderr()).toMatch(/stopped: 0 connections/);
  });

  test('a timer a handler left running does not keep the process alive after the stop', async () => {
    const t = tempSocketPath();
    defer(t.cleanup);
    const module = `${t.dir}/lingers.mjs`;
    writeFileSync(
      module,
      'export default function lingers(data) { setInterval(() => {}, 1000); return data; }\n',
    );
    const s = await serve(['serve', 'tcp', '0', '-e', module]);
    expect((await exchange({ port: s.port }, 'x')).toString()).toBe('x');
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    expect(s.stderr()).toMatch(/stopped: 1 connection/);
  });

  test('--once: a signal while waiting for the request ends it with exit 0', async () => {
    const s = await serve(['serve', 'udp', '0', '--once', '-q']);
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    expect(s.stderr()).toBe(`listening on udp://127.0.0.1:${s.port}\n`);
  });
});
