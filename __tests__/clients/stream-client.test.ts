/**
 * The stream client in-process, with PassThrough streams for stdin/stdout:
 * netcat's half-close orderings, -k/-q/--send-only/--recv-only/-C, idle
 * timeout, EPIPE on the output, backpressure, and `send`.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { PassThrough, Writable } from 'node:stream';
import { randomBytes, createHash } from 'node:crypto';
import { Buffer } from 'node:buffer';
import type { Socket } from 'node:net';
import {
  connectPipe,
  CrlfTranslator,
  openConnection,
  pipeSocket,
  send,
} from '../../src/clients/stream-client.js';
import { NetworkError } from '../../src/net/errors.js';
import { EchoHandler } from '../../src/handlers/echo.js';
import { UpperCaseHandler } from '../../src/handlers/case.js';
import { collect, tempSocketPath, Teardown } from '../helpers/loopback.js';
import { engineTcp, engineUnix, freePort, rawTcp } from './peers.js';

const teardown = new Teardown();
afterEach(() => teardown.run());

/** Read everything a socket sends until its FIN. */
function readAllOf(s: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  return new Promise((resolve) => s.once('end', () => resolve(Buffer.concat(chunks))));
}

function sink(): { stream: PassThrough; data: () => Buffer } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, data: () => Buffer.concat(chunks) };
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('openConnection', () => {
  test('a refusal is a NetworkError with the OS wording', async () => {
    const port = await freePort();
    const err = await openConnection({ host: '127.0.0.1', port }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect((err as NetworkError).message).toBe(`connect ECONNREFUSED 127.0.0.1:${port}`);
    expect((err as NetworkError).errno).toBe('ECONNREFUSED');
  });

  test('every resolved address is tried in turn; all failures are named', async () => {
    const port = await freePort();
    const lookup = async () => [
      { address: '::1', family: 6 as const },
      { address: '127.0.0.1', family: 4 as const },
    ];
    const err = (await openConnection({ host: 'dual.test', port }, { lookup }).catch(
      (e: unknown) => e,
    )) as NetworkError;
    expect(err.message).toMatch(
      new RegExp(`^cannot connect to dual.test:${port} — .*127\\.0\\.0\\.1:${port}$`),
    );
    const open = await engineTcp(EchoHandler as never, teardown);
    const s = await openConnection({ host: 'dual.test', port: open }, { lookup });
    expect(s.remoteAddress).toBe('127.0.0.1');
    s.destroy();
  });

  test('a unix stream socket', async () => {
    const tmp = tempSocketPath();
    teardown.add(tmp.cleanup);
    await engineUnix(UpperCaseHandler as never, tmp.path, teardown);
    const input = new PassThrough();
    const out = sink();
    input.end('over unix\n');
    const r = await connectPipe({ path: tmp.path }, input, out.stream);
    expect(out.data().toString()).toBe('OVER UNIX\n');
    expect(r.reason).toBe('peer-closed');
  });
});

describe('pipeSocket: half-close orderings', () => {
  test('peer reads to EOF, then replies: 4 MiB of random bytes echoed byte-exact', async () => {
    const port = await engineTcp(EchoHandler as never, teardown);
    const data = randomBytes(4 * 1024 * 1024);
    const input = new PassThrough();
    const out = sink();
    input.end(data);
    const r = await connectPipe({ host: '127.0.0.1', port }, input, out.stream);
    expect(sha(out.data())).toBe(sha(data));
    expect(r).toEqual({
      reason: 'peer-closed',
      bytesSent: data.length,
      bytesReceived: data.length,
    });
  });

  test('peer replies before reading, then reads to EOF and answers again', async () => {
    const { port } = await rawTcp((s) => {
      s.write('banner\n');
      void readAllOf(s).then((got) => s.end(`got ${got.length}\n`));
    }, teardown);
    const input = new PassThrough();
    const out = sink();
    const done = connectPipe({ host: '127.0.0.1', port }, input, out.stream);
    input.end('abc');
    await done;
    expect(out.data().toString()).toBe('banner\ngot 3\n');
  });

  test('peer closes first while the input stays open: the pipe ends at once', async () => {
    const { port } = await rawTcp((s) => s.end('bye\n'), teardown);
    const input = new PassThrough(); // never ended
    const out = sink();
    const r = await connectPipe({ host: '127.0.0.1', port }, input, out.stream);
    expect(r.reason).toBe('peer-closed');
    expect(out.data().toString()).toBe('bye\n');
    expect(input.readableEnded).toBe(false);
    expect(input.isPaused()).toBe(true);
  });

  test('-k: after the peer half-closes, the input is still sent until it ends', async () => {
    let received: Promise<Buffer> | undefined;
    const { port } = await rawTcp((s) => {
      received = readAllOf(s);
      s.end('bye\n'); // our FIN first; keep reading
    }, teardown);
    const input = new PassThrough();
    const out = sink();
    const socketDone = connectPipe({ host: '127.0.0.1', port }, input, out.stream, {
      keepOpen: true,
      onConnect: () => undefined,
    });
    input.write('one ');
    // the server's FIN has to be seen before the rest is sent: wait for 'bye'
    await new Promise<void>((resolve) => {
      const check = (): void => (out.data().toString() === 'bye\n' ? resolve() : undefined);
      out.stream.on('data', check);
      check();
    });
    input.end('two');
    const r = await socketDone;
    expect(await received).toEqual(Buffer.from('one two'));
    expect(r.bytesSent).toBe(7);
  });

  test('-q 0: quits right after the input is sent, though the peer never closes', async () => {
    let received: Promise<Buffer> | undefined;
    const { port } = await rawTcp((s) => {
      received = readAllOf(s);
    }, teardown);
    const input = new PassThrough();
    input.end('fire and forget');
    const r = await connectPipe({ host: '127.0.0.1', port }, input, sink().stream, {
      quitAfterEof: 0,
    });
    expect(r.reason).toBe('quit-timer');
    expect((await received)!.toString()).toBe('fire and forget');
  });

  test('--send-only: what the peer sends is not written', async () => {
    const port = await engineTcp(EchoHandler as never, teardown);
    const input = new PassThrough();
    const out = sink();
    input.end('echo me');
    const r = await connectPipe({ host: '127.0.0.1', port }, input, out.stream, {
      sendOnly: true,
    });
    expect(out.data()).toHaveLength(0);
    expect(r.bytesSent).toBe(7);
  });

  test('--recv-only: the input is never read, replies are printed', async () => {
    const { port } = await rawTcp((s) => s.end('hello'), teardown);
    const input = new PassThrough();
    input.write('not read');
    const out = sink();
    const r = await connectPipe({ host: '127.0.0.1', port }, input, out.stream, {
      recvOnly: true,
    });
    expect(out.data().toString()).toBe('hello');
    expect(r.bytesSent).toBe(0);
    expect(input.read()?.toString()).toBe('not read');
  });

  test('--idle-timeout ends a silent connection', async () => {
    await rawTcp(() => undefined, teardown).then(async ({ port }) => {
      const r = await connectPipe({ host: '127.0.0.1', port }, new PassThrough(), sink().stream, {
        idleTimeout: 0.2,
      });
      expect(r.reason).toBe('idle-timeout');
    });
  });

  test('an abort signal ends the pipe', async () => {
    const { port } = await rawTcp(() => undefined, teardown);
    const ac = new AbortController();
    const p = connectPipe({ host: '127.0.0.1', port }, new PassThrough(), sink().stream, {
      signal: ac.signal,
      onConnect: () => ac.abort(),
    });
    await expect(p).resolves.toMatchObject({ reason: 'aborted' });
  });

  test('a reset from the peer is a NetworkError', async () => {
    const { port } = await rawTcp((s) => s.once('data', () => s.resetAndDestroy()), teardown);
    const input = new PassThrough();
    input.write('x');
    const p = connectPipe({ host: '127.0.0.1', port }, input, sink().stream);
    await expect(p).rejects.toThrow(/connection lost — .*ECONNRESET/);
  });
});

describe('pipeSocket: output', () => {
  test('pipes an already open socket (the function connect uses)', async () => {
    const port = await engineTcp(UpperCaseHandler as never, teardown);
    const socket = await openConnection({ host: '127.0.0.1', port });
    const input = new PassThrough();
    const out = sink();
    input.end('abc');
    const r = await pipeSocket(socket, input, out.stream);
    expect(out.data().toString()).toBe('ABC');
    expect(r.reason).toBe('peer-closed');
    expect(socket.destroyed).toBe(true);
  });

  test('EPIPE on the output ends the pipe quietly', async () => {
    const { port } = await rawTcp((s) => s.write('data that nobody reads'), teardown);
    const broken = new Writable({
      write(_chunk, _enc, cb) {
        cb(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      },
    });
    const r = await connectPipe({ host: '127.0.0.1', port }, new PassThrough(), broken);
    expect(r.reason).toBe('output-closed');
  });

  test('a slow output gets every byte (backpressure pauses the socket)', async () => {
    const port = await engineTcp(EchoHandler as never, teardown);
    const data = randomBytes(2 * 1024 * 1024);
    const chunks: Buffer[] = [];
    let maxBuffered = 0;
    const slow = new Writable({
      highWaterMark: 16 * 1024,
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk);
        maxBuffered = Math.max(maxBuffered, slow.writableLength);
        setImmediate(cb);
      },
    });
    const input = new PassThrough();
    input.end(data);
    await connectPipe({ host: '127.0.0.1', port }, input, slow);
    expect(sha(Buffer.concat(chunks))).toBe(sha(data));
    // never more than a socket read beyond the high-water mark was queued
    expect(maxBuffered).toBeLessThan(1024 * 1024);
  });

  test('endOutput ends the output stream when the pipe is done', async () => {
    const port = await engineTcp(EchoHandler as never, teardown);
    const input = new PassThrough();
    const out = new PassThrough();
    input.end('bye');
    const [got] = await Promise.all([
      collect(out),
      connectPipe({ host: '127.0.0.1', port }, input, out, { endOutput: true }),
    ]);
    expect(got.toString()).toBe('bye');
  });
});

