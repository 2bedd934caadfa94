/**
 * The gate between a worker's direct writes and the owner's close (net/write-gate.ts):
 * writes reach the socket while it is open, never after its handle is closed (when
 * its descriptor number may name the next connection), never through a slot given to
 * another connection since, and a close waits out a write under way.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { Worker } from 'node:worker_threads';
import type { StreamHandle } from '../../src/net/raw-binding.js';
import { DirectWriter, GateTable } from '../../src/net/write-gate.js';
import { loopbackPairs, Teardown } from '../helpers/loopback.js';

const teardown = new Teardown();
afterEach(() => teardown.run());
const listen = () => loopbackPairs(teardown);

const handleOf = (s: Socket): StreamHandle => (s as unknown as { _handle: StreamHandle })._handle;

/** The next `n` bytes `client` receives. */
async function receive(client: Socket, n: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  for await (const chunk of client as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    got += chunk.length;
    if (got >= n) break;
  }
  return Buffer.concat(chunks);
}

describe('GateTable and DirectWriter', () => {
  test('a direct write reaches the peer; after the handle closes, nothing more is written', async () => {
    const pair = await listen();
    const table = new GateTable();
    const first = await pair();
    const gate = table.open(handleOf(first.accepted))!;
    expect(gate).toBeDefined();
    expect(gate.grant.fd).toBe((handleOf(first.accepted) as { fd?: number }).fd);
    const writer = new DirectWriter(table.buffer, gate.grant);
    expect(writer.write(Buffer.from('direct'))).toBe(6);
    expect((await receive(first.client, 6)).toString()).toBe('direct');

    first.accepted.destroy(); // closes the handle: the gate shuts first
    await once(first.accepted, 'close');
    // the next connection most likely gets the same descriptor number
    const second = await pair();
    expect(writer.write(Buffer.from('stale'))).toBe(-1);
    second.accepted.write('own');
    expect((await receive(second.client, 3)).toString()).toBe('own');
  });

  test('a slot given to a new connection never opens for the old writer', async () => {
    const pair = await listen();
    const table = new GateTable();
    const a = await pair();
    const gateA = table.open(handleOf(a.accepted))!;
    const writerA = new DirectWriter(table.buffer, gateA.grant);
    gateA.shut(); // a finished connection: its slot is free again
    const b = await pair();
    const gateB = table.open(handleOf(b.accepted))!;
    expect(gateB.grant.slot).toBe(gateA.grant.slot);
    expect(gateB.grant.open).not.toBe(gateA.grant.open);
    expect(writerA.write(Buffer.from('old'))).toBe(-1);
    const writerB = new DirectWriter(table.buffer, gateB.grant);
    expect(writerB.write(Buffer.from('new'))).toBe(3);
    expect((await receive(b.client, 3)).toString()).toBe('new');
  });

  test('reset() shuts the gate too, and a handle without a descriptor gets none', async () => {
    const pair = await listen();
    const table = new GateTable();
    const { accepted, client } = await pair();
    client.on('error', () => undefined);
    const gate = table.open(handleOf(accepted))!;
    const writer = new DirectWriter(table.buffer, gate.grant);
    accepted.resetAndDestroy();
    await once(accepted, 'close');
    expect(writer.write(Buffer.from('x'))).toBe(-1);
    const fake = { fd: -1, close: () => undefined } as unknown as StreamHandle;
    expect(table.open(fake)).toBeUndefined();
  });

  test('a close waits for a write under way on another thread', async () => {
    const pair = await listen();
    const table = new GateTable();
    const { accepted } = await pair();
    const gate = table.open(handleOf(accepted))!;
    const flags = new Int32Array(new SharedArrayBuffer(8)); // [taken, released]
    // The worker takes the gate as a write does, holds it a moment, and lets it go.
    const worker = new Worker(
      `const { workerData: w, parentPort } = require('node:worker_threads');
       const words = new Int32Array(w.table);
       const flags = new Int32Array(w.flags);
       if (Atomics.compareExchange(words, w.slot, w.open, w.open + 1) === w.open) {
         Atomics.store(flags, 0, 1);
         parentPort.postMessage('taken');
         Atomics.wait(flags, 1, 0, 50);
         Atomics.store(flags, 1, 1);
         Atomics.store(words, w.slot, w.open);
       }`,
      { eval: true, workerData: { table: table.buffer, flags: flags.buffer, ...gate.grant } },
    );
    const exited = once(worker, 'exit');
    await once(worker, 'message');
    expect(Atomics.load(flags, 0)).toBe(1);
    accepted.destroy(); // shuts the gate: returns only once the worker let it go
    expect(Atomics.load(flags, 1)).toBe(1);
    await exited;
  });
});
