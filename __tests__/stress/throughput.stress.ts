/**
 * 1 GiB of pseudo-random bytes through `sockit serve … --handler echo` with the built
 * `sockit connect` as the client, over TCP and over a unix stream socket: the bytes
 * that come back hash the same as the bytes sent. Nothing holds the whole GiB: the
 * generator makes 1 MiB chunks (hashed as they go out) and stdout is hashed as it
 * arrives. Peak RSS of both processes is recorded.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { start, startServer } from '../helpers/cli.js';
import { tempSocketPath } from '../helpers/loopback.js';
import {
  GiB,
  HAS_PROC,
  MiB,
  SeededBytes,
  figure,
  hashStream,
  kill,
  mbps,
  peakSampler,
  pump,
  rssBytes,
} from './stress-helpers.js';

const children: ChildProcessWithoutNullStreams[] = [];
const cleanups: (() => void)[] = [];
afterEach(async () => {
  await Promise.all(children.splice(0).map(kill));
  for (const fn of cleanups.splice(0)) fn();
});

const TOTAL = GiB;
/** RSS bound for each process while 1 GiB streams through it. */
const RSS_BOUND = 256 * MiB;

async function throughEcho(
  name: string,
  serverArgs: string[],
  clientArgs: (port: number) => string[],
): Promise<void> {
  const server = await startServer(serverArgs);
  children.push(server.child);
  const serverPid = server.child.pid!;
  const client = start(clientArgs(server.port), { keepStdin: true });
  children.push(client);
  const clientPid = client.pid!;
  const serverRss = peakSampler(() => rssBytes(serverPid), 200);
  const clientRss = peakSampler(() => rssBytes(clientPid), 200);
  let clientErr = '';
  client.stderr.setEncoding('utf8');
  client.stderr.on('data', (c: string) => (clientErr += c));
  const exited = once(client, 'close') as Promise<[number | null]>;

  const started = performance.now();
  const gen = new SeededBytes(TOTAL, 42);
  const [, received] = await Promise.all([pump(gen, client.stdin), hashStream(client.stdout)]);
  const [code] = await exited;
  const ms = performance.now() - started;
  const peaks = { server: serverRss.stop(), client: clientRss.stop() };

  figure(name, {
    bytes: received.bytes,
    ms: Math.round(ms),
    MBps: mbps(TOTAL, ms),
    serverPeakRssMiB: Math.round(peaks.server / MiB),
    clientPeakRssMiB: Math.round(peaks.client / MiB),
  });
  expect(clientErr).toBe('');
  expect(code).toBe(0);
  expect(received.bytes).toBe(TOTAL);
  expect(received.sha).toBe(gen.digest());
  expect(peaks.server).toBeLessThan(RSS_BOUND);
  expect(peaks.client).toBeLessThan(RSS_BOUND);
  expect(server.stderr()).not.toMatch(/sockit: /); // nothing went wrong on the server side
}

(HAS_PROC ? describe : describe.skip)('1 GiB through an echo server, sha256-equal', () => {
  test('TCP: serve tcp --handler echo ← sockit connect', async () => {
    await throughEcho('tcp-echo-1GiB', ['serve', 'tcp', '0', '--handler', 'echo'], (port) => [
      'connect',
      '127.0.0.1',
      String(port),
    ]);
  }, 180_000);

  test('unix stream: serve unix --handler echo ← sockit connect --unix', async () => {
    const tmp = tempSocketPath();
    cleanups.push(tmp.cleanup);
    await throughEcho('unix-echo-1GiB', ['serve', 'unix', tmp.path, '--handler', 'echo'], () => [
      'connect',
      '--unix',
      tmp.path,
    ]);
  }, 180_000);
});
