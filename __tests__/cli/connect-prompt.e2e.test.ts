/**
 * Interactive `connect` on a pseudo-terminal (util-linux `script` gives the CLI a
 * pty for stdin, stdout and stderr): what the peer sends while a line is being
 * typed clears the prompt line, is printed, and the prompt comes back with the
 * typed text; the typed bytes reach the peer as typed. TCP and `connect -u`.
 * The redraw itself, on rows and with the cursor inside the line, is checked on a
 * fake terminal (a Writable with isTTY and columns).
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type RemoteInfo } from 'node:dgram';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import { Buffer } from 'node:buffer';
import { Teardown } from '../helpers/loopback.js';
import { testIf } from '../helpers/skip.js';
import { hasCommand } from '../clients/peers.js';
import { TerminalPrompt } from '../../src/cli/terminal-prompt.js';

const teardown = new Teardown();
afterEach(() => teardown.run());

const testPty = testIf(
  hasCommand('script') ? undefined : 'util-linux script (a pseudo-terminal) is not on PATH',
  import.meta.url,
);

/** `sockit connect args…` on a pty; `until(re)` waits for the screen to match. */
function onTerminal(args: string[]) {
  const bin = new URL('../../bin/sockit.js', import.meta.url).pathname;
  const command = [process.execPath, bin, 'connect', ...args].map((a) => `"${a}"`).join(' ');
  const child: ChildProcess = spawn('script', ['-qec', command, '/dev/null'], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  teardown.add(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'close');
    }
  });
  let screen = '';
  const waiters = new Set<() => void>();
  child.stdout!.on('data', (c: Buffer) => {
    screen += c.toString('latin1');
    for (const w of waiters) w();
  });
  const until = (re: RegExp): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (re.test(screen)) {
          waiters.delete(check);
          resolve();
        } else if (child.exitCode !== null) {
          waiters.delete(check);
          reject(new Error(`connect exited before ${re}: ${JSON.stringify(screen)}`));
        }
      };
      waiters.add(check);
      check();
    });
  return { child, until, type: (keys: string) => child.stdin!.write(keys), screen: () => screen };
}

/** Clear the line, from its start: what hiding a one-row prompt writes. */
const CLEAR = '\\x1b\\[1G\\x1b\\[0J';

describe('interactive connect keeps the prompt whole', () => {
  testPty(
    'tcp: a push while typing is printed above the redrawn prompt and typed text',
    async () => {
      const server = createServer({ allowHalfOpen: true });
      teardown.add(() => new Promise((r) => server.close(r)));
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const received: Buffer[] = [];
      const peer = new Promise<Socket>((resolve) =>
        server.once('connection', (s: Socket) => {
          s.on('data', (d: Buffer) => received.push(d));
          resolve(s);
        }),
      );
      const { port } = server.address() as { port: number };
      const t = onTerminal(['127.0.0.1', String(port)]);
      const socket = await peer;
      await t.until(/> $/);
      t.type('abc');
      await t.until(/> abc$/);
      socket.write('pushed\n');
      await t.until(new RegExp(`> abc${CLEAR}pushed\\r\\n> abc$`));
      t.type('def\n');
      await t.until(/abcdef\r*\n> $/);
      socket.write('no newline');
      await t.until(new RegExp(`> ${CLEAR}no newline\\r\\n> $`)); // the prompt on a line of its own
      const ended = once(socket, 'end');
      t.type('\x04'); // ^D at an empty line: EOF → half-close
      await ended;
      socket.end('bye\n');
      const [code] = await once(t.child, 'close');
      expect(code).toBe(0);
      expect(Buffer.concat(received).toString()).toBe('abcdef\n');
      expect(t.screen()).toMatch(/bye\r\n/);
    },
    30_000,
  );

  testPty(
    'connect -u: a prompt, each line one datagram, a push redrawn the same way',
    async () => {
      const udp = createSocket('udp4');
      teardown.add(() => new Promise<void>((r) => udp.close(() => r())));
      udp.bind(0, '127.0.0.1');
      await once(udp, 'listening');
      const datagrams: string[] = [];
      let sender: RemoteInfo | undefined;
      const next = (): Promise<void> => once(udp, 'message').then(() => undefined);
      udp.on('message', (d: Buffer, from: RemoteInfo) => {
        datagrams.push(d.toString());
        sender = from;
      });
      const t = onTerminal(['-u', '127.0.0.1', String(udp.address().port)]);
      await t.until(/> $/);
      let arrived = next();
      t.type('hi\n');
      await arrived;
      udp.send('HI\n', sender!.port, sender!.address);
      await t.until(new RegExp(`hi\\r*\\n> ${CLEAR}HI\\r\\n> $`));
      t.type('xy');
      await t.until(/> xy$/);
      udp.send('push\n', sender!.port, sender!.address);
      await t.until(new RegExp(`> xy${CLEAR}push\\r\\n> xy$`));
      arrived = next();
      t.type('z\n');
      await arrived;
      t.type('\x04');
      const [code] = await once(t.child, 'close');
      expect(code).toBe(0);
      expect(datagrams).toEqual(['hi\n', 'xyz\n']);
    },
    30_000,
  );
});

