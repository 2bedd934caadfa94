/**
 * `--exec` / `--sh-exec`: a program per connection or datagram, with the
 * SOCKIT_* environment, EOF both ways, and an end that leaves nothing behind:
 * 500 connections, a SIGTERM with five children running, a child that ignores
 * SIGTERM, forking workers. Programs are counted by a mark in their environment
 * (listen-helpers.ts). SOCKIT_MEASURE=1 prints the counts on stderr.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { createSocket } from 'node:dgram';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Buffer } from 'node:buffer';
import { BIN } from '../helpers/cli.js';
import { mapLimit } from '../input/usage-helpers.js';
import {
  LineReader,
  dial,
  killStarted,
  newMark,
  programsGone,
  programsLeft,
  startProcess,
  startSockit,
} from './listen-helpers.js';

const sockets: { destroy(): void }[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await killStarted();
});

function measured(line: string): void {
  if (process.env.SOCKIT_MEASURE) process.stderr.write(`${line}\n`);
}

/** Send `data`, half-close, and collect everything until the server closes. */
async function ask(port: number, data: string | Buffer): Promise<Buffer> {
  const socket = await dial(port);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.end(data);
  await once(socket, 'end');
  socket.destroy();
  return Buffer.concat(chunks);
}

describe('serve --exec', () => {
  test('--exec /bin/cat echoes 64 MiB byte-exact, streamed both ways', async () => {
    const server = await startSockit(['serve', 'tcp', '0', '--exec', '/bin/cat']);
    const socket = await dial(server.port);
    const sent = createHash('sha256');
    const got = createHash('sha256');
    let received = 0;
    socket.on('data', (c: Buffer) => {
      got.update(c);
      received += c.length;
    });
    const ended = once(socket, 'end');
    for (let i = 0; i < 64; i++) {
      const chunk = randomBytes(1 << 20);
      sent.update(chunk);
      if (!socket.write(chunk)) await once(socket, 'drain');
    }
    socket.end();
    await ended;
    expect(received).toBe(64 << 20);
    expect(got.digest('hex')).toBe(sent.digest('hex'));
  }, 120_000);

  test("--sh-exec 'echo $SOCKIT_REMOTE_PORT' prints the client's port, and the rest of the environment", async () => {
    const server = await startSockit([
      'serve',
      'tcp',
      '0',
      '--sh-exec',
      'echo "$SOCKIT_REMOTE_PORT $SOCKIT_REMOTE_ADDR $SOCKIT_LOCAL_ADDR $SOCKIT_LOCAL_PORT $SOCKIT_PROTO"',
    ]);
    const socket = await dial(server.port);
    const lines = new LineReader(socket);
    expect(await lines.next()).toBe(`${socket.localPort} 127.0.0.1 127.0.0.1 ${server.port} tcp`);
  });

  test("--json: each program's end is a child-exit event with its pid and status", async () => {
    const server = startProcess(process.execPath, [
      BIN,
      'serve',
      'tcp',
      '0',
      '--sh-exec',
      'cat; exit 3',
      '--json',
    ]);
    const [, port] = await server.waitFor(/"url":"tcp:\/\/127\.0\.0\.1:(\d+)"/);
    expect((await ask(Number(port), 'json\n')).toString()).toBe('json\n');
    const [line] = await server.waitFor(/^\{"event":"child-exit".*\}$/m);
    expect(JSON.parse(line)).toMatchObject({
      event: 'child-exit',
      pid: expect.any(Number),
      code: 3,
      signal: null,
      peer: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
    });
  });

  test('500 connections leave no program behind', async () => {
    const mark = newMark();
    const before = programsLeft(mark).length;
    const server = await startSockit(
      ['serve', 'tcp', '0', '--exec', '/bin/cat', '-v'],
      ['pipe', 'pipe'],
      {
        SOCKIT_TEST_MARK: mark,
      },
    );
    const replies = await mapLimit(
      Array.from({ length: 500 }, (_, i) => i),
      25,
      async (i) => (await ask(server.port, `ping ${i}\n`)).toString(),
    );
    expect(replies).toEqual(Array.from({ length: 500 }, (_, i) => `ping ${i}\n`));
    // every child's exit is a -v line: wait for the 500th, then count what is left
    expect(await server.waitForCount(/exited with code 0/, 500)).toBe(500);
    const after = programsLeft(mark).length;
    measured(`exec: 500 connections — programs before ${before}, after ${after}`);
    expect([before, after]).toEqual([0, 0]);
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
    expect(await programsGone(mark)).toEqual([]);
  }, 180_000);

  test('SIGTERM to the server while 5 children run leaves none behind', async () => {
    const mark = newMark();
    const server = await startSockit(
      ['serve', 'tcp', '0', '--sh-exec', 'cat', '--drain-timeout', '200ms'],
      ['pipe', 'pipe'],
      { SOCKIT_TEST_MARK: mark },
    );
    for (let i = 0; i < 5; i++) {
      const socket = await dial(server.port);
      const lines = new LineReader(socket);
      socket.write(`child ${i}\n`);
      expect(await lines.next()).toBe(`child ${i}`); // its program runs
    }
    const running = programsLeft(mark).length;
    expect(running).toBeGreaterThanOrEqual(5);
    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    const after = (await programsGone(mark)).length;
    measured(
      `exec: SIGTERM with 5 connections — programs running ${running}, after the exit ${after}`,
    );
    expect(after).toBe(0);
  }, 60_000);

  test('a child that ignores SIGTERM is SIGKILLed after the grace, also on a second SIGTERM', async () => {
    const mark = newMark();
    const server = await startSockit(
      ['serve', 'tcp', '0', '--sh-exec', 'trap "" TERM; cat', '--kill-grace', '500ms', '-v'],
      ['pipe', 'pipe'],
      { SOCKIT_TEST_MARK: mark },
    );
    const first = await dial(server.port);
    first.write('one\n');
    expect(await new LineReader(first).next()).toBe('one');
    const reset = performance.now();
    first.resetAndDestroy(); // the connection closes: SIGTERM (ignored), SIGKILL 500 ms later
    await server.waitFor(/killed by SIGKILL/);
    expect(performance.now() - reset).toBeGreaterThanOrEqual(450);
    expect(await programsGone(mark)).toEqual([]);

    const second = await dial(server.port);
    second.write('two\n');
    expect(await new LineReader(second).next()).toBe('two');
    server.child.kill('SIGTERM');
    await server.waitFor(/stopping: waiting/);
    server.child.kill('SIGTERM'); // stop now: the child still gets SIGTERM, then SIGKILL
    expect(await server.exited).toEqual({ code: 143, signal: null });
    expect(await programsGone(mark)).toEqual([]);
  }, 60_000);

  test.each([
    ['Ctrl-C (SIGINT)', ['SIGINT'], 0],
    ['a second Ctrl-C', ['SIGINT', 'SIGINT'], 130],
  ] as const)(
    '%s with 3 children that ignore SIGINT and SIGTERM leaves none behind',
    async (_, signals, code) => {
      const mark = newMark();
      const server = await startSockit(
        [
          'serve',
          'tcp',
          '0',
          '--sh-exec',
          'trap "" INT TERM; cat',
          '--kill-grace',
          '300ms',
          '--drain-timeout',
          '200ms',
        ],
        ['pipe', 'pipe'],
        { SOCKIT_TEST_MARK: mark },
      );
      for (let i = 0; i < 3; i++) {
        const socket = await dial(server.port);
        socket.write(`child ${i}\n`);
        expect(await new LineReader(socket).next()).toBe(`child ${i}`); // its program runs
      }
      expect(programsLeft(mark).length).toBeGreaterThanOrEqual(3);
      server.child.kill(signals[0]);
      if (signals.length > 1) {
        await server.waitFor(/stopping: waiting .* \(Ctrl-C again to stop now\)/);
        server.child.kill(signals[1]!);
      }
      expect(await server.exited).toEqual({ code, signal: null });
      expect(await programsGone(mark)).toEqual([]);
    },
    60_000,
  );

  test("a UDP --sh-exec 'tr a-z A-Z' answers two senders, each its own", async () => {
    const server = await startSockit(['serve', 'udp', '0', '--sh-exec', 'tr a-z A-Z']);
    const ask1 = async (text: string): Promise<string> => {
      const s = createSocket('udp4');
      sockets.push({ destroy: () => s.close() });
      s.bind(0, '127.0.0.1');
      await once(s, 'listening');
      const reply = once(s, 'message');
      s.send(text, server.port, '127.0.0.1');
      return ((await reply)[0] as Buffer).toString();
    };
    const [a, b] = await Promise.all([ask1('hello from a'), ask1('and from b')]);
    expect([a, b]).toEqual(['HELLO FROM A', 'AND FROM B']);
  });

  test('on UDP, --max-conns caps the programs running: a datagram beyond is dropped, with a line', async () => {
    const mark = newMark();
    const server = await startSockit(
      [
        'serve',
        'udp',
        '0',
        '--sh-exec',
        'echo "started $SOCKIT_PROTO" >&2; exec sleep 30',
        '--max-conns',
        '1',
        '--drain-timeout',
        '200ms',
      ],
      ['pipe', 'pipe'],
      { SOCKIT_TEST_MARK: mark },
    );
    const s = createSocket('udp4');
    sockets.push({ destroy: () => s.close() });
    s.send('first', server.port, '127.0.0.1');
    await server.waitFor(/^started udp$/m); // its program runs (and answers in 30 s)
    s.send('second', server.port, '127.0.0.1');
    await server.waitFor(
      /^sockit: warning: dropped 1 datagram — as many programs as allowed are running \(--max-conns\)$/m,
    );
    expect(programsLeft(mark)).toHaveLength(1);
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
    expect(await programsGone(mark)).toEqual([]);
  });

  test('forking workers run the programs too, and a SIGTERM leaves none behind', async () => {
    const mark = newMark();
    const server = await startSockit(
      [
        'serve',
        'tcp',
        '0',
        '--exec',
        '/bin/cat',
        '-m',
        'forking',
        '-w',
        '2',
        '-v',
        '--drain-timeout',
        '200ms',
      ],
      ['pipe', 'pipe'],
      { SOCKIT_TEST_MARK: mark },
    );
    const replies = await mapLimit([0, 1, 2, 3, 4, 5, 6, 7], 4, async (i) =>
      (await ask(server.port, `fork ${i}\n`)).toString(),
    );
    expect(replies).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((i) => `fork ${i}\n`));
    await server.waitFor(/child \d+ for 127\.0\.0\.1:\d+ exited with code 0/); // a worker's note
    const open = await dial(server.port);
    open.write('still running\n');
    expect(await new LineReader(open).next()).toBe('still running');
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
    expect(await programsGone(mark)).toEqual([]);
  }, 60_000);
});

