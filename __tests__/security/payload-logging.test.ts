/**
 * Payloads are data, never code and never log text: a payload holding a marker,
 * format strings, template and shell syntax, a fake NDJSON event and terminal
 * escapes goes through every server transport and every client command, at default
 * verbosity, with -v and with --json. It comes back byte-exact where it should
 * (stdout, the echo), and neither the marker nor the escape bytes ever reach stderr.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { connect } from 'node:net';
import { Buffer } from 'node:buffer';
import { createSocket } from 'node:dgram';
import { run, startServer } from '../helpers/cli.js';
import { exchange, tempSocketPath } from '../helpers/loopback.js';
import { serve, stop, stopAll, udpAsk, udpClient } from '../cli/serve-helpers.js';
import { NO_UNIX_DGRAM, testIf } from '../helpers/skip.js';

const testDgram = testIf(NO_UNIX_DGRAM, import.meta.url);

const MARKER = 'PAYLOAD-MARKER-c0ffee';
/** Everything a careless logger or evaluator would trip on, around the marker. */
const PAYLOAD = Buffer.from(
  `${MARKER} %s%d%n%j \${process.exit(7)} $(touch /tmp/pwned) \`id\` ` +
    `"}\n{"event":"fake","by":"payload"}\n\u001b[2J\u001b]0;title\u0007\r\u0000\xff ${MARKER}\n`,
  'latin1',
);
const FAILING = fileURLToPath(new URL('../fixtures/handlers/failing.mjs', import.meta.url));

const cleanups: (() => void)[] = [];
afterEach(async () => {
  await stopAll();
  for (const fn of cleanups.splice(0)) fn();
});

function expectClean(stderr: string): void {
  expect(stderr).not.toContain(MARKER);
  expect(stderr).not.toContain('\u001b[2J');
  expect(stderr).not.toContain('"event":"fake"');
  for (const line of stderr.split('\n').filter(Boolean)) {
    if (line.startsWith('{')) expect(() => JSON.parse(line) as unknown).not.toThrow();
  }
}

const VERBOSITY: [string, string[]][] = [
  ['default', []],
  ['-v', ['-v']],
  ['--json', ['--json']],
];

describe('servers never log a payload', () => {
  test.each(VERBOSITY)('serve tcp, %s', async (_name, flags) => {
    const s = await serve(['serve', 'tcp', '0', ...flags]);
    expect(await exchange({ port: s.port }, PAYLOAD)).toEqual(PAYLOAD);
    expect(await stop(s)).toBe(0);
    expectClean(s.stderr());
    expect(s.stdout().length).toBe(0);
  });

  test.each(VERBOSITY)('serve udp, %s', async (_name, flags) => {
    const s = await serve(['serve', 'udp', '0', ...flags]);
    const c = await udpClient();
    expect(await udpAsk(c, s.port, PAYLOAD)).toEqual(PAYLOAD);
    c.close();
    expect(await stop(s)).toBe(0);
    expectClean(s.stderr());
  });

  test.each(VERBOSITY)('serve unix (stream), %s', async (_name, flags) => {
    const tmp = tempSocketPath();
    cleanups.push(tmp.cleanup);
    const s = await serve(['serve', 'unix', tmp.path, ...flags]);
    expect(await exchange({ path: tmp.path }, PAYLOAD)).toEqual(PAYLOAD);
    expect(await stop(s)).toBe(0);
    expectClean(s.stderr());
  });

  testDgram('serve unix --datagram -v: the datagram is answered, not logged', async () => {
    const tmp = tempSocketPath();
    cleanups.push(tmp.cleanup);
    const s = await serve(['serve', 'unix', tmp.path, '--datagram', '-v']);
    const r = await run(['sendto', '--unix', tmp.path, '--wait', '5', '--hex'], { input: PAYLOAD });
    expect(r.stdout.toString()).toBe(`${PAYLOAD.toString('hex')}\n`);
    expect(await stop(s)).toBe(0);
    expectClean(s.stderr());
    expectClean(r.stderr);
  });

  test.each(VERBOSITY)(
    'a handler failing on the payload logs its error, not the payload (%s)',
    async (_n, flags) => {
      const s = await serve(['serve', 'tcp', '0', '-e', FAILING, ...flags]);
      const c = connect(s.port, '127.0.0.1');
      c.on('error', () => undefined);
      await once(c, 'connect');
      c.write(Buffer.concat([PAYLOAD, Buffer.from('boom')]));
      await new Promise((r) => c.once('close', r));
      await s.waitFor(/kaboom/);
      expect(await stop(s)).toBe(0);
      expectClean(s.stderr());
    },
  );
});

describe('clients never log a payload on stderr (stdout carries it)', () => {
  test('connect -v', async () => {
    const { child, port } = await startServer(['serve', 'tcp', '0']);
    cleanups.push(() => child.kill('SIGKILL'));
    const r = await run(['connect', '-v', '127.0.0.1', String(port)], { input: PAYLOAD });
    expect(r.code).toBe(0);
    expect(r.stdout).toEqual(PAYLOAD);
    expectClean(r.stderr);
    expect(r.stderr).toMatch(/connected to/); // -v did say something
  });

  test('send -v, send --json', async () => {
    const { child, port } = await startServer(['serve', 'tcp', '0']);
    cleanups.push(() => child.kill('SIGKILL'));
    const r = await run(['send', '-v', '127.0.0.1', String(port)], { input: PAYLOAD });
    expect(r.stdout).toEqual(PAYLOAD);
    expectClean(r.stderr);
    const j = await run(['send', '--json', '127.0.0.1', String(port)], { input: PAYLOAD });
    expect(j.code).toBe(0);
    expectClean(j.stderr);
    const rec = JSON.parse(j.stdout.toString()) as { data: string; encoding: string };
    expect(Buffer.from(rec.data, rec.encoding as BufferEncoding)).toEqual(PAYLOAD);
  });

  test('sendto -v --wait and recvfrom -v', async () => {
    const rx = await serve(['recvfrom', '0', '-v', '--echo', '--count', '1']);
    const r = await run(['sendto', '-v', '--wait', '5', '127.0.0.1', String(rx.port)], {
      input: PAYLOAD,
    });
    expect(r.code).toBe(0);
    // the reply byte for byte
    expect(r.stdout).toEqual(PAYLOAD);
    expectClean(r.stderr);
    expect(await rx.exited).toBe(0);
    expect(rx.stdout()).toEqual(PAYLOAD);
    expectClean(rx.stderr());
    expect(rx.stderr()).toMatch(/bytes from 127\.0\.0\.1:\d+/);
  });

  test('a UDP datagram to recvfrom --json: the payload is in the JSON on stdout only', async () => {
    // startServer(): recvfrom's banner is text even with --json
    const rx = await startServer(['recvfrom', '0', '--json', '-v', '--count', '1']);
    cleanups.push(() => rx.child.kill('SIGKILL'));
    const out: Buffer[] = [];
    rx.child.stdout.on('data', (c: Buffer) => out.push(c));
    const exited = once(rx.child, 'close');
    const tx = createSocket('udp4');
    tx.send(PAYLOAD, rx.port, '127.0.0.1');
    const [code] = (await exited) as [number | null];
    tx.close();
    expect(code).toBe(0);
    const rec = JSON.parse(Buffer.concat(out).toString()) as { data: string; encoding: string };
    expect(Buffer.from(rec.data, rec.encoding as BufferEncoding)).toEqual(PAYLOAD);
    expectClean(rx.stderr());
  });
});
