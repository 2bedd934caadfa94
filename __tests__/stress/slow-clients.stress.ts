/**
 * Slow and idle clients: `--idle-timeout` closes a client that trickles a byte every
 * 1.5 s (and a crowd of silent ones) but not one that keeps talking; `--max-conns`
 * holds exactly across churn, and every refusal is logged.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { fileURLToPath } from 'node:url';
import type { Socket } from 'node:net';
import { serve, stopAll } from '../cli/serve-helpers.js';
import { HAS_PROC, dialTarget, fdCount, figure, swarm, waitUntil } from './stress-helpers.js';

const PROBE = fileURLToPath(new URL('../fixtures/stress/concurrency-probe.mjs', import.meta.url));

const sockets: Socket[] = [];
const timers: NodeJS.Timeout[] = [];
afterEach(async () => {
  for (const t of timers.splice(0)) clearInterval(t);
  for (const s of sockets.splice(0)) s.destroy();
  await stopAll();
});

/**
 * Connect and send one byte every `everyMs`, at most `maxBytes` bytes; resolves when
 * the server closes the connection (or the bytes run out and we end it).
 */
async function trickle(
  port: number,
  everyMs: number,
  maxBytes: number,
): Promise<{ sent: number; echoed: number; ms: number; closedByServer: boolean }> {
  const s = await dialTarget({ port });
  sockets.push(s);
  s.on('error', () => undefined);
  const started = performance.now();
  let sent = 0;
  let echoed = 0;
  let weEnded = false;
  s.on('data', (c: Buffer) => (echoed += c.length));
  const send = (): void => {
    if (s.destroyed || weEnded) return;
    if (sent === maxBytes) {
      weEnded = true;
      s.end();
      return;
    }
    s.write('z');
    sent += 1;
  };
  send();
  const timer = setInterval(send, everyMs);
  timers.push(timer);
  await new Promise((r) => s.once('close', r));
  clearInterval(timer);
  return { sent, echoed, ms: Math.round(performance.now() - started), closedByServer: !weEnded };
}

(HAS_PROC ? describe : describe.skip)('slow clients', () => {
  test('--idle-timeout 1: a byte every 1.5 s is closed; a byte every 0.3 s is not', async () => {
    const s = await serve(['serve', 'tcp', '0', '--idle-timeout', '1', '-v']);
    const [slow, chatty] = await Promise.all([
      trickle(s.port, 1500, 4),
      trickle(s.port, 300, 10), // 3 s in all, never silent for 1 s
    ]);
    figure('idle-timeout', { idleTimeoutS: 1, slow, chatty });
    expect(slow.closedByServer).toBe(true);
    expect(slow.sent).toBe(1); // closed in the first 1.5 s gap
    expect(slow.echoed).toBe(1);
    expect(slow.ms).toBeGreaterThanOrEqual(900);
    expect(slow.ms).toBeLessThan(1500);
    expect(chatty.closedByServer).toBe(false);
    expect(chatty.echoed).toBe(10);
    expect(s.stderr()).toMatch(/closed idle connection from 127\.0\.0\.1:\d+ \(--idle-timeout\)/);
    expect(s.stderr().match(/closed idle connection/g)).toHaveLength(1);
  }, 30_000);

  test('--idle-timeout 1: 500 silent clients are all closed and their fds released', async () => {
    const s = await serve(['serve', 'tcp', '0', '--idle-timeout', '1']);
    const pid = s.child.pid!;
    const fdsStart = fdCount(pid);
    let closed = 0;
    await swarm(500, 50, async () => {
      const c = await dialTarget({ port: s.port });
      sockets.push(c);
      c.on('error', () => undefined);
      c.once('close', () => (closed += 1));
    });
    const allClosed = await waitUntil(() => closed === 500, 10_000);
    const released = await waitUntil(() => fdCount(pid) <= fdsStart, 5000);
    figure('idle-timeout-500-silent', { clients: 500, closed, fdsStart, fdsEnd: fdCount(pid) });
    expect(allClosed).toBe(true);
    expect(released).toBe(true);
  }, 30_000);

  test('--max-conns 5 holds exactly across churn; every refusal is counted in throttled lines', async () => {
    const N = 5;
    const CLIENTS = 300;
    const s = await serve(['serve', 'tcp', '0', '-e', PROBE, '--max-conns', String(N)]);
    const seen: number[] = [];
    let refused = 0;
    await swarm(CLIENTS, 15, async (i) => {
      const c = await dialTarget({ port: s.port });
      sockets.push(c);
      c.on('error', () => undefined);
      const greeting = await new Promise<string | null>((resolve) => {
        c.once('data', (d: Buffer) => resolve(d.toString()));
        c.once('close', () => resolve(null));
      });
      if (greeting === null) {
        refused += 1;
        return;
      }
      seen.push(Number.parseInt(greeting, 10));
      // hold the slot a little (0-20 ms), then leave
      await new Promise((r) => setTimeout(r, i % 21));
      const closed = new Promise((r) => c.once('close', r));
      c.resume();
      c.end();
      await closed;
    });
    // throttled: the first refusal names its peer, then a count at most once a second
    const logged = (): number =>
      [...s.stderr().matchAll(/refused (\S+) — too many connections \(--max-conns 5\)/g)]
        .map((m): number => (/^\d+$/.test(m[1]!) ? 0 : 1))
        .reduce((a, b) => a + b, 0) +
      [...s.stderr().matchAll(/refused (\d+) more clients? — too many connections/g)]
        .map((m) => Number(m[1]))
        .reduce((a, b) => a + b, 0);
    const lines = (): number => (s.stderr().match(/too many connections/g) ?? []).length;
    await waitUntil(() => logged() === refused, 5000);
    const max = Math.max(...seen);
    figure('max-conns-churn', {
      maxConns: N,
      clients: CLIENTS,
      served: seen.length,
      refused,
      logged: logged(),
      lines: lines(),
      maxConcurrent: max,
    });
    expect(seen.length + refused).toBe(CLIENTS);
    expect(max).toBe(N); // reached, never exceeded
    expect(refused).toBeGreaterThan(0);
    expect(logged()).toBe(refused); // every refusal counted…
    expect(lines()).toBeLessThan(refused); // …in fewer lines than refusals
  }, 60_000);
});
