/**
 * SIGTERM during active transfers. With a drain timeout long enough, every open
 * request finishes and each client gets the complete echo of everything it sent;
 * new clients are refused meanwhile. With a short one, the server stops after it,
 * and what a client got back is an exact prefix holding at least what it had sent
 * before the signal.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import type { Socket } from 'node:net';
import { connect } from 'node:net';
import { createHash } from 'node:crypto';
import { serve, stopAll } from '../cli/serve-helpers.js';
import {
  HAS_PROC,
  MiB,
  SeededBytes,
  dialTarget,
  figure,
  hashStream,
  pump,
  waitUntil,
} from './stress-helpers.js';

const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await stopAll();
});

/** sha256 of the first `n` bytes of SeededBytes(…, seed), regenerated. */
function prefixSha(seed: number, n: number): string {
  const gen = new SeededBytes(n, seed);
  const hash = createHash('sha256');
  for (let c = gen.next(); c; c = gen.next()) hash.update(c);
  return hash.digest('hex');
}

/** Is the port refusing connections? */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

(HAS_PROC ? describe : describe.skip)('SIGTERM during transfers', () => {
  test('4 clients × 64 MiB: all finish within --drain-timeout, each echo complete', async () => {
    const CLIENTS = 4;
    const SIZE = 64 * MiB;
    const s = await serve(['serve', 'tcp', '0', '--drain-timeout', '20']);
    let received = 0;
    const transfers = await Promise.all(
      Array.from({ length: CLIENTS }, async (_, i) => {
        const c = await dialTarget({ port: s.port });
        sockets.push(c);
        const gen = new SeededBytes(SIZE, 100 + i);
        c.on('data', (d: Buffer) => (received += d.length));
        const back = hashStream(c);
        const sent = pump(gen, c);
        return { gen, done: Promise.all([sent, back]).then(([, b]) => b) };
      }),
    );
    // every transfer is under way (8 MiB back, on average) when the signal comes
    expect(await waitUntil(() => received >= CLIENTS * 8 * MiB, 30_000, 5)).toBe(true);
    const receivedAtSignal = received;
    const signalled = performance.now();
    s.child.kill('SIGTERM');
    await s.waitFor(/stopping: waiting up to 20s for 4 open requests/);
    const refusedMeanwhile = await refused(s.port);
    const results = await Promise.all(transfers.map((t) => t.done));
    const code = await s.exited;
    const stopMs = Math.round(performance.now() - signalled);

    figure('sigterm-drain-complete', {
      clients: CLIENTS,
      bytesEach: SIZE,
      receivedAtSignalMiB: Math.round(receivedAtSignal / MiB),
      stopMs,
      refusedMeanwhile,
    });
    results.forEach((r, i) => {
      expect(r.bytes).toBe(SIZE);
      expect(r.sha).toBe(transfers[i]!.gen.digest());
    });
    expect(refusedMeanwhile).toBe(true);
    expect(code).toBe(0);
    expect(s.stderr()).toMatch(/stopped: 4 connections, 0 refused, 0 errors/);
    expect(stopMs).toBeLessThan(20_000);
  }, 60_000);

  test('--drain-timeout 1 with a client that never stops: cut after 1 s, echo an exact prefix', async () => {
    const SEED = 9;
    const s = await serve(['serve', 'tcp', '0', '--drain-timeout', '1']);
    const c = await dialTarget({ port: s.port });
    sockets.push(c);
    c.on('error', () => undefined);
    const gen = new SeededBytes(4096 * MiB, SEED); // far more than it can send in time
    const closed = new Promise((r) => c.once('close', r)); // once() would reject on the reset
    const sending = pump(gen, c, false).catch(() => undefined);
    let got = 0;
    const hash = createHash('sha256');
    c.on('data', (d: Buffer) => {
      got += d.length;
      hash.update(d);
    });
    expect(await waitUntil(() => got >= 16 * MiB, 30_000, 5)).toBe(true);
    const sentBeforeSignal = c.bytesWritten - c.writableLength;
    const signalled = performance.now();
    s.child.kill('SIGTERM');
    const code = await s.exited;
    const stopMs = Math.round(performance.now() - signalled);
    await closed;
    await sending;

    figure('sigterm-drain-cut', {
      drainTimeoutS: 1,
      sentBeforeSignalMiB: Math.round(sentBeforeSignal / MiB),
      echoedMiB: Math.round(got / MiB),
      stopMs,
    });
    expect(code).toBe(0);
    expect(stopMs).toBeGreaterThanOrEqual(900);
    expect(stopMs).toBeLessThan(5000);
    expect(got).toBeGreaterThanOrEqual(sentBeforeSignal);
    expect(hash.digest('hex')).toBe(prefixSha(SEED, got));
  }, 60_000);
});