describe('-C: LF to CRLF', () => {
  test('bare LFs become CRLF, existing CRLFs are kept, across chunk boundaries', () => {
    const t = new CrlfTranslator();
    const out = Buffer.concat(
      ['a\nb', '\r', '\nc\n\n', 'd'].map((s) => t.push(Buffer.from(s))),
    ).toString();
    expect(out).toBe('a\r\nb\r\nc\r\n\r\nd');
  });

  test('only what is sent from the input is translated, not the replies', async () => {
    let received: Promise<Buffer> | undefined;
    const { port } = await rawTcp((s) => {
      received = readAllOf(s);
      void received.then(() => s.end('reply\n'));
    }, teardown);
    const input = new PassThrough();
    const out = sink();
    input.end('GET / HTTP/1.0\n\n');
    await connectPipe({ host: '127.0.0.1', port }, input, out.stream, { crlf: true });
    expect((await received)!.toString()).toBe('GET / HTTP/1.0\r\n\r\n');
    expect(out.data().toString()).toBe('reply\n');
  });
});

describe('send', () => {
  test('one request, the whole reply, counts and rtt', async () => {
    const port = await engineTcp(UpperCaseHandler as never, teardown);
    const r = await send({ host: '127.0.0.1', port }, 'hello\n');
    expect(r.reply.toString()).toBe('HELLO\n');
    expect(r).toMatchObject({ sent: 6, received: 6, ended: 'peer-closed' });
    expect(r.rttMs).toBeGreaterThanOrEqual(0);
  });

  test('a stream payload is sent to its end, the reply streamed to an output', async () => {
    const port = await engineTcp(EchoHandler as never, teardown);
    const data = randomBytes(1024 * 1024);
    const input = new PassThrough();
    input.end(data);
    const out = sink();
    const r = await send({ host: '127.0.0.1', port }, input, { output: out.stream });
    expect(sha(out.data())).toBe(sha(data));
    expect(r.reply).toHaveLength(0);
    expect(r.received).toBe(data.length);
  });

  test('no reply when the peer closes without answering', async () => {
    const { port } = await rawTcp((s) => {
      s.resume();
      s.once('end', () => s.end());
    }, teardown);
    const r = await send({ host: '127.0.0.1', port }, 'anyone?');
    expect(r).toMatchObject({ received: 0, ended: 'peer-closed', rttMs: undefined });
  });

  test('the reply timeout keeps what came so far', async () => {
    const { port } = await rawTcp((s) => s.write('partial'), teardown);
    const r = await send({ host: '127.0.0.1', port }, 'x', { replyTimeout: 0.3 });
    expect(r).toMatchObject({ received: 7, ended: 'timeout' });
    expect(r.reply.toString()).toBe('partial');
  });

  test('a refusal rejects', async () => {
    const port = await freePort();
    await expect(send({ host: '127.0.0.1', port }, 'x')).rejects.toThrow(NetworkError);
  });
});
