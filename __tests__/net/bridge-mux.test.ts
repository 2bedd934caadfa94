/**
 * The mux's wire (net/bridge-mux.ts): a batch is one flat buffer of entries. Both ends
 * run here on one MessageChannel; what one side posts must arrive on the other, in
 * order per connection, byte for byte, however the entries share or overflow buffers.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { MessageChannel } from 'node:worker_threads';
import { BridgeMux, PACK_LIMIT, type BridgeRoute } from '../../src/net/bridge-mux.js';
import type { ChannelMessage } from '../../src/net/stream-bridge.js';

/** What a route saw: data as bytes (copied at once: a batch's buffer is not ours), the rest as is. */
type Seen = Buffer | ChannelMessage | 'closed';

function recorder(): { route: BridgeRoute; seen: Seen[]; bytes: () => Buffer } {
  const seen: Seen[] = [];
  const route: BridgeRoute = {
    message: (msg) => {
      if (msg.t === 'data') {
        seen.push(
          Buffer.from(new Uint8Array(msg.buf, msg.off ?? 0, msg.len ?? msg.buf.byteLength)),
        );
      } else {
        seen.push(msg);
      }
    },
    data: (buf, off, len) => seen.push(Buffer.from(new Uint8Array(buf, off, len))),
    close: () => seen.push('closed'),
  };
  const bytes = () => Buffer.concat(seen.filter((s): s is Buffer => Buffer.isBuffer(s)));
  return { route, seen, bytes };
}

/** Resolves once `check` holds, checking after each event-loop turn (bounded in count). */
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !check(); i++) await new Promise((r) => setImmediate(r));
  expect(check()).toBe(true);
}

function pattern(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
}

/** The end that only sends. */
const IGNORE: BridgeRoute = {
  message: () => undefined,
  data: () => undefined,
  close: () => undefined,
};

const muxes: BridgeMux[] = [];
function pair(): [BridgeMux, BridgeMux] {
  const { port1, port2 } = new MessageChannel();
  const owner = new BridgeMux(port1, 'turn');
  const worker = new BridgeMux(port2, 'microtask');
  muxes.push(owner, worker);
  return [owner, worker];
}

afterEach(() => {
  for (const mux of muxes.splice(0)) mux.close();
});

describe('BridgeMux', () => {
  test('small chunks of many connections, merged and overflowing a batch buffer, arrive exact', async () => {
    const [owner, worker] = pair();
    const conns = 60;
    const sent: Buffer[] = [];
    const got = Array.from({ length: conns }, () => recorder());
    const channels = got.map((r, id) => {
      worker.open(id, r.route);
      return owner.open(id, IGNORE);
    });
    // one turn: each connection posts several odd-sized chunks, interleaved and in runs,
    // far more than one batch buffer holds (60 x 3 x ~1 KiB)
    for (let id = 0; id < conns; id++) sent[id] = Buffer.alloc(0);
    for (let round = 0; round < 3; round++) {
      for (let id = 0; id < conns; id++) {
        for (const n of [1, PACK_LIMIT - 3, 2]) {
          const chunk = pattern(n, id + round);
          channels[id]!.postBytes(chunk);
          sent[id] = Buffer.concat([sent[id]!, chunk]);
        }
      }
    }
    await until(() => got.every((r, id) => r.bytes().length === sent[id]!.length));
    for (let id = 0; id < conns; id++) expect(got[id]!.bytes().equals(sent[id]!)).toBe(true);
  });

  test('transferred buffers between chunks that overflow batch buffers arrive in order', async () => {
    const [owner, worker] = pair();
    const r = recorder();
    owner.open(1, r.route);
    const channel = worker.open(1, IGNORE);
    const sent: Buffer[] = [];
    // 16 merged chunks fill a batch buffer (16 KiB) but for 8 bytes: the next entry, a
    // transferred buffer, needs 12, and so starts the next batch
    for (let i = 0; i < 16; i++) {
      const fill = pattern(PACK_LIMIT - 1, i);
      channel.postBytes(fill);
      sent.push(fill);
    }
    for (let i = 0; i < 200; i++) {
      const small = pattern(((i * 37) % PACK_LIMIT) + 1, i);
      channel.postBytes(small);
      const big = new ArrayBuffer(PACK_LIMIT + 1 + i);
      new Uint8Array(big).set(pattern(big.byteLength, i + 1));
      sent.push(small, Buffer.from(new Uint8Array(big)));
      channel.post({ t: 'data', buf: big }, [big]);
      if (i % 3 === 0) channel.post({ t: 'ack', n: i });
    }
    const want = Buffer.concat(sent);
    await until(() => r.bytes().length >= want.length);
    expect(r.bytes().equals(want)).toBe(true);
    const acks = r.seen.filter((s) => !Buffer.isBuffer(s));
    expect(acks).toEqual(Array.from({ length: 67 }, (_, k) => ({ t: 'ack', n: 3 * k })));
  });

  test('ends, acks, objects and close keep their place among the data', async () => {
    const [owner, worker] = pair();
    const r = recorder();
    owner.open(7, r.route);
    const channel = worker.open(7, IGNORE);
    const slab = new ArrayBuffer(2000);
    new Uint8Array(slab).fill(9);
    channel.postBytes(Buffer.from('ab'));
    channel.post({ t: 'ack', n: 1234 });
    channel.postBytes(Buffer.from('c'));
    channel.post({ t: 'data', buf: slab, len: 1500 }, [slab]);
    channel.post({ t: 'option', noDelay: true });
    channel.postBytes(Buffer.from('de'));
    channel.post({ t: 'end' });
    channel.post({ t: 'done' });
    channel.close();
    await until(() => r.seen.includes('closed'));
    expect(r.seen).toEqual([
      Buffer.from('ab'),
      { t: 'ack', n: 1234 },
      Buffer.from('c'),
      Buffer.alloc(1500, 9),
      { t: 'option', noDelay: true },
      Buffer.from('de'),
      { t: 'end' },
      { t: 'done' },
      'closed',
    ]);
    expect(slab.byteLength).toBe(0); // transferred, not copied
  });

  test("the worker's side keeps traffic that comes before its connection's job", async () => {
    const [owner, worker] = pair();
    const channel = owner.open(3, IGNORE);
    channel.postBytes(Buffer.from('early'));
    channel.post({ t: 'end' });
    // two turns: the batch has come and gone before the worker's side opens the channel
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    const r = recorder();
    worker.open(3, r.route);
    expect(r.seen).toEqual([Buffer.from('early'), { t: 'end' }]);
  });
});
