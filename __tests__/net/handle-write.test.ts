/**
 * Writes on a socket's handle (net/handle-write.ts), under its `net.Socket`: in order,
 * byte for byte, the FIN after them, counted in `bytesWritten`, and only on sockets
 * whose bytes nobody else must see.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { Duplex } from 'node:stream';
import {
  IN_FLIGHT,
  WRITTEN,
  writableHandle,
  writeOnHandle,
  type HandleWriter,
} from '../../src/net/handle-write.js';
import { loopbackPairs, Teardown } from '../helpers/loopback.js';

const teardown = new Teardown();
afterEach(() => teardown.run());
const pair = async () => (await loopbackPairs(teardown))();

describe('writeOnHandle', () => {
  test('keeps the order through the queue, sends the FIN after, counts every byte', async () => {
    const { accepted, client } = await pair();
    const handle = writableHandle(accepted);
    expect(handle).toBeDefined();
    client.pause(); // the peer does not read at first: writes queue in libuv
    const chunks = Array.from({ length: 512 }, (_, i) => Buffer.alloc(32768, i & 0xff));
    const completed: number[] = [];
    const writer: HandleWriter = {
      written: (status, n, slab) => {
        expect(status).toBe(0);
        expect(slab).toBeNull();
        completed.push(n);
      },
    };
    let inFlight = 0;
    for (const chunk of chunks) {
      const status = writeOnHandle(handle!, chunk, writer, null);
      expect([WRITTEN, IN_FLIGHT]).toContain(status);
      if (status === IN_FLIGHT) inFlight++;
    }
    expect(inFlight).toBeGreaterThan(0); // 16 MiB cannot all go at once to a peer that does not read
    accepted.end();
    const received: Buffer[] = [];
    client.on('data', (b: Buffer) => received.push(b));
    client.resume();
    await once(client, 'end');
    expect(Buffer.concat(received).equals(Buffer.concat(chunks))).toBe(true);
    expect(completed).toHaveLength(inFlight);
    expect(accepted.bytesWritten).toBe(512 * 32768);
  });

  test('is offered only on a plain socket whose writes are its own', async () => {
    const { accepted } = await pair();
    expect(writableHandle(new Duplex())).toBeUndefined();
    accepted._write = accepted._write.bind(accepted); // as a traffic tap wraps it
    expect(writableHandle(accepted)).toBeUndefined();
  });
});
