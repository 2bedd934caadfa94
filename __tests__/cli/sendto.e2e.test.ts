/**
 * `sockit sendto` as a black box: datagrams from arguments, stdin lines or all
 * of stdin, hex input, repeats, replies (--wait, --json, --hex), unix
 * datagrams, EMSGSIZE, and the exit codes.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { Buffer } from 'node:buffer';
import { ISO_TS, run } from '../helpers/cli.js';
import { tempSocketPath, Teardown } from '../helpers/loopback.js';
import { EchoHandler } from '../../src/handlers/echo.js';
import { UpperCaseHandler } from '../../src/handlers/case.js';
import { engineUdp, engineUnixDgram, pythonPeer, PYTHON } from '../clients/peers.js';
import { NO_UNIX_DGRAM, testIf } from '../helpers/skip.js';

const testDgram = testIf(NO_UNIX_DGRAM, import.meta.url);

const teardown = new Teardown();
afterEach(() => teardown.run());

const testPy = PYTHON ? test : test.skip;

/** A UDP socket that records what it receives; `until(n)` resolves with the first n datagrams. */
async function receiver(): Promise<{ port: number; until: (n: number) => Promise<Buffer[]> }> {
  const s: UdpSocket = createSocket('udp4');
  teardown.add(() => new Promise<void>((r) => s.close(() => r())));
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  const got: Buffer[] = [];
  const waiters: (() => void)[] = [];
  s.on('message', (m: Buffer) => {
    got.push(m);
    for (const w of waiters.splice(0)) w();
  });
  const until = (n: number): Promise<Buffer[]> =>
    new Promise((resolve) => {
      const check = (): void => {
        if (got.length >= n) resolve(got.slice(0, n));
        else waiters.push(check);
      };
      check();
    });
  return { port: s.address().port, until };
}

