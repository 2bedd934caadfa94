/**
 * Request handlers: runHandler's setup/handle/finish contract, the
 * functionHandler() form on every transport, DatagramConnection.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { Buffer } from 'node:buffer';
import { once } from 'node:events';
import { connect } from 'node:net';
import type { SocketAddress } from '../../src/net/address.js';
import {
  BaseRequestHandler,
  DatagramConnection,
  DatagramRequestHandler,
  StreamRequestHandler,
  functionHandler,
  isSubclassOf,
  isThenable,
  runHandler,
  type Datagram,
  type FunctionHandlerInfo,
} from '../../src/engine/request-handler.js';
import { collect, Teardown } from '../helpers/loopback.js';
import { drain, runServerCase, TRANSPORTS } from '../helpers/matrix.js';
import { eachIf, unixDgramMissing } from '../helpers/skip.js';

const teardown = new Teardown();
afterEach(() => teardown.run());

const PEER: SocketAddress = { family: 'IPv4', address: '127.0.0.1', port: 1 };

function fakeDatagram(data: string): Datagram & { replies: Buffer[] } {
  const replies: Buffer[] = [];
  return {
    data: Buffer.from(data),
    clientAddress: PEER,
    bytesOut: 0,
    replies,
    reply(out: Uint8Array) {
      replies.push(Buffer.from(out));
      this.bytesOut += out.length;
      return Promise.resolve();
    },
  };
}

describe('runHandler', () => {
  test('stays synchronous when every hook is (no promise for simple handlers)', () => {
    const log: string[] = [];
    class Sync extends BaseRequestHandler<null> {
      override setup(): void {
        log.push('setup');
      }
      override handle(): void {
        log.push('handle');
      }
      override finish(): void {
        log.push('finish');
      }
    }
    const result = runHandler(new Sync(null, PEER, null as never));
    expect(result).toBeUndefined();
    expect(log).toEqual(['setup', 'handle', 'finish']);
  });

  test('returns a promise as soon as one hook is async, and keeps the order', async () => {
    const log: string[] = [];
    class Mixed extends BaseRequestHandler<null> {
      override async setup(): Promise<void> {
        await Promise.resolve();
        log.push('setup');
      }
      override handle(): void {
        log.push('handle');
      }
      override async finish(): Promise<void> {
        await Promise.resolve();
        log.push('finish');
      }
    }
    const result = runHandler(new Mixed(null, PEER, null as never));
    expect(isThenable(result)).toBe(true);
    await result;
    expect(log).toEqual(['setup', 'handle', 'finish']);
  });

  test('finish() runs after a failing handle() and the error is re-thrown (sync)', () => {
    const log: string[] = [];
    class Fails extends BaseRequestHandler<null> {
      override handle(): void {
        throw new Error('handle failed');
      }
      override finish(): void {
        log.push('finish');
      }
    }
    expect(() => runHandler(new Fails(null, PEER, null as never))).toThrow('handle failed');
    expect(log).toEqual(['finish']);
  });

  test('an async finish() after a failing handle() still re-throws the handle error', async () => {
    const log: string[] = [];
    class Fails extends BaseRequestHandler<null> {
      override async handle(): Promise<void> {
        throw new Error('async handle failed');
      }
      override async finish(): Promise<void> {
        log.push('finish');
      }
    }
    await expect(runHandler(new Fails(null, PEER, null as never))).rejects.toThrow(
      'async handle failed',
    );
    expect(log).toEqual(['finish']);
  });

  test('the base class hooks do nothing', () => {
    expect(runHandler(new BaseRequestHandler(null, PEER, null as never))).toBeUndefined();
  });
});

describe('functionHandler', () => {
  eachIf(
    TRANSPORTS,
    unixDgramMissing,
    import.meta.url,
  )('(data, info) => reply runs on %s', async (transport) => {
    const calls: FunctionHandlerInfo[] = [];
    const Handler = functionHandler(function shout(data, info) {
      calls.push(info);
      return `${info.kind}:${data.toString().toUpperCase()}`;
    });
    expect(Handler.name).toBe('shout');
    await runServerCase(transport, Handler as never, async ({ request }) => {
      const reply = await request('hi');
      const kind = transport === 'tcp' || transport === 'unix' ? 'stream' : 'datagram';
      expect(reply.toString()).toBe(`${kind}:HI`);
      expect(calls).toEqual([{ clientAddress: expect.any(Object), kind, index: 0 }]);
    });
  });

  test('on a stream it is called per chunk read, with an increasing index', async () => {
    const indexes: number[] = [];
    const Handler = functionHandler((data, info) => {
      indexes.push(info.index);
      return data;
    });
    await runServerCase('tcp', Handler as never, async ({ address }) => {
      if (address.family === 'unix') throw new Error('tcp expected');
      const s = connect(address.port, address.address);
      teardown.add(() => s.destroy());
      await once(s, 'connect');
      const got = collect(s);
      s.write('one');
      await once(s, 'data');
      s.end('two');
      expect((await got).toString()).toBe('onetwo');
    });
    expect(indexes).toEqual([0, 1]);
  });

  eachIf(
    ['udp', 'unix-dgram'] as const,
    unixDgramMissing,
    import.meta.url,
  )(
    'is called for an empty datagram too on %s (and may reply with an empty one)',
    async (transport) => {
      const seen: number[] = [];
      const Handler = functionHandler((data) => {
        seen.push(data.length);
        return Buffer.alloc(0);
      });
      await runServerCase(transport, Handler as never, async ({ request }) => {
        const reply = await request(Buffer.alloc(0));
        expect(reply.length).toBe(0);
      });
      expect(seen).toEqual([0]);
    },
  );

  test('null or undefined sends nothing; a promise of a reply is awaited', async () => {
    const Handler = functionHandler(async (data) => (data.toString() === 'skip' ? null : data));
    await runServerCase('tcp', Handler as never, async ({ request, address }) => {
      if (address.family === 'unix') throw new Error('tcp expected');
      expect((await request('skip')).length).toBe(0);
      expect((await request('keep')).toString()).toBe('keep');
      const s = connect(address.port, address.address);
      teardown.add(() => s.destroy());
      s.end('skip');
      expect((await drain(s)).data.length).toBe(0);
    });
  });

  test('a function that throws is a handler error', async () => {
    const Handler = functionHandler(() => {
      throw new Error('fn failed');
    }, 'thrower');
    expect(Handler.name).toBe('thrower');
    await runServerCase('tcp', Handler as never, async ({ server, address }) => {
      const errors: unknown[] = [];
      server.on('requestError', (e) => errors.push(e));
      if (address.family === 'unix') throw new Error('tcp expected');
      const s = connect(address.port, address.address);
      teardown.add(() => s.destroy());
      s.write('x');
      await drain(s);
      expect(errors).toEqual([expect.objectContaining({ message: 'fn failed' })]);
    });
  });
});

describe('DatagramConnection', () => {
  test('reads the datagram then ends; what is written goes back as one datagram', async () => {
    const dg = fakeDatagram('payload');
    const conn = new DatagramConnection(dg);
    // (a plain `for await` would destroy it at the end; handlers read rfile, which does not)
    expect((await collect(conn.iterator({ destroyOnReturn: false }))).toString()).toBe('payload');
    conn.write('a');
    conn.write(Buffer.from('b'));
    await conn.flushReply();
    expect(dg.replies.map(String)).toEqual(['ab']);
    expect(dg.bytesOut).toBe(2);
  });

  test('sends nothing if nothing was written; an empty write sends an empty datagram', async () => {
    const quiet = fakeDatagram('x');
    await new DatagramConnection(quiet).flushReply();
    expect(quiet.replies).toEqual([]);
    const empty = fakeDatagram('x');
    const conn = new DatagramConnection(empty);
    conn.write(Buffer.alloc(0));
    await conn.flushReply();
    expect(empty.replies).toEqual([Buffer.alloc(0)]);
  });
});

describe('DatagramRequestHandler', () => {
  test('replies in finish() with what wfile collected — empty when nothing was written', async () => {
    const dg = fakeDatagram('q');
    class Quiet extends DatagramRequestHandler {}
    await runHandler(new Quiet(dg, PEER, null as never));
    expect(dg.replies).toEqual([Buffer.alloc(0)]);
    const dg2 = fakeDatagram('q');
    class Talks extends DatagramRequestHandler {
      override handle(): void {
        this.wfile.write('1');
        this.wfile.write('2');
      }
    }
    await runHandler(new Talks(dg2, PEER, null as never));
    expect(dg2.replies.map(String)).toEqual(['12']);
  });

  test('rfile is read-only', async () => {
    const h = new DatagramRequestHandler(fakeDatagram('r'), PEER, null as never);
    const failed = once(h.rfile, 'error');
    (h.rfile as unknown as NodeJS.WritableStream).write('no');
    const [err] = (await failed) as [Error];
    expect(err.message).toBe('this stream is read-only');
  });
});

describe('isSubclassOf', () => {
  test('recognises subclasses and the class itself, nothing else', () => {
    class Mine extends StreamRequestHandler {}
    expect(isSubclassOf(Mine, StreamRequestHandler)).toBe(true);
    expect(isSubclassOf(StreamRequestHandler, StreamRequestHandler)).toBe(true);
    expect(isSubclassOf(Mine, DatagramRequestHandler)).toBe(false);
    expect(isSubclassOf(() => undefined, BaseRequestHandler)).toBe(false);
    expect(isSubclassOf('Mine', BaseRequestHandler)).toBe(false);
  });
});
