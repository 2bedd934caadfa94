/**
 * Helpers for the bad-input tests that go through the built CLI: what a usage error
 * must look like (exit 2, one `sockit: …` line on stderr, empty stdout, no stack
 * trace), bounded parallel runs, and samples of fast-check arbitraries with a seed
 * that failures report.
 */
import { afterAll, beforeAll, expect } from '@jest/globals';
import fc from 'fast-check';
import { connect, createServer, type Server } from 'node:net';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import type { RunResult } from '../helpers/cli.js';

/** What is wrong with a result that should be a usage error; empty when nothing is. */
export function usageProblems(args: readonly string[], r: RunResult): string[] {
  const problems: string[] = [];
  const where = `sockit ${args.map((a) => JSON.stringify(a)).join(' ')}`;
  if (r.code !== 2) problems.push(`${where}: exit ${r.code ?? r.signal}, expected 2`);
  if (r.stdout.length > 0) problems.push(`${where}: stdout not empty: ${r.stdout.toString()}`);
  if (!/^sockit: [^\n]+\n$/.test(r.stderr)) {
    problems.push(`${where}: stderr is not one 'sockit: ' line: ${JSON.stringify(r.stderr)}`);
  }
  if (/\n\s+at |internal error/.test(r.stderr)) {
    problems.push(`${where}: stack trace or internal error: ${r.stderr}`);
  }
  return problems;
}

/** Run `fn` over `items` with at most `concurrency` in flight; results in order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]!);
      }
    }),
  );
  return results;
}

/** The seed of this run's samples: FC_SEED to replay one, else a fresh one. */
export const SEED = Number(process.env.FC_SEED ?? Math.floor(Math.random() * 2 ** 31));

/** `n` values of `arb` from {@link SEED} (distinct when possible). */
export function samples<T>(arb: fc.Arbitrary<T>, n: number, salt = 0): T[] {
  const seen = new Set<string>();
  const out: T[] = [];
  for (const v of fc.sample(arb, { numRuns: n * 4, seed: SEED + salt })) {
    const key = JSON.stringify(v);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(v);
    if (out.length === n) break;
  }
  return out;
}

/**
 * The loopback address the witnesses below listen on: 127.0.0.2 where the system
 * routes it (Linux does), so that other test files probing 127.0.0.1 port ranges
 * cannot reach them; 127.0.0.1 otherwise.
 */
export const WITNESS_HOST = await (async () => {
  const probe = createServer();
  const ok = await new Promise<boolean>((resolve) => {
    probe.once('error', () => resolve(false));
    probe.listen(0, '127.0.0.2', () => resolve(true));
  });
  if (ok) await new Promise((r) => probe.close(r));
  return ok ? '127.0.0.2' : '127.0.0.1';
})();

/** A TCP listener that counts connections (a command that fails usage must never connect). */
export async function tcpWitness(): Promise<{
  port: number;
  connections: () => number;
  close: () => Promise<void>;
}> {
  let n = 0;
  const server: Server = createServer((s) => {
    n += 1;
    s.destroy();
  });
  server.listen(0, WITNESS_HOST);
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  return {
    port,
    connections: () => n,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** A UDP socket that counts datagrams (a command that fails usage must never send). */
export async function udpWitness(): Promise<{
  port: number;
  datagrams: () => number;
  close: () => void;
}> {
  let n = 0;
  const socket: UdpSocket = createSocket('udp4');
  socket.on('message', () => (n += 1));
  socket.bind(0, WITNESS_HOST);
  await once(socket, 'listening');
  return { port: socket.address().port, datagrams: () => n, close: () => socket.close() };
}

/**
 * Is nothing listening on this TCP port of 127.0.0.1? Asked with a connect, which
 * (unlike a trial bind) never holds the port for a moment under another test's nose.
 */
export function nothingListens(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

/** The port `serve` and `recvfrom` use when given none. */
export const DEFAULT_PORT = 9999;

/**
 * Whether the default port was free when this file started. It is not while the README's
 * Quick start server runs, and the tests must pass then too.
 */
export const DEFAULT_PORT_FREE = await nothingListens(DEFAULT_PORT);

/**
 * Bad usage never fell back to the default port: if it was free, nothing listens there
 * now. If something already held it, a fallback would have failed with "address in use"
 * (exit 1), which the exit-2 checks report, so there is nothing more to look at.
 */
export async function expectDefaultPortUntouched(): Promise<void> {
  if (DEFAULT_PORT_FREE) expect(await nothingListens(DEFAULT_PORT)).toBe(true);
}

/**
 * Register a TCP and a UDP witness for the whole file (beforeAll/afterAll): bad
 * input must never reach them. Read them as `w.tcp` / `w.udp` inside tests.
 */
export function useWitnesses(): {
  tcp: Awaited<ReturnType<typeof tcpWitness>>;
  udp: Awaited<ReturnType<typeof udpWitness>>;
} {
  const w = {} as ReturnType<typeof useWitnesses>;
  beforeAll(async () => {
    w.tcp = await tcpWitness();
    w.udp = await udpWitness();
  });
  afterAll(async () => {
    await w.tcp.close();
    w.udp.close();
  });
  return w;
}
