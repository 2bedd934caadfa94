/**
 * The gate between a worker's direct writes and the owner's close (net/write-gate.ts):
 * writes reach the socket while it is open, never after its handle is closed (when
 * its descriptor number may name the next connection), never through a slot given to
 * another connection since, and a close waits out a write under way. A bridged
 * connection writes directly, hands the main thread what the kernel does not take,
 * and its bytes arrive in order all the same.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { MessageChannel, Worker } from 'node:worker_threads';
import { readFileSync } from 'node:fs';
import type { StreamHandle } from '../../src/net/raw-binding.js';
import { BridgeConnection } from '../../src/net/bridge-connection.js';
import { BridgeMux } from '../../src/net/bridge-mux.js';
import { StreamBridge, type BridgeOutcome } from '../../src/net/stream-bridge.js';
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
    const released = new Int32Array(new SharedArrayBuffer(4));
    // The worker takes the gate as a write does, and lets it go only once the main
    // thread is seen waiting on it (Atomics.notify counts the waiters it wakes; a
    // woken close finds the gate still taken and waits again).
    const worker = new Worker(
      `const { workerData: w, parentPort } = require('node:worker_threads');
       const words = new Int32Array(w.table);
       const released = new Int32Array(w.released);
       if (Atomics.compareExchange(words, w.slot, w.open, w.open + 1) !== w.open) {
         parentPort.postMessage('not taken');
       } else {
         parentPort.postMessage('taken');
         let seen = false;
         for (let i = 0; i < 10000 && !seen; i++) {
           seen = Atomics.notify(words, w.slot, 1) > 0;
           if (!seen) Atomics.wait(released, 0, 0, 1);
         }
         Atomics.store(released, 0, seen ? 1 : 2);
         Atomics.store(words, w.slot, w.open);
       }`,
      { eval: true, workerData: { table: table.buffer, released: released.buffer, ...gate.grant } },
    );
    const exited = once(worker, 'exit');
    const [first] = (await once(worker, 'message')) as [string];
    expect(first).toBe('taken');
    accepted.destroy(); // shuts the gate: returns only once the worker let it go
    expect(Atomics.load(released, 0)).toBe(1); // let go after the close was seen waiting
    await exited;
  });
});

/** The most a loopback connection can hold unread: the peer's receive and our send buffer. */
function kernelCapacity(): number {
  const max = (file: string) => Number(readFileSync(file, 'utf8').trim().split(/\s+/)[2]);
  return max('/proc/sys/net/ipv4/tcp_rmem') + max('/proc/sys/net/ipv4/tcp_wmem');
}

describe('a bridged connection with a gate (both ends on this thread)', () => {
  test('writes directly, hands the main thread what the kernel does not take, in order', async () => {
    const { accepted, client } = await (await listen())();
    const { port1, port2 } = new MessageChannel();
    const ownerMux = new BridgeMux(port1, 'turn');
    const workerMux = new BridgeMux(port2, 'microtask');
    teardown.add(() => (ownerMux.close(), workerMux.close()));
    let outcome: BridgeOutcome | undefined;
    const bridge = new StreamBridge(accepted, (_err, o) => (outcome = o));
    const table = new GateTable();
    const grant = bridge.openGate(table);
    expect(grant).toBeDefined();
    const here = { family: 'IPv4', address: '127.0.0.1', port: 0 } as const;
    const direct = new DirectWriter(table.buffer, grant!);
    const conn = new BridgeConnection(workerMux, 1, here, here, undefined, direct);
    bridge.start(ownerMux, 1);
    // more than the kernel can hold while the peer does not read: some of it must wait
    const size = 64 * 1024;
    const chunks = Math.ceil((kernelCapacity() + 8 * 1024 * 1024) / size);
    client.pause();
    for (let i = 0; i < chunks; i++) conn.write(Buffer.alloc(size, i & 0xff));
    conn.end(() => conn.reportDone());
    const received: Buffer[] = [];
    client.on('data', (c: Buffer) => received.push(c)).resume();
    await once(client, 'end');
    const all = Buffer.concat(received);
    expect(all.length).toBe(chunks * size);
    const wrong = [];
    for (let i = 0; i < chunks; i++) {
      const piece = all.subarray(i * size, (i + 1) * size);
      if (!piece.equals(Buffer.alloc(size, i & 0xff))) wrong.push(i);
    }
    expect(wrong).toEqual([]);
    if (!accepted.destroyed) await once(accepted, 'close');
    // the main thread wrote part of it (the kernel was full), the worker's end the rest,
    // and the outcome counts both
    expect(accepted.bytesWritten).toBeGreaterThan(0);
    expect(accepted.bytesWritten).toBeLessThan(chunks * size);
    expect(outcome?.bytesOut).toBe(chunks * size);
  });
});
