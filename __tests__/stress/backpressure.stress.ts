/**
 * Backpressure: a client that sends 1 GiB and never reads. Against `echo` the server
 * stops reading once its replies cannot be delivered (the client's pushes stall);
 * against `discard` the whole GiB goes through. Either way the server's RSS stays
 * within a bound over its idle RSS, and other clients are served meanwhile.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import type { Socket } from 'node:net';
import { startServer } from '../helpers/cli.js';
import { exchange } from '../helpers/loopback.js';
import { serve, stopAll, waitForText } from '../cli/serve-helpers.js';
import {
  GiB,
  HAS_PROC,
  MiB,
  SeededBytes,
  dialTarget,
  drainedOrClosed,
  figure,
  kill,
  mbps,
  peakSampler,
  rssBytes,
} from './stress-helpers.js';

const children: ChildProcessWithoutNullStreams[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(children.splice(0).map(kill));
  await stopAll();
});

/** How much the server's RSS may grow over its idle RSS while the flood lasts. */
const RSS_GROWTH_BOUND = 96 * MiB;
/** A push that does not drain within this long means the pipeline has stalled. */
const STALL_MS = 2000;

/**
 * Send up to `total` bytes on `socket` without reading, honouring 'drain'. Stops when
 * everything went out or a push has not drained within STALL_MS. Resolves with the
 * bytes the kernel took and whether it stalled.
 */
async function flood(
  socket: Socket,
  total: number,
  meanwhile: () => void,
): Promise<{ sent: number; stalled: boolean }> {
  const gen = new SeededBytes(total, 7);
  let halfway = false;
  for (let chunk = gen.next(); chunk; chunk = gen.next()) {
    if (!halfway && gen.left <= total / 2) {
      halfway = true;
      meanwhile();
    }
    if (socket.write(chunk)) continue;
    let timer: NodeJS.Timeout | undefined;
    const stalled = await Promise.race([
      drainedOrClosed(socket).then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), STALL_MS))),
    ]);
    clearTimeout(timer);
    if (stalled || socket.destroyed) {
      if (!halfway) meanwhile();
      return { sent: socket.bytesWritten - socket.writableLength, stalled: true };
    }
  }
  return { sent: socket.bytesWritten - socket.writableLength, stalled: false };
}

(HAS_PROC ? describe : describe.skip)('a client that sends 1 GiB and never reads', () => {
  test('echo: the server stops reading (RSS bounded) and still serves others', async () => {
    const server = await startServer(['serve', 'tcp', '0', '-e', 'echo']);
    children.push(server.child);
    const pid = server.child.pid!;
    const idle = rssBytes(pid);
    const peak = peakSampler(() => rssBytes(pid), 50);

    const hog = await dialTarget({ port: server.port });
    sockets.push(hog); // never read: no 'data' listener, the socket stays paused
    hog.on('error', () => undefined);
    let other: Promise<Buffer> | undefined;
    const started = performance.now();
    const { sent, stalled } = await flood(hog, GiB, () => {
      other = exchange({ port: server.port }, 'still served\n');
    });
    const ms = performance.now() - started;
    // the hog is stalled and connected: a new client is served right now, too
    const late = await exchange({ port: server.port }, 'served while stalled\n');
    const peakRss = peak.stop();

    figure('backpressure-echo-never-reads', {
      attempted: GiB,
      acceptedBytes: sent,
      stalled,
      ms: Math.round(ms),
      idleRssMiB: Math.round(idle / MiB),
      peakRssMiB: Math.round(peakRss / MiB),
    });
    expect(stalled).toBe(true);
    expect(sent).toBeLessThan(256 * MiB); // the server did not swallow the flood
    expect((await other!).toString()).toBe('still served\n');
    expect(late.toString()).toBe('served while stalled\n');
    expect(peakRss - idle).toBeLessThan(RSS_GROWTH_BOUND);
    expect(server.child.exitCode).toBeNull();
  }, 60_000);

  test('discard: the whole GiB goes through with RSS bounded; others are served', async () => {
    const server = await serve(['serve', 'tcp', '0', '-e', 'discard', '--json']);
    const pid = server.child.pid!;
    const idle = rssBytes(pid);
    const peak = peakSampler(() => rssBytes(pid), 50);

    const hog = await dialTarget({ port: server.port });
    sockets.push(hog);
    hog.on('error', () => undefined);
    let otherServed: Promise<unknown> | undefined;
    const started = performance.now();
    const { sent, stalled } = await flood(hog, GiB, () => {
      // a second client while the flood runs: its request ends with 1000 bytes in
      otherServed = (async () => {
        const s = await dialTarget({ port: server.port });
        sockets.push(s);
        s.resume();
        s.end(Buffer.alloc(1000, 0x61));
        await waitForText(server.child, server.stderr, /"event":"close"[^\n]*"bytesIn":1000,/);
      })();
    });
    await otherServed;
    const floodRunning = !hog.destroyed;
    const ms = performance.now() - started;
    hog.end();
    await waitForText(server.child, server.stderr, new RegExp(`"bytesIn":${GiB},`));
    const peakRss = peak.stop();

    figure('backpressure-discard-1GiB', {
      bytes: sent,
      ms: Math.round(ms),
      MBps: mbps(sent, ms),
      idleRssMiB: Math.round(idle / MiB),
      peakRssMiB: Math.round(peakRss / MiB),
    });
    expect(stalled).toBe(false);
    expect(sent).toBe(GiB);
    expect(floodRunning).toBe(true);
    expect(peakRss - idle).toBeLessThan(RSS_GROWTH_BOUND);
  }, 120_000);
});
