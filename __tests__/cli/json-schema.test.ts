/**
 * One schema for every `--json` stream: each event kind the CLI can print is made
 * to happen — by real commands where that is practical, through the reporter itself
 * for the rare ones (a dropped datagram, a tap that fell behind) — and every line is
 * validated against `schema/events.schema.json` with ajv. The test also checks that
 * it saw every kind the schema describes, so a new kind cannot go untested.
 */
import { afterAll, describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EventEmitter, once } from 'node:events';
import { connect } from 'node:net';
import { PassThrough } from 'node:stream';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { finish, run, startServer } from '../helpers/cli.js';
import { exchange } from '../helpers/loopback.js';
import { jsonEvents, serve, stop, useServeTeardown } from './serve-helpers.js';
import { echo, upstream } from './forward-helpers.js';
import { Output } from '../../src/cli/output.js';
import { ServeLog } from '../../src/cli/serve-log.js';
import { closeTap } from '../../src/cli/tap-options.js';
import type { CliContext } from '../../src/cli/context.js';
import type { BaseServer } from '../../src/engine/base-server.js';
import type { Tap } from '../../src/net/tap.js';

const { tmp, udp } = useServeTeardown();
const SCHEMA = JSON.parse(
  readFileSync(fileURLToPath(new URL('../../schema/events.schema.json', import.meta.url)), 'utf8'),
) as { $defs: Record<string, unknown> };
const KINDS = Object.keys(SCHEMA.$defs).filter((k) => k !== 'ts' && k !== 'peer');
const ajv = new Ajv2020({ allErrors: true, strict: true });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);
const validate = ajv.compile(SCHEMA);
const FIXTURE = (name: string): string =>
  fileURLToPath(new URL(`../fixtures/handlers/${name}`, import.meta.url));

const seen = new Set<string>();

/** Every line of an NDJSON stream is a valid event; remembers the kinds. */
function expectValid(text: string): Record<string, unknown>[] {
  const events = jsonEvents(text);
  for (const e of events) {
    const ok = validate(e);
    expect({ event: e, errors: ok ? null : validate.errors }).toEqual({ event: e, errors: null });
    seen.add(String(e.event));
  }
  return events;
}

afterAll(() => {
  expect([...seen].sort()).toEqual([...KINDS].sort());
});

