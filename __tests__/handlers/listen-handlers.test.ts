/**
 * The handlers of netcat's listen half, in-process on real loopback servers:
 * stdio with test streams for stdin and stdout (streams and datagrams), exec on
 * datagrams with its limit of children and its end when the server closes, the
 * refusals of broker and chat on datagrams, the chat's escaping, and the CLI's
 * small parsers (`sockit -l`, sizes).
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { Buffer } from 'node:buffer';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { TCPServer } from '../../src/engine/stream-server.js';
import { UDPServer } from '../../src/engine/datagram-server.js';
import type { HandlerClass, StreamRequest, Datagram } from '../../src/engine/request-handler.js';
import { StdioHandler, StdioPort } from '../../src/handlers/stdio.js';
import { ExecHandler } from '../../src/handlers/exec.js';
import { BrokerHandler } from '../../src/handlers/broker.js';
import { ChatHandler, escapeControls } from '../../src/handlers/chat.js';
import { HANDLER_NOTE, type HandlerNote } from '../../src/handlers/notes.js';
import { shellCommand } from '../../src/net/exec-command.js';
import { netcatListen } from '../../src/cli/nc-habit.js';
import { sizeArg } from '../../src/cli/handler-options.js';
import { findHandler } from '../../src/handlers/registry.js';

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of closers.splice(0).reverse()) await fn();
});

/** Listen, serve for ever, and close after the test. */
async function serving<S extends TCPServer | UDPServer>(
  server: S,
): Promise<{ server: S; port: number }> {
  closers.push(() => server.serverClose({ graceMs: 0 }));
  const address = await server.listen();
  void server.serveForever();
  return { server, port: (address as { port: number }).port };
}

const LOOPBACK = { host: '127.0.0.1', port: 0 };
const tcp = (Handler: unknown, options: object) =>
  serving(new TCPServer(LOOPBACK, Handler as HandlerClass<StreamRequest>, options));
const udp = (Handler: unknown, options: object) =>
  serving(new UDPServer(LOOPBACK, Handler as HandlerClass<Datagram>, options));

async function udpClient() {
  const socket = createSocket('udp4');
  closers.push(() => socket.close());
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  return socket;
}

/** Resolves when `stream` has carried at least `n` bytes; with all it carried. */
function collected(stream: PassThrough): (n: number) => Promise<string> {
  let text = '';
  const waiters = new Set<() => void>();
  stream.on('data', (c: Buffer) => {
    text += c.toString();
    for (const w of [...waiters]) w();
  });
  return (n) =>
    new Promise((resolve) => {
      const check = (): void => {
        if (text.length < n) return;
        waiters.delete(check);
        resolve(text);
      };
      waiters.add(check);
      check();
    });
}

describe('stdio', () => {
  test('streams: the peer to the output, the input to the peer, one connection at a time', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    const port = new StdioPort({ input, output });
    const seen = collected(output);
    const { port: tcpPort } = await tcp(StdioHandler, { stdio: port });
    const a = connect({ port: tcpPort, host: '127.0.0.1', allowHalfOpen: true });
    const aGot: Buffer[] = [];
    a.on('data', (c: Buffer) => aGot.push(c));
    a.write('from a\n');
    expect(await seen(7)).toBe('from a\n');
    const b = connect({ port: tcpPort, host: '127.0.0.1', allowHalfOpen: true });
    await once(b, 'connect');
    b.end('from b\n'); // waits for its turn
    input.write('to a\n');
    await once(a, 'data');
    expect(Buffer.concat(aGot).toString()).toBe('to a\n');
    a.end();
    await once(a, 'end');
    expect(await seen(14)).toBe('from a\nfrom b\n');
    input.end();
    expect(port.inputEnded).toBe(false); // nobody holds the input: its end is not read yet
    a.destroy();
    b.destroy();
  });

  test('datagrams: each one to the output, the input to the most recent sender', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    const seen = collected(output);
    const { port } = await udp(StdioHandler, {
      stdio: new StdioPort({ input, output, lines: true }),
    });
    const first = await udpClient();
    const second = await udpClient();
    first.send('one\n', port, '127.0.0.1');
    await seen(4);
    second.send('two\n', port, '127.0.0.1');
    await seen(8);
    const got = once(second, 'message');
    input.write('a line\nand a half');
    expect(((await got)[0] as Buffer).toString()).toBe('a line\n');
    const rest = once(second, 'message');
    input.end(' line\n');
    expect(((await rest)[0] as Buffer).toString()).toBe('and a half line\n');
    expect(await seen(8)).toBe('one\ntwo\n');
  });

  test('without the stdio option the handler fails in one line', async () => {
    const { server, port } = await tcp(StdioHandler, {});
    const failed = once(server, 'requestError');
    connect(port, '127.0.0.1').on('error', () => undefined);
    const [err] = (await failed) as [Error];
    expect(err.message).toBe(
      'the stdio handler needs the server option stdio: new StdioPort({ input, output })',
    );
  });
});

