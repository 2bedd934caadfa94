/**
 * 1,000 requests whose user handler throws: each failure is logged exactly once, the
 * server keeps serving, and its file descriptors and memory do not grow.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { startServer } from '../helpers/cli.js';
import { exchange } from '../helpers/loopback.js';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import {
  HAS_PROC,
  MiB,
  dialTarget,
  fdCount,
  figure,
  kill,
  rssBytes,
  swarm,
  waitUntil,
} from './stress-helpers.js';

const THROWS = fileURLToPath(new URL('../fixtures/stress/throws.mjs', import.meta.url));
const REQUESTS = 1000;
const WARM_UP = 100;

const children: ChildProcessWithoutNullStreams[] = [];
afterEach(async () => {
  await Promise.all(children.splice(0).map(kill));
});

/** One request that makes the handler throw; resolves when the server has closed it. */
async function failingRequest(port: number, i: number): Promise<void> {
  const s = await dialTarget({ port });
  s.on('error', () => undefined); // the server may reset: the handler failed
  s.resume();
  const closed = once(s, 'close');
  s.write(`request ${i}\n`);
  await closed;
}

const failures = (text: string): number =>
  text
    .split('\n')
    .filter((l) => /^sockit: handler '.*throws\.mjs' failed for .*: deliberate failure$/.test(l))
    .length;

(HAS_PROC ? describe : describe.skip)('a user handler that throws', () => {
  test(`${REQUESTS} failing requests: ${REQUESTS} log lines, still serving, no fd or memory growth`, async () => {
    const server = await startServer(['serve', 'tcp', '0', '-e', THROWS]);
    children.push(server.child);
    const pid = server.child.pid!;
    const port = server.port;
    const fdsIdle = fdCount(pid);

    await swarm(WARM_UP, 20, (i) => failingRequest(port, i));
    expect(await waitUntil(() => failures(server.stderr()) === WARM_UP, 10_000)).toBe(true);
    expect(await waitUntil(() => fdCount(pid) <= fdsIdle, 10_000)).toBe(true);
    const rssWarm = rssBytes(pid);

    const started = performance.now();
    await swarm(REQUESTS - WARM_UP, 20, (i) => failingRequest(port, WARM_UP + i));
    const ms = performance.now() - started;
    expect(await waitUntil(() => failures(server.stderr()) === REQUESTS, 10_000)).toBe(true);
    const settled = await waitUntil(() => fdCount(pid) <= fdsIdle, 10_000);
    const fdsAfter = fdCount(pid);
    const rssAfter = rssBytes(pid);

    // still serving: a request that does not fail is echoed
    const reply = await exchange({ port }, 'ok, still there?\n');
    const lines = server.stderr().trimEnd().split('\n');

    figure('handler-throws-1000', {
      requests: REQUESTS,
      ms: Math.round(ms),
      logLines: failures(server.stderr()),
      fdsIdle,
      fdsAfter,
      rssWarmMiB: Math.round(rssWarm / MiB),
      rssAfterMiB: Math.round(rssAfter / MiB),
    });
    expect(reply.toString()).toBe('ok, still there?\n');
    expect(failures(server.stderr())).toBe(REQUESTS); // once each: never twice
    expect(lines).toHaveLength(1 + REQUESTS); // the banner and the failures, nothing else
    expect(server.stderr()).not.toMatch(/\n\s+at /); // no stack trace
    expect(settled).toBe(true);
    expect(fdsAfter).toBeLessThanOrEqual(fdsIdle);
    expect(rssAfter - rssWarm).toBeLessThan(32 * MiB);
    expect(server.child.exitCode).toBeNull();
  }, 60_000);
});
