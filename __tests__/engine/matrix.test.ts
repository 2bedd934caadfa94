/**
 * The engine matrix (CPython's test_socketserver): every server class × the
 * echo and upper-case handlers (the built-in class and a user's
 * StreamRequestHandler everywhere, a user's DatagramRequestHandler on datagram
 * servers) × the in-process concurrency models, on real sockets.
 */
import { describe, expect } from '@jest/globals';
import { Buffer } from 'node:buffer';
import type { ConcurrencyMode } from '../../src/engine/base-server.js';
import {
  DatagramRequestHandler,
  StreamRequestHandler,
  type HandlerClass,
} from '../../src/engine/request-handler.js';
import { EchoHandler } from '../../src/handlers/echo.js';
import { UpperCaseHandler } from '../../src/handlers/case.js';
import { isDatagram, runServerCase, TRANSPORTS, type MatrixTransport } from '../helpers/matrix.js';
import { eachIf, unixDgramMissing } from '../helpers/skip.js';

type Kind = 'echo' | 'upper-case';
type Flavour = 'built-in' | 'stream' | 'datagram';

const expected: Record<Kind, (b: Buffer) => Buffer> = {
  echo: (b) => Buffer.from(b),
  'upper-case': (b) => Buffer.from(b.map((c) => (c >= 0x61 && c <= 0x7a ? c - 32 : c))),
};

/** A user's StreamRequestHandler: reads rfile, writes what it maps, on any transport. */
function streamClass(map: (b: Buffer) => Buffer): HandlerClass<never> {
  return class extends StreamRequestHandler {
    override async handle(): Promise<void> {
      for await (const chunk of this.rfile) await this.write(map(chunk as Buffer));
    }
  };
}

/** Python's DatagramRequestHandler way: read rfile, write wfile; the reply leaves in finish(). */
function datagramClass(map: (b: Buffer) => Buffer): HandlerClass<never> {
  return class extends DatagramRequestHandler {
    override async handle(): Promise<void> {
      for await (const chunk of this.rfile) this.wfile.write(map(chunk as Buffer));
    }
  };
}

const HANDLERS: Record<Kind, Record<Flavour, HandlerClass<never>>> = {
  echo: {
    'built-in': EchoHandler,
    stream: streamClass(expected.echo),
    datagram: datagramClass(expected.echo),
  },
  'upper-case': {
    'built-in': UpperCaseHandler,
    stream: streamClass(expected['upper-case']),
    datagram: datagramClass(expected['upper-case']),
  },
};

/** NUL, invalid UTF-8 (lone continuation, bad lead bytes, truncated sequence) and letters. */
const BINARY = Buffer.from([0x00, 0xff, 0xfe, 0x61, 0xc3, 0x28, 0x80, 0x00, 0x7a, 0xe2, 0x82]);

const MODES: readonly ConcurrencyMode[] = ['async', 'sequential'];

const cases: [MatrixTransport, Kind, Flavour, ConcurrencyMode][] = [];
for (const transport of TRANSPORTS) {
  for (const kind of ['echo', 'upper-case'] as const) {
    const flavours: Flavour[] = isDatagram(transport)
      ? ['built-in', 'stream', 'datagram']
      : ['built-in', 'stream'];
    for (const flavour of flavours) {
      for (const mode of MODES) cases.push([transport, kind, flavour, mode]);
    }
  }
}

describe('engine matrix', () => {
  eachIf(
    cases,
    ([transport]) => unixDgramMissing(transport),
    import.meta.url,
  )('%s × %s (%s handler) × %s', async (transport, kind, flavour, mode) => {
    const Handler = HANDLERS[kind][flavour];
    await runServerCase(
      transport,
      Handler,
      async ({ request, server }) => {
        const text = Buffer.from('Hello, sockit\n');
        expect(await request(text)).toEqual(expected[kind](text));
        expect(await request(BINARY)).toEqual(expected[kind](BINARY));
        // Three clients at once: every concurrency model serves them all.
        const many = ['one\n', 'two\n', 'three\n'].map((s) => Buffer.from(s));
        const replies = await Promise.all(many.map((m) => request(m)));
        expect(replies).toEqual(many.map(expected[kind]));
        expect(server.stats.requests).toBe(5);
        expect(server.stats.errors).toBe(0);
      },
      { mode },
    );
  });
});
