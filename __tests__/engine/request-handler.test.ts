/**
 * Request handlers: runHandler's setup/handle/finish contract, the
 * functionHandler() form on every transport, the DatagramConnection every handler
 * gets on datagram servers, and the handler classes built on it.
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
  runDatagramHandler,
  runHandler,
  type FunctionHandlerInfo,
} from '../../src/engine/request-handler.js';
import { collect, Teardown } from '../helpers/loopback.js';
import { drain, runServerCase, TRANSPORTS } from '../helpers/matrix.js';
import { eachIf, unixDgramMissing } from '../helpers/skip.js';

const teardown = new Teardown();
afterEach(() => teardown.run());

const PEER: SocketAddress = { family: 'IPv4', address: '127.0.0.1', port: 1 };

/** A datagram connection whose replies are kept (the transport part, in memory). */
class KeptReplies extends DatagramConnection {
  readonly replies: Buffer[] = [];
  reply(out: Uint8Array): Promise<void> {
    this.replies.push(Buffer.from(out));
    this.bytesOut += out.length;
    return Promise.resolve();
  }
}

function fakeDatagram(data: string): KeptReplies {
  return new KeptReplies(Buffer.from(data), PEER);
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
  test('rfile yields the datagram once, then ends; an empty datagram ends at once', async () => {
    expect((await collect(fakeDatagram('payload').rfile)).toString()).toBe('payload');
    const empty = fakeDatagram('').rfile;
    const chunks: unknown[] = [];
    empty.on('data', (c) => chunks.push(c));
    await once(empty, 'end');
    expect(chunks).toEqual([]);
  });

  test('what wfile and appendReply() collect goes back as one datagram, in order', async () => {
    const dg = fakeDatagram('x');
    dg.wfile.write('a');
    dg.appendReply(Buffer.from('b'));
    dg.wfile.write(new Uint8Array([0x63]));
    dg.appendReply('d');
    expect(dg.replyPending).toBe(true);
    await dg.flushReply();
    expect(dg.replies.map(String)).toEqual(['abcd']);
    expect(dg.bytesOut).toBe(4);
    expect(dg.replyPending).toBe(false);
  });

  test('flushReply() sends nothing if nothing was written, unless told to; an empty write sends an empty datagram', async () => {
    const quiet = fakeDatagram('x');
    expect(quiet.flushReply()).toBeUndefined(); // nothing to send, not even a promise
    expect(quiet.replies).toEqual([]);
    await quiet.flushReply(true);
    expect(quiet.replies).toEqual([Buffer.alloc(0)]);
    const empty = fakeDatagram('x');
    empty.wfile.write(Buffer.alloc(0));
    await empty.flushReply();
    expect(empty.replies).toEqual([Buffer.alloc(0)]);
  });

  test('a reply of one write is the written buffer itself (no copy)', async () => {
    const dg = fakeDatagram('x');
    dg.appendReply(dg.data);
    await dg.flushReply();
    expect(dg.replies).toEqual([dg.data]);
  });

  test('rfile and wfile are made once each, and are two streams', () => {
    const dg = fakeDatagram('x');
    expect(dg.rfile).toBe(dg.rfile);
    expect(dg.wfile).toBe(dg.wfile);
    expect(dg.rfile).not.toBe(dg.wfile);
  });
});

describe('runDatagramHandler', () => {
  test('a StreamRequestHandler reads rfile, writes wfile; the reply leaves after finish()', async () => {
    const dg = fakeDatagram('line one\nline two\n');
    const log: string[] = [];
    class Lines extends StreamRequestHandler {
      override async handle(): Promise<void> {
        const { createInterface } = await import('node:readline');
        for await (const line of createInterface({ input: this.rfile, crlfDelay: Infinity })) {
          await this.write(`<${line}>`);
        }
        log.push(`handled, ${dg.replies.length} sent`);
      }
      override finish(): void {
        this.wfile.write('!');
        log.push(`finished, ${dg.replies.length} sent`);
      }
    }
    await runDatagramHandler(new Lines(dg, PEER, null as never), dg);
    expect(dg.replies.map(String)).toEqual(['<line one><line two>!']);
    expect(log).toEqual(['handled, 0 sent', 'finished, 0 sent']);
  });

  test('a StreamRequestHandler that writes nothing sends nothing, synchronously', () => {
    const dg = fakeDatagram('q');
    expect(
      runDatagramHandler(new StreamRequestHandler(dg, PEER, null as never), dg),
    ).toBeUndefined();
    expect(dg.replies).toEqual([]);
  });

  test('a failing handler sends nothing and the error comes out', async () => {
    const dg = fakeDatagram('q');
    class Fails extends StreamRequestHandler {
      override async handle(): Promise<void> {
        await this.write('half a reply');
        throw new Error('nope');
      }
    }
    await expect(runDatagramHandler(new Fails(dg, PEER, null as never), dg)).rejects.toThrow(
      'nope',
    );
    expect(dg.replies).toEqual([]);
  });

  test('a BaseRequestHandler gets the connection as request: data and reply() as before', async () => {
    const dg = fakeDatagram('ping');
    class Direct extends BaseRequestHandler<DatagramConnection> {
      override handle(): Promise<void> {
        return this.request.reply(Buffer.from(`${this.request.data}/pong`));
      }
    }
    await runDatagramHandler(new Direct(dg, PEER, null as never), dg);
    expect(dg.replies.map(String)).toEqual(['ping/pong']);
  });
});

describe('DatagramRequestHandler', () => {
  test('replies in finish() with what wfile collected — empty when nothing was written', async () => {
    const dg = fakeDatagram('q');
    class Quiet extends DatagramRequestHandler {}
    await runDatagramHandler(new Quiet(dg, PEER, null as never), dg);
    expect(dg.replies).toEqual([Buffer.alloc(0)]);
    const dg2 = fakeDatagram('q');
    let sentInFinish = -1;
    class Talks extends DatagramRequestHandler {
      override handle(): void {
        this.wfile.write('1');
        this.wfile.write('2');
      }
      override async finish(): Promise<void> {
        await super.finish();
        sentInFinish = dg2.replies.length;
      }
    }
    await runDatagramHandler(new Talks(dg2, PEER, null as never), dg2);
    expect(sentInFinish).toBe(1); // sent in finish(); the server's flush had nothing left
    expect(dg2.replies.map(String)).toEqual(['12']);
  });

  test('packet is the datagram; rfile reads it and is read-only', async () => {
    const h = new DatagramRequestHandler(fakeDatagram('r'), PEER, null as never);
    expect(h.packet.toString()).toBe('r');
    expect(h.rfile.readable).toBe(true);
    expect('write' in h.rfile).toBe(false);
    expect((await collect(h.rfile)).toString()).toBe('r');
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