describe('--exec on an address the network can reach', () => {
  test.each([
    [['-H', '0.0.0.0'], true],
    [['-H', '0.0.0.0', '--allow', '127.0.0.1'], false],
    [['-H', 'localhost'], false],
    [[], false],
  ])('%j warns: %s', async (args, warns) => {
    const server = await startSockit(['serve', 'tcp', '0', '--exec', '/bin/cat', ...args]);
    const warning =
      /^sockit: warning: --exec on 0\.0\.0\.0 hands the program to anyone who can reach the port/m;
    if (warns) expect(server.stderr()).toMatch(warning);
    else expect(server.stderr()).not.toMatch(/hands the program/);
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
  });
});

describe('connect --exec', () => {
  test("wires the program to the connection and exits with the program's status", async () => {
    const server = await startSockit(['serve', 'tcp', '0', '-e', 'upper', '--once']);
    const client = startProcess(process.execPath, [
      BIN,
      'connect',
      '--sh-exec',
      'echo "hi $SOCKIT_PROTO $SOCKIT_REMOTE_PORT"; exec 1>&-; read reply; echo "got: $reply" >&2; exit 7',
      '127.0.0.1',
      String(server.port),
    ]);
    expect((await client.exited).code).toBe(7);
    expect(client.stderr()).toContain(`got: HI TCP ${server.port}`);
    expect(client.stdout().length).toBe(0);
  });

  test('exits 1 when the connection fails, 2 when the program cannot run', async () => {
    const server = await startSockit(['serve', 'tcp', '0', '--once']);
    server.child.kill('SIGTERM');
    await server.exited; // a port nobody listens on any more
    const refused = startProcess(process.execPath, [
      BIN,
      'connect',
      '--exec',
      '/bin/cat',
      '127.0.0.1',
      String(server.port),
    ]);
    expect((await refused.exited).code).toBe(1);
    expect(refused.stderr()).toMatch(/^sockit: connect ECONNREFUSED/);
    const missing = startProcess(process.execPath, [
      BIN,
      'connect',
      '--exec',
      '/no/such/prog',
      '127.0.0.1',
      '1',
    ]);
    expect((await missing.exited).code).toBe(2);
    expect(missing.stderr()).toBe("sockit: cannot run '/no/such/prog' — no such file\n");
  });
});
