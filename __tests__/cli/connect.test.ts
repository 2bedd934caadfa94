/**
 * The client commands in-process through main(): PassThrough streams for
 * stdin/stdout/stderr and a fake signal source, so the CLI layer (option
 * mapping, output formats, exit codes, SIGINT) is checked without a build.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { PassThrough } from 'node:stream';
import { Buffer } from 'node:buffer';
import { main } from '../../src/cli/main.js';
import { EchoHandler } from '../../src/handlers/echo.js';
import { UpperCaseHandler } from '../../src/handlers/case.js';
import { collect, Teardown } from '../helpers/loopback.js';
// The commands import their client modules lazily; jest's ESM loader cannot link
// a lazily imported module's node: imports, so load them here first.
import '../../src/clients/stream-client.js';
import '../../src/clients/datagram-client.js';
import '../../src/clients/probe.js';
import { engineTcp, engineUdp, freePort, rawTcp } from '../clients/peers.js';
import { FakeSignals } from './client-helpers.js';

const teardown = new Teardown();
afterEach(() => teardown.run());

interface Ran {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** Run `sockit …args` in-process; `input` (if given) is stdin, else stdin stays open. */
async function sockit(
  args: string[],
  input?: string | Buffer,
  signals: FakeSignals = new FakeSignals(),
): Promise<Ran> {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  if (input !== undefined) stdin.end(input);
  const out = collect(stdout);
  const err = collect(stderr);
  const code = await main(
    ['node', 'sockit', ...args],
    {
      stdin,
      stdout,
      stderr,
      env: { NO_COLOR: '1' },
    },
    signals,
  );
  stdout.end();
  stderr.end();
  return { code, stdout: await out, stderr: (await err).toString() };
}

describe('connect in-process', () => {
  test('the pipe: stdin to the server, the reply to stdout, exit 0', async () => {
    const port = await engineTcp(UpperCaseHandler as never, teardown);
    const r = await sockit(['connect', '127.0.0.1', String(port)], 'in process\n');
    expect(r).toEqual({ code: 0, stdout: Buffer.from('IN PROCESS\n'), stderr: '' });
  });

  test('-v reports the connection and the byte counts on stderr only', async () => {
    const port = await engineTcp(EchoHandler as never, teardown);
    const r = await sockit(['connect', '-v', '127.0.0.1', String(port)], 'abc');
    expect(r.stdout.toString()).toBe('abc');
    expect(r.stderr).toMatch(new RegExp(`^connected to 127\\.0\\.0\\.1:${port} from port \\d+\\n`));
    expect(r.stderr).toMatch(
      /\nsent 3 bytes, received 3 bytes in \d+\.\d\d s \(\d+\.\d\d MB\/s\); peer closed\n$/,
    );
  });

  test('SIGINT ends a pipe with 130', async () => {
    const signals = new FakeSignals();
    const { port } = await rawTcp(() => signals.emit('SIGINT'), teardown);
    const r = await sockit(['connect', '127.0.0.1', String(port)], undefined, signals);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(130);
    expect(signals.listenerCount('SIGINT')).toBe(0);
  });

  test('refused: exit 1, one line', async () => {
    const port = await freePort();
    const r = await sockit(['connect', '127.0.0.1', String(port)], '');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`sockit: connect ECONNREFUSED 127.0.0.1:${port}\n`);
  });

  test('-z --json and -v in port order; exit codes', async () => {
    const open = await engineTcp(EchoHandler as never, teardown);
    const closed = await freePort();
    const r = await sockit(['connect', '-z', '-v', '--json', '127.0.0.1', `${closed}`, `${open}`]);
    const objects = r.stdout
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; peer: { address: string; port: number } });
    const order = [open, closed].sort((a, b) => a - b);
    expect(objects.map((o) => o.event)).toEqual(['probe', 'probe']);
    expect(objects.map((o) => o.peer)).toEqual(
      order.map((port) => ({ address: '127.0.0.1', port })),
    );
    expect(r.stderr.trim().split('\n')).toEqual(
      order.map((p) => (p === open ? `127.0.0.1 ${p} open` : `127.0.0.1 ${p} closed ECONNREFUSED`)),
    );
    expect(r.code).toBe(0);
    expect((await sockit(['connect', '-z', '--all', '127.0.0.1', `${open},${closed}`])).code).toBe(
      1,
    );
  });

  test('-u -z: a replying UDP server is open', async () => {
    const port = await engineUdp(EchoHandler as never, teardown);
    const r = await sockit(['connect', '-u', '-z', '--json', '127.0.0.1', String(port)]);
    expect(JSON.parse(r.stdout.toString())).toMatchObject({ proto: 'udp', state: 'open' });
    expect(r.code).toBe(0);
  });

  test.each([
    [['connect', '-z', '127.0.0.1', '9-1'], /reversed/],
    [['connect', '-z', '-k', '127.0.0.1', '9'], /-z takes no pipe options/],
    [['connect', '--unix', '/tmp/x.sock', 'host'], /with --unix, give no host or port/],
    [['connect', '127.0.0.1', '1', '2'], /one port expected/],
    [['connect', '--concurrency', '5', '127.0.0.1', '1'], /--concurrency works with -z only/],
  ])('%j: exit 2', async (args, message) => {
    const r = await sockit(args, '');
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(2);
  });
});

describe('send, sendto, recvfrom in-process', () => {
  test('send --json', async () => {
    const port = await engineTcp(EchoHandler as never, teardown);
    const r = await sockit(['send', '--json', '127.0.0.1', String(port), 'a', 'b']);
    expect(JSON.parse(r.stdout.toString())).toMatchObject({
      event: 'reply',
      sent: 3,
      received: 3,
      data: 'a b',
    });
    expect(r.code).toBe(0);
  });

  test('sendto --wait --json', async () => {
    const port = await engineUdp(EchoHandler as never, teardown);
    const r = await sockit(['sendto', '--json', '--wait', '5', '127.0.0.1', String(port), 'x']);
    expect(JSON.parse(r.stdout.toString())).toMatchObject({
      event: 'datagram',
      peer: { address: '127.0.0.1', port },
      data: 'x',
    });
    expect(r.code).toBe(0);
  });

  test('recvfrom --timeout with nothing: banner, then exit 1', async () => {
    const r = await sockit(['recvfrom', '0', '--timeout', '100ms']);
    expect(r.stderr).toMatch(
      /^listening on udp:\/\/127\.0\.0\.1:\d+\nsockit: no datagram within 0\.1s\n$/,
    );
    expect(r.code).toBe(1);
  });
});