describe('sendto', () => {
  test('one datagram per message argument; exits right after sending', async () => {
    const rx = await receiver();
    const r = await run(['sendto', '127.0.0.1', String(rx.port), 'one', 'two words', '-n']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout.length).toBe(0);
    expect((await rx.until(2)).map(String)).toEqual(['one\n', 'two words\n']);
  });

  test('all of stdin is one datagram, byte-exact', async () => {
    const rx = await receiver();
    const data = randomBytes(50_000);
    const r = await run(['sendto', '127.0.0.1', String(rx.port)], { input: data });
    expect(r.code).toBe(0);
    expect(await rx.until(1)).toEqual([data]);
  });

  test('--lines: one datagram per stdin line', async () => {
    const rx = await receiver();
    await run(['sendto', '--lines', '127.0.0.1', String(rx.port)], { input: 'a\r\nb\n\nc' });
    expect((await rx.until(4)).map(String)).toEqual(['a', 'b', '', 'c']);
  });

  test('--hex-input, --count and --interval', async () => {
    const rx = await receiver();
    const r = await run([
      'sendto',
      '--hex-input',
      '-c',
      '3',
      '-i',
      '5ms',
      '127.0.0.1',
      String(rx.port),
      '00ff',
      '0x61 0x62',
    ]);
    expect(r.code).toBe(0);
    const round = [Buffer.from([0, 255]), Buffer.from('ab')];
    expect(await rx.until(6)).toEqual([...round, ...round, ...round]);
  });

  testPy('--wait prints the replies of Python socketserver.UDPServer, one per line', async () => {
    const py = await pythonPeer(
      `
import socketserver
class H(socketserver.DatagramRequestHandler):
    def handle(self):
        self.wfile.write(self.rfile.read().upper())
s = socketserver.UDPServer(('127.0.0.1', 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
`,
      teardown,
    );
    const r = await run(['sendto', '127.0.0.1', py.line, 'hello', 'world', '--wait', '10']);
    // byte for byte, as received: nothing added between the replies on a pipe
    expect(r.stdout.toString()).toBe('HELLOWORLD');
    expect(r.code).toBe(0);
  });

  test('--wait --json: one object per reply with the sender; binary as base64', async () => {
    const port = await engineUdp(EchoHandler as never, teardown);
    const r = await run([
      'sendto',
      '--json',
      '--wait',
      '10',
      '--hex-input',
      '127.0.0.1',
      String(port),
      '6869',
      '00ff',
    ]);
    const lines = r.stdout
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as unknown);
    expect(lines).toEqual([
      {
        event: 'datagram',
        ts: expect.stringMatching(ISO_TS),
        peer: { address: '127.0.0.1', port },
        bytes: 2,
        data: 'hi',
        encoding: 'utf8',
      },
      {
        event: 'datagram',
        ts: expect.stringMatching(ISO_TS),
        peer: { address: '127.0.0.1', port },
        bytes: 2,
        data: Buffer.from([0, 255]).toString('base64'),
        encoding: 'base64',
      },
    ]);
    expect(r.code).toBe(0);
  });

  test('--wait --hex: one hex line per reply', async () => {
    const port = await engineUdp(EchoHandler as never, teardown);
    const r = await run(['sendto', '--hex', '--wait', '10', '127.0.0.1', String(port), 'AB']);
    expect(r.stdout.toString()).toBe('4142\n');
  });

  testDgram('--unix: a unix datagram server answers to our temp path', async () => {
    const tmp = tempSocketPath('d.sock');
    teardown.add(tmp.cleanup);
    await engineUnixDgram(UpperCaseHandler as never, tmp.path, teardown);
    const r = await run(['sendto', '--unix', tmp.path, 'unix', 'dgram', '--wait', '10', '--json']);
    const lines = r.stdout
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as unknown);
    expect(lines).toEqual([
      ...['UNIX', 'DGRAM'].map((data) => ({
        event: 'datagram',
        ts: expect.stringMatching(ISO_TS),
        peer: { path: tmp.path },
        bytes: data.length,
        data,
        encoding: 'utf8',
      })),
    ]);
    expect(r.code).toBe(0);
  });
});

describe('sendto: exit codes', () => {
  test('--wait with no reply: 1', async () => {
    const rx = await receiver();
    const r = await run(['sendto', '--wait', '200ms', '127.0.0.1', String(rx.port), 'x']);
    expect(r.stderr).toBe('sockit: no reply within 0.2s\n');
    expect(r.code).toBe(1);
  });

  test('an oversized datagram: EMSGSIZE, 1, nothing sent', async () => {
    const r = await run(['sendto', '127.0.0.1', '9'], { input: Buffer.alloc(65_508) });
    expect(r.stderr).toBe(
      'sockit: datagram too large — 65508 bytes, the limit over IPv4 is 65,507 bytes (EMSGSIZE)\n',
    );
    expect(r.code).toBe(1);
  });

  testDgram('a unix path nobody is bound to: 1', async () => {
    const tmp = tempSocketPath();
    teardown.add(tmp.cleanup);
    const r = await run(['sendto', '--unix', tmp.path, 'x']);
    expect(r.stderr).toMatch(/refused the datagram — nothing is listening there \(ENOENT\)/);
    expect(r.code).toBe(1);
  });

  test.each([
    [['sendto', '--hex-input', '127.0.0.1', '9', 'xyz'], /invalid hex input 'xyz'/],
    [['sendto', '127.0.0.1', '99999', 'x'], /out of range 1-65535/],
    [['sendto', '--lines', '127.0.0.1', '9', 'x'], /--lines reads stdin/],
    [['sendto', '-c', '0', '127.0.0.1', '9', 'x'], /whole number/],
    [['sendto', '-i', 'later', '127.0.0.1', '9', 'x'], /expected a duration/],
  ])('%j is bad usage (exit 2)', async (args, message) => {
    const r = await run(args);
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(2);
  });
});
