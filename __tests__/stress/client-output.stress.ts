/**
 * A stdout nobody reads under a UDP flood (`recvfrom 0 | sleep`, `connect -u … |
 * sleep`): the datagrams that cannot wait are dropped past a 16 MiB backlog, with a
 * throttled count on stderr, and the client's memory stays bounded (it reached
 * 3.4 GB before).
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { start } from '../helpers/cli.js';
import { HAS_PROC, MiB, figure, kill, peakSampler, rssBytes, waitUntil } from './stress-helpers.js';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';

const children: ChildProcessWithoutNullStreams[] = [];
afterEach(async () => {
  await Promise.all(children.splice(0).map(kill));
});

const DATAGRAM = Buffer.alloc(8192, 0x61);
const TOTAL = 12_000; // about 94 MiB offered

/** Send `TOTAL` datagrams to `port`, 32 in flight at a time. */
async function flood(port: number): Promise<void> {
  const sock = createSocket('udp4');
  for (let i = 0; i < TOTAL; i += 32) {
    await Promise.all(
      Array.from(
        { length: 32 },
        () => new Promise((r) => sock.send(DATAGRAM, port, '127.0.0.1', r)),
      ),
    );
  }
  sock.close();
}

(HAS_PROC ? describe : describe.skip)('a stdout that does not drain, under a UDP flood', () => {
  test('recvfrom drops past the backlog, says so, and stays small', async () => {
    const child = start(['recvfrom', '0']);
    children.push(child);
    child.stdout.pause(); // nobody reads: the pipe fills, then sockit's backlog
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => (stderr += c));
    await waitUntil(() => /listening on udp:\/\/127\.0\.0\.1:\d+/.test(stderr), 20_000);
    const port = Number(/:(\d+)\n/.exec(stderr)![1]);
    const peak = peakSampler(() => rssBytes(child.pid!));
    // the kernel drops what a busy machine does not read in time: flood until sockit
    // itself has had more than its backlog to hold (at most 6 floods)
    let dropped = false;
    let floods = 0;
    while (!dropped && floods < 6) {
      await flood(port);
      floods += 1;
      dropped = await waitUntil(() => /dropped \d+ datagrams?/.test(stderr), 3_000);
    }
    const peakRss = peak.stop();
    figure('client-output recvfrom', {
      offeredMiB: Math.round((TOTAL * 8192) / MiB),
      peakRssMiB: Math.round(peakRss / MiB),
    });
    expect(dropped).toBe(true);
    expect(stderr).toMatch(
      /sockit: warning: dropped \d+ datagrams? — stdout is not keeping up \(16 MiB waiting\)/,
    );
    expect(peakRss).toBeLessThan(160 * MiB);
    expect(child.exitCode).toBeNull();
    const closed = once(child, 'close');
    child.kill('SIGTERM');
    await closed;
  }, 60_000);
});
