/**
 * Connection churn: 10,000 connect/close cycles and 1,000 half-open clients. The
 * server's file descriptors (/proc/<pid>/fd) come back to their starting count.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { startServer } from '../helpers/cli.js';
import { exchange } from '../helpers/loopback.js';
import { HAS_PROC, dialTarget, fdCount, figure, kill, swarm, waitUntil } from './stress-helpers.js';

const children: ChildProcessWithoutNullStreams[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(children.splice(0).map(kill));
});

const CYCLES = 10_000;
const HALF_OPEN = 1000;

(HAS_PROC ? describe : describe.skip)('connection churn', () => {
  test(`${CYCLES} connect/close cycles: fds back to the start`, async () => {
    const server = await startServer(['serve', 'tcp', '0']);
    children.push(server.child);
    const pid = server.child.pid!;
    const fdsStart = fdCount(pid);
    let peak = fdsStart;
    const started = performance.now();
    await swarm(CYCLES, 50, async (i) => {
      const s = await dialTarget({ port: server.port });
      s.on('error', () => undefined);
      const closed = once(s, 'close');
      if (i % 2 === 0) {
        s.resume();
        s.end(); // graceful: FIN, the server answers with its own
      } else {
        s.destroy(); // abrupt: gone before the server did anything
      }
      await closed;
      if (i % 500 === 0) peak = Math.max(peak, fdCount(pid));
    });
    const ms = performance.now() - started;
    const settled = await waitUntil(() => fdCount(pid) <= fdsStart, 10_000);
    const fdsEnd = fdCount(pid);
    const reply = await exchange({ port: server.port }, 'after the churn\n');
    figure('churn-10000', {
      cycles: CYCLES,
      ms: Math.round(ms),
      fdsStart,
      fdsPeakSampled: peak,
      fdsEnd,
    });
    expect(settled).toBe(true);
    expect(fdsEnd).toBe(fdsStart);
    expect(reply.toString()).toBe('after the churn\n');
    expect(server.stderr()).not.toMatch(/sockit: /);
  }, 120_000);

  test(`${HALF_OPEN} half-open clients: the server lets go of each`, async () => {
    const server = await startServer(['serve', 'tcp', '0']);
    children.push(server.child);
    const pid = server.child.pid!;
    const fdsStart = fdCount(pid);

    // 1. clients that send, half-close and then never read nor close: the server
    //    echoes, ends its side and closes; the clients keep their sockets
    await swarm(HALF_OPEN, 50, async (i) => {
      const s = await dialTarget({ port: server.port });
      s.on('error', () => undefined);
      sockets.push(s);
      s.end(`half-open ${i}\n`);
    });
    const releasedWhileHeld = await waitUntil(() => fdCount(pid) <= fdsStart, 15_000);
    const fdsWhileHeld = fdCount(pid);

    // 2. clients that connect and say nothing: the server holds exactly one fd each
    const silent: Socket[] = [];
    await swarm(HALF_OPEN, 50, async () => {
      const s = await dialTarget({ port: server.port });
      s.on('error', () => undefined);
      silent.push(s);
      sockets.push(s);
    });
    const allAccepted = await waitUntil(() => fdCount(pid) === fdsStart + HALF_OPEN, 10_000);
    const fdsSilent = fdCount(pid);
    for (const s of silent) s.destroy();
    const releasedSilent = await waitUntil(() => fdCount(pid) <= fdsStart, 10_000);
    const fdsEnd = fdCount(pid);

    figure('half-open-1000', { clients: HALF_OPEN, fdsStart, fdsWhileHeld, fdsSilent, fdsEnd });
    expect(releasedWhileHeld).toBe(true);
    expect(allAccepted).toBe(true);
    expect(fdsSilent).toBe(fdsStart + HALF_OPEN);
    expect(releasedSilent).toBe(true);
    expect(fdsEnd).toBe(fdsStart);
    expect((await exchange({ port: server.port }, 'still here\n')).toString()).toBe('still here\n');
  }, 120_000);

  test(`${HALF_OPEN} peers that never close after the server half-closes (daytime)`, async () => {
    const server = await startServer(['serve', 'tcp', '0', '-e', 'daytime']);
    children.push(server.child);
    const pid = server.child.pid!;
    const fdsStart = fdCount(pid);
    const started = performance.now();
    await swarm(HALF_OPEN, 50, async () => {
      const s = await dialTarget({ port: server.port });
      s.on('error', () => undefined);
      sockets.push(s); // never read, never closed: the server must linger, then let go
    });
    const released = await waitUntil(() => fdCount(pid) <= fdsStart, 20_000);
    const ms = performance.now() - started;
    figure('half-closed-by-server-1000', {
      clients: HALF_OPEN,
      fdsStart,
      fdsEnd: fdCount(pid),
      releasedAfterMs: Math.round(ms),
    });
    expect(released).toBe(true);
    expect(server.stderr()).not.toMatch(/sockit: /);
  }, 60_000);
});