describe('exec on datagrams', () => {
  test('at most maxChildren at once; the rest dropped; the children end with the server', async () => {
    const { server, port } = await udp(ExecHandler, {
      exec: shellCommand('cat; exec sleep 60'),
      maxChildren: 1,
      killGrace: 0.2,
    });
    const notes: HandlerNote[] = [];
    const exited = new Promise<HandlerNote>((resolve) =>
      server.on(HANDLER_NOTE, (n: HandlerNote) => {
        notes.push(n);
        if (n.event === 'child-exit') resolve(n);
      }),
    );
    const dropped = once(server, 'dropped');
    const client = await udpClient();
    client.send('first', port, '127.0.0.1');
    // the first child is there once the server counts a request running
    for (let i = 0; i < 1000 && server.activeRequests === 0; i++) await once(server, 'request');
    client.send('second', port, '127.0.0.1');
    expect((await dropped)[1]).toBe('exec-limit');
    await server.serverClose({ graceMs: 0 });
    const note = await exited;
    expect(note.fields).toMatchObject({ signal: 'SIGTERM', code: null });
  });

  test('the reply is what the child printed', async () => {
    const { port } = await udp(ExecHandler, { exec: shellCommand('tr a-z A-Z') });
    const client = await udpClient();
    const reply = once(client, 'message');
    client.send('shout', port, '127.0.0.1');
    expect(((await reply)[0] as Buffer).toString()).toBe('SHOUT');
  });
});

describe('broker and chat', () => {
  test.each([
    ['broker', BrokerHandler],
    ['chat', ChatHandler],
  ])('%s refuses datagrams in one line', async (name, Handler) => {
    const { server, port } = await udp(Handler, {});
    const failed = once(server, 'requestError');
    const client = await udpClient();
    client.send('x', port, '127.0.0.1');
    const [err] = (await failed) as [Error];
    expect(err.message).toBe(
      `the ${name} handler serves stream connections (tcp, unix), not datagrams`,
    );
  });

  test.each([
    ['plain text', 'plain text'],
    ['\x1b[31mred\x1b[0m', '\\x1b[31mred\\x1b[0m'],
    ['tab\tstays', 'tab\tstays'],
    ['bell\x07 del\x7f nul\x00', 'bell\\x07 del\\x7f nul\\x00'],
    ['c1 \u009b csi', 'c1 \\x9b csi'],
    ['é ü 漢字', 'é ü 漢字'],
  ])('escapeControls(%j)', (raw, shown) => {
    expect(escapeControls(Buffer.from(raw))).toBe(shown);
  });

  test('invalid UTF-8 becomes U+FFFD', () => {
    expect(escapeControls(Buffer.from([0x61, 0xff, 0x62]))).toBe('a\uFFFDb');
  });
});

describe('the CLI around them', () => {
  test.each([
    [
      ['-l', '9000'],
      ['listen', '9000'],
    ],
    [
      ['-lu', '9000'],
      ['listen', '-u', '9000'],
    ],
    [
      ['-kl', '9000'],
      ['listen', '-k', '9000'],
    ],
    [
      ['-v', '-lk', '0'],
      ['listen', '-v', '-k', '0'],
    ],
    [
      ['serve', 'tcp', '-l'],
      ['serve', 'tcp', '-l'],
    ],
    [
      ['connect', 'h', '1'],
      ['connect', 'h', '1'],
    ],
    [['--lines'], ['--lines']],
  ])('sockit %j runs sockit %j', (args, expected) => {
    expect(netcatListen(['node', 'sockit', ...args]).slice(2)).toEqual(expected);
  });

  test.each([
    ['65536', 65536],
    ['64k', 65536],
    ['1M', 1048576],
    ['1MiB', 1048576],
    ['2g', 2 * 1024 ** 3],
  ])('sizeArg(%s)', (text, bytes) => {
    expect(sizeArg(text)).toBe(bytes);
  });

  test.each(['0', '-1', '1.5M', 'lots', ''])('sizeArg(%j) is refused', (text) => {
    expect(() => sizeArg(text)).toThrow();
  });

  test('the new handlers are in the registry', () => {
    for (const name of ['stdio', 'exec', 'broker', 'chat'])
      expect(findHandler(name)?.name).toBe(name);
  });
});