describe('serve events (stderr)', () => {
  test('tcp: listening, connection, close, warning, stopping, summary', async () => {
    const s = await serve([
      'serve',
      'tcp',
      '0',
      '--json',
      '--workers',
      '2',
      '--drain-timeout',
      '0.3',
    ]);
    expect((await exchange({ port: s.port }, 'x')).toString()).toBe('x');
    const open = connect(s.port, '127.0.0.1');
    await once(open, 'connect');
    await s.waitFor(/"event":"close"[^]*"event":"connection"/);
    expect(await stop(s)).toBe(0);
    open.destroy();
    const kinds = expectValid(s.stderr()).map((e) => e.event);
    expect(kinds).toEqual(expect.arrayContaining(['warning', 'stopping', 'summary']));
  });

  test('unix datagram: listening with a path, request', async () => {
    const { path } = tmp();
    const s = await serve(['serve', 'unix', path, '--datagram', '--json', '--max-requests', '1']);
    const r = await run(['sendto', '--unix', path, '--json', '--wait', '10', 'hi'], {});
    expect(r.code).toBe(0);
    expect(await s.exited).toBe(0);
    expectValid(s.stderr());
    expectValid(r.stdout.toString());
  });

  test('refusals, idle timeouts and handler errors', async () => {
    const deny = await serve(['serve', 'tcp', '0', '--json', '--deny', '127.0.0.1']);
    connect(deny.port, '127.0.0.1').on('error', () => undefined);
    await deny.waitFor(/"reason":"access"/);
    const s = await serve([
      'serve',
      'tcp',
      '0',
      '--json',
      '--max-conns',
      '1',
      '--idle-timeout',
      '0.2',
    ]);
    const first = connect(s.port, '127.0.0.1');
    await once(first, 'connect');
    const second = connect(s.port, '127.0.0.1').on('error', () => undefined);
    await s.waitFor(/"reason":"max-conns"/);
    await s.waitFor(/"event":"idle-timeout"/);
    second.destroy();
    const failing = await serve(['serve', 'tcp', '0', '--json', '-e', FIXTURE('failing.mjs')]);
    const c = connect(failing.port, '127.0.0.1').on('error', () => undefined);
    c.end('boom');
    await failing.waitFor(/kaboom/);
    for (const server of [deny, s, failing]) {
      expect(await stop(server)).toBe(0);
      expectValid(server.stderr());
    }
  });

  test('forward: a relay that ended and an upstream that refused, from a real --json run', async () => {
    const up = await upstream(echo);
    const s = await serve(['serve', 'tcp', '0', '--forward', up.url, '--json']);
    try {
      expect((await exchange({ port: s.port }, 'relayed')).toString()).toBe('relayed');
      await s.waitFor(/"event":"forward"/);
    } finally {
      await up.close(); // the next connection's upstream refuses
    }
    const refused = connect(s.port, '127.0.0.1');
    refused.on('error', () => undefined); // reset by the relay
    await new Promise((resolve) => refused.once('close', resolve));
    await s.waitFor(/"reason":"upstream-failed"/);
    expect(await stop(s)).toBe(0);
    const relays = expectValid(s.stderr()).filter((e) => e.event === 'forward');
    expect(relays).toEqual([
      expect.objectContaining({
        peer: { address: '127.0.0.1', port: expect.any(Number) },
        upstream: up.url,
        upstreamAddress: { address: '127.0.0.1', port: up.port },
        bytesUp: 7,
        bytesDown: 7,
        reason: 'done',
      }),
      expect.objectContaining({
        upstream: up.url,
        reason: 'upstream-failed',
        code: 'ECONNREFUSED',
      }),
    ]);
  });

  test('a fatal error is an event too (code)', async () => {
    const r = await run(['serve', 'tcp', '0', '--json', '-H', '256.1.1.1']);
    expect(r.code).not.toBe(0);
    expect(expectValid(r.stderr)).toEqual([
      expect.objectContaining({ event: 'error', code: expect.any(String) }),
    ]);
  });

  test('forking: worker-output and worker-exit', async () => {
    const s = await serve([
      'serve',
      'tcp',
      '0',
      '--json',
      '-m',
      'forking',
      '-w',
      '1',
      '-e',
      FIXTURE('crash-dump.mjs'),
    ]);
    const c = connect(s.port, '127.0.0.1').on('error', () => undefined);
    c.end('exit');
    await s.waitFor(/"event":"worker-exit"/);
    expect(await stop(s)).toBe(0);
    expectValid(s.stderr());
  });

  test('the reporter: dropped datagrams, accept errors, throttled refusals, a tap that fell behind', async () => {
    const stderr = new PassThrough();
    let text = '';
    stderr.on('data', (c: Buffer) => (text += c.toString()));
    const out = new Output({
      stdin: new PassThrough(),
      stdout: new PassThrough(),
      stderr,
      env: {},
    });
    const log = new ServeLog(out, {
      json: true,
      verbose: false,
      handlerName: 'echo',
      datagram: true,
    });
    const server = new EventEmitter();
    log.attach(server as unknown as BaseServer<unknown>);
    const written = once(stderr, 'data');
    const peer = { family: 'IPv4', address: '127.0.0.1', port: 9 };
    server.emit('dropped', peer, 'queue-full');
    await written;
    // the first refusal names its peer; the ones within the second are a count at close
    server.emit('rejected', peer, 'max-conns');
    server.emit('rejected', { ...peer, port: 10 }, 'max-conns');
    server.emit('rejected', { ...peer, port: 11 }, 'max-conns');
    server.emit('acceptError', Object.assign(new Error('accept EMFILE'), { code: 'EMFILE' }));
    server.emit('close');
    const ctx = { io: out.io, out } as unknown as CliContext;
    const tap = { close: async () => undefined, error: undefined, dropped: 3 } as unknown as Tap;
    await closeTap(ctx, tap);
    const events = expectValid(text);
    expect(events.map((e) => e.event)).toEqual([
      'dropped',
      'rejected',
      'accept-error',
      'rejected',
      'warning',
    ]);
    expect(events[1]).toMatchObject({
      peer: { address: '127.0.0.1', port: 9 },
      reason: 'max-conns',
    });
    expect(events[2]).toMatchObject({ count: 1, message: expect.stringContaining('EMFILE') });
    expect(events[3]).toMatchObject({ count: 2, reason: 'max-conns' });
    expect(events[3]).not.toHaveProperty('peer');
  });
});

describe('client results (stdout)', () => {
  test('send, sendto, recvfrom, probes', async () => {
    const s = await serve(['serve', 'tcp', '0']);
    const reply = await run(['send', '--json', '127.0.0.1', String(s.port), 'hi']);
    expectValid(reply.stdout.toString());
    const u = await serve(['serve', 'udp', '0']);
    const dgram = await run([
      'sendto',
      '--json',
      '--wait',
      '10',
      '127.0.0.1',
      String(u.port),
      'hi',
    ]);
    expectValid(dgram.stdout.toString());
    // startServer(): recvfrom's banner is text even with --json (stderr is not its JSON stream)
    const rx = await startServer(['recvfrom', '0', '--json', '--count', '1']);
    const received = finish(rx.child);
    const c = await udp();
    c.send('x', rx.port, '127.0.0.1');
    const got = await received;
    expect(got.code).toBe(0);
    expectValid(got.stdout.toString());
    const probe = await run(['connect', '-z', '--json', '127.0.0.1', `${s.port},${s.port + 1}`]);
    expectValid(probe.stdout.toString());
    const uprobe = await run(['connect', '-z', '-u', '--json', '127.0.0.1', String(u.port)]);
    expectValid(uprobe.stdout.toString());
    const { path } = tmp();
    const unixProbe = await run(['connect', '-z', '--json', '--unix', path]);
    expect(expectValid(unixProbe.stdout.toString())).toEqual([
      expect.objectContaining({ event: 'probe', peer: { path }, open: false }),
    ]);
  });
});