/** A fake terminal: a Writable with isTTY and columns that records what is drawn. */
class FakeTerminal extends Writable {
  readonly isTTY = true;
  drawn = '';
  constructor(readonly columns: number) {
    super();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.drawn += chunk.toString();
    cb();
  }
}

/** A fake keyboard: a stream readline can put in raw mode. */
function keyboard(): PassThrough & { isTTY: boolean; setRawMode: (raw: boolean) => void } {
  return Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => undefined });
}

/** Let readline take the keys written so far. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A shown prompt on a fake terminal `columns` wide, after `typed` keys. */
async function typedOn(columns: number, dataOnTerminal: boolean, typed: string) {
  const keys = keyboard();
  const term = new FakeTerminal(columns);
  const prompt = new TerminalPrompt(keys, term, { dataOnTerminal, onInterrupt: () => {} });
  teardown.add(() => prompt.close());
  prompt.show(false);
  keys.write(typed);
  await settle();
  return { term, prompt };
}

describe('TerminalPrompt on a fake terminal', () => {
  test('a typed line over two rows is cleared from its first row, redrawn after the data', async () => {
    // "> " + 14 characters: 16 columns, two rows of 10
    const { term, prompt } = await typedOn(10, true, 'abcdefghijklmn');
    term.drawn = '';
    prompt.hide();
    expect(term.drawn).toBe('\x1b[1A\x1b[1G\x1b[0J');
    prompt.hide(); // hidden already: nothing more
    term.drawn = '';
    prompt.show(true); // the data before had no final newline
    expect(term.drawn).toBe('\n> abcdefghijklmn');
  });

  test('the cursor goes back where it was inside the typed text', async () => {
    const { term, prompt } = await typedOn(80, false, 'hello\x1b[D\x1b[D'); // two left arrows
    prompt.hide();
    term.drawn = '';
    prompt.show(true); // stdout is not this terminal: no newline for it
    expect(term.drawn).toBe('> hello\x1b[2D');
  });

  test('typed lines come out with their newline, ^D ends them, Ctrl-C is reported', async () => {
    const keys = keyboard();
    const term = new FakeTerminal(80);
    let interrupts = 0;
    const prompt = new TerminalPrompt(keys, term, {
      dataOnTerminal: true,
      onInterrupt: () => (interrupts += 1),
    });
    const lines: Buffer[] = [];
    prompt.input.on('data', (c: Buffer) => lines.push(c));
    const ended = once(prompt.input, 'end');
    keys.write('one\rtwo ü\r\x03\x04');
    await ended;
    expect(Buffer.concat(lines).toString()).toBe('one\ntwo ü\n');
    expect(interrupts).toBe(1);
    term.drawn = '';
    expect(prompt.close()).toBe(true); // the prompt after the last line was still drawn
    expect(term.drawn).toBe('\x1b[1G\x1b[0J'); // and close() cleared it
  });
});
