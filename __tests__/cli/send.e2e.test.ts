/**
 * `sockit send` as a black box: one request (arguments or stdin), half-close,
 * the whole reply; --hex, --json; exit codes for reply, refusal, no reply.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { ISO_TS, run, start } from '../helpers/cli.js';
import { tempSocketPath, Teardown } from '../helpers/loopback.js';
import { EchoHandler } from '../../src/handlers/echo.js';
import { UpperCaseHandler } from '../../src/handlers/case.js';
import { DiscardHandler } from '../../src/handlers/discard.js';
import { ChargenHandler } from '../../src/handlers/chargen.js';
import { engineTcp, engineUnix, freePort, pythonPeer, PYTHON, rawTcp } from '../clients/peers.js';

const teardown = new Teardown();
afterEach(() => teardown.run());

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const testPy = PYTHON ? test : test.skip;

describe('send', () => {
  test('message words joined by spaces, -n appends a newline, the reply on stdout', async () => {
    const port = await engineTcp(UpperCaseHandler as never, teardown);
    const r = await run(['send', '127.0.0.1', String(port), 'hello', 'there', '-n']);
    expect(r.stdout.toString()).toBe('HELLO THERE\n');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  test('stdin is the request when no message is given (binary, 4 MiB)', async () => {
    const port = await engineTcp(EchoHandler as never, teardown);
    const data = randomBytes(4 * 1024 * 1024);
    const r = await run(['send', '127.0.0.1', String(port)], { input: data });
    expect(sha(r.stdout)).toBe(sha(data));
    expect(r.code).toBe(0);
  });

  test('--json: one reply event with peer, sent, received, data, encoding, rttMs', async () => {
    const port = await engineTcp(EchoHandler as never, teardown);
    const r = await run(['send', '--json', '127.0.0.1', String(port), 'ping']);
    const lines = r.stdout.toString().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toBe('');
    const o = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(o).toEqual({
      event: 'reply',
      ts: expect.stringMatching(ISO_TS),
      peer: { address: '127.0.0.1', port },
      sent: 4,
      received: 4,
      data: 'ping',
      encoding: 'utf8',
      rttMs: expect.any(Number),
    });
    expect(r.code).toBe(0);
  });

  test('--json: a reply that is not UTF-8 is base64', async () => {
    const port = await engineTcp(EchoHandler as never, teardown);
    const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x80]);
    const r = await run(['send', '--json', '127.0.0.1', String(port)], { input: bytes });
    const o = JSON.parse(r.stdout.toString()) as { data: string; encoding: string };
    expect(o.encoding).toBe('base64');
    expect(Buffer.from(o.data, 'base64')).toEqual(bytes);
  });

  test('--hex: a canonical hex dump', async () => {
    const port = await engineTcp(EchoHandler as never, teardown);
    const r = await run(['send', '--hex', '127.0.0.1', String(port)], {
      input: Buffer.from('68656c6c6f00ff20776f726c642c2031372b', 'hex'), // hello\0\xff world, 17+
    });
    expect(r.stdout.toString()).toBe(
      [
        '00000000  68 65 6c 6c 6f 00 ff 20  77 6f 72 6c 64 2c 20 31  |hello.. world, 1|',
        '00000010  37 2b                                             |7+|',
        '00000012',
        '',
      ].join('\n'),
    );
  });

  test('EPIPE on stdout ends it quietly with exit 0', async () => {
    const port = await engineTcp(ChargenHandler as never, teardown);
    const child = start(['send', '127.0.0.1', String(port), 'x']);
    child.stdout.once('data', () => child.stdout.destroy());
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const [code] = await once(child, 'close');
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  test('--unix', async () => {
    const tmp = tempSocketPath();
    teardown.add(tmp.cleanup);
    await engineUnix(UpperCaseHandler as never, tmp.path, teardown);
    const r = await run(['send', '--unix', tmp.path, 'via', 'unix']);
    expect(r.stdout.toString()).toBe('VIA UNIX');
    expect(r.code).toBe(0);
  });

  testPy("Python's socketserver from the seeds (reads one recv, replies)", async () => {
    const py = await pythonPeer(
      `
import socketserver
class H(socketserver.BaseRequestHandler):
    def handle(self):
        self.data = self.request.recv(1024).strip()
        self.request.sendall(self.data.upper())
s = socketserver.TCPServer(('127.0.0.1', 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
`,
      teardown,
    );
    const r = await run(['send', '127.0.0.1', py.line, 'seeds', 'say', 'hi', '-n']);
    expect(r.stdout.toString()).toBe('SEEDS SAY HI');
    expect(r.code).toBe(0);
  });
});

describe('send: exit codes', () => {
  test('refused: 1', async () => {
    const port = await freePort();
    const r = await run(['send', '127.0.0.1', String(port), 'x']);
    expect(r.stderr).toBe(`sockit: connect ECONNREFUSED 127.0.0.1:${port}\n`);
    expect(r.code).toBe(1);
  });

  test('the peer closes without a reply: 1', async () => {
    const port = await engineTcp(DiscardHandler as never, teardown);
    const r = await run(['send', '127.0.0.1', String(port), 'into the void']);
    expect(r.stderr).toBe(
      `sockit: no reply from 127.0.0.1:${port} — the peer closed the connection without answering\n`,
    );
    expect(r.code).toBe(1);
  });

  test('no reply within --timeout: 1; a partial reply within it: 0', async () => {
    const silent = await rawTcp(() => undefined, teardown);
    const r = await run(['send', '--timeout', '300ms', '127.0.0.1', String(silent.port), 'x']);
    expect(r.stderr).toBe(`sockit: no reply from 127.0.0.1:${silent.port} within 0.3s\n`);
    expect(r.code).toBe(1);
    const chatty = await rawTcp((s) => s.write('partial'), teardown);
    const p = await run(['send', '-w', '300ms', '127.0.0.1', String(chatty.port), 'x']);
    expect(p.stdout.toString()).toBe('partial');
    expect(p.code).toBe(0);
  });

  test.each([
    [['send', '127.0.0.1'], /missing <port>/],
    [['send', '127.0.0.1', 'nope-not-a-service'], /not a number or a known tcp service/],
    [['send', '--hex', '--json', '127.0.0.1', '1', 'x'], /exclude each other/],
  ])('%j is bad usage (exit 2)', async (args, message) => {
    const r = await run(args);
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(2);
  });
});
