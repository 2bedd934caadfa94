/**
 * Threading memory: 500 idle connections, and 500 whose peer never reads (chargen keeps
 * writing), hold no more than twice what async mode holds for the same 500 (before:
 * 740 MB against 68 MB, eleven times; then 2.0-2.8 times for non-reading peers, from
 * chargen piling a promise reaction per wait and 16 MiB young generations per worker).
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { start } from '../helpers/cli.js';
import {
  HAS_PROC,
  MiB,
  banner,
  figure,
  kill,
  rssBytes,
  swarm,
  waitUntil,
} from './stress-helpers.js';

const CONNS = 500;
const children: ChildProcessWithoutNullStreams[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(children.splice(0).map(kill));
});

/** RSS of a server holding `CONNS` connections to `handler` that never read, once settled. */
async function heldRss(mode: string, handler: string): Promise<number> {
  const server = start(['serve', 'tcp', '0', '-e', handler, '-m', mode, '-w', '2', '-q']);
  children.push(server);
  const { url } = await banner(server);
  const port = Number(/:(\d+)$/.exec(url)![1]);
  await swarm(CONNS, 50, async () => {
    const s = connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    sockets.push(s);
    await once(s, 'connect');
    s.pause(); // never read
    if (handler === 'discard') s.write('x');
  });
  // settle: the RSS stops growing once every window is full (or every handler idle)
  let last = 0;
  await waitUntil(
    () => {
      const now = rssBytes(server.pid!);
      const settled = Math.abs(now - last) < 2 * MiB;
      last = now;
      return settled;
    },
    20_000,
    1000,
  );
  const rss = rssBytes(server.pid!);
  for (const s of sockets.splice(0)) s.destroy();
  await kill(server);
  return rss;
}

(HAS_PROC ? describe : describe.skip)('threading memory, 500 connections', () => {
  test.each([
    ['non-reading peers of chargen', 'chargen', 2],
    ['idle connections', 'discard', 2],
  ])(
    '%s (%s): threading holds at most %s times what async holds',
    async (name, handler, times) => {
      const asyncRss = await heldRss('async', handler);
      const threadingRss = await heldRss('threading', handler);
      figure(`threading memory: ${name}`, {
        conns: CONNS,
        asyncMiB: Math.round(asyncRss / MiB),
        threadingMiB: Math.round(threadingRss / MiB),
      });
      expect(threadingRss).toBeLessThanOrEqual(times * asyncRss);
    },
    120_000,
  );
});
