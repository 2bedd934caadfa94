/**
 * The mixed soak: a TCP, a UDP and a unix stream server in every mode, all at once,
 * under clients that come and go, floods, resets, slow readers and handlers that
 * throw (at once, from a timer, through a rejected promise nobody awaits). Every 10 s
 * each server's RSS (worker processes included), open fds and the round trip of a
 * probe (the event-loop delay as a client sees it) are recorded; after the warm-up
 * none may trend up, and every server must still answer and stop cleanly.
 *
 * `npm run test:stress` runs it for 60 s; `npm run test:stress -- --soak` for 10 min
 * (SOCKIT_SOAK_S sets any other length; SOCKIT_SOAK_MODES=async,forking picks modes;
 * SOCKIT_SOAK_DEBUG=1 shows every server's -v log).
 */
import { afterAll, describe, expect, test } from '@jest/globals';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { startServer } from '../helpers/cli.js';
import { tempSocketPath } from '../helpers/loopback.js';
import {
  HAS_PROC,
  MiB,
  fdCount,
  figure,
  kill,
  processTree,
  rssBytes,
  sumOver,
} from './stress-helpers.js';

const SOAK_S = Number(process.env.SOCKIT_SOAK_S ?? 60);
const SAMPLE_S = 10;
/**
 * The heap of a Node process grows for minutes under load before it levels off (in a
 * 10-minute soak, forking servers rose from 127 to 219 MiB over 6 minutes, then stayed
 * flat): the first 40% of the samples are the warm-up.
 */
const WARM_UP_SHARE = 0.4;
const HANDLER = fileURLToPath(new URL('../fixtures/stress/soak.mjs', import.meta.url));
const MODES = (process.env.SOCKIT_SOAK_MODES?.split(',') ?? [
  'async',
  'sequential',
  'threading',
  'forking',
]) as readonly string[];
const TRANSPORTS = ['tcp', 'udp', 'unix'] as const;
const PAYLOAD = Buffer.alloc(256 * 1024, 0x61);

type Target = { port: number } | { path: string };
interface Sample {
  rssMiB: number;
  fds: number;
  rttMs: number;
}
interface Soaked {
  name: string;
  transport: (typeof TRANSPORTS)[number];
  target: Target;
  child: Awaited<ReturnType<typeof startServer>>['child'];
  samples: Sample[];
}

const cleanups: (() => void)[] = [];
const servers: Soaked[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => kill(s.child)));
  cleanups.forEach((c) => c());
});

function dial(target: Target): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = 'path' in target ? connect(target.path) : connect(target.port, '127.0.0.1');
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Send `data`, half-close, read to the end (or the reset); resolves with what came back. */
async function request(target: Target, data: Buffer | string): Promise<number> {
  const s = await dial(target);
  let got = 0;
  s.on('data', (c: Buffer) => (got += c.length));
  const ended = new Promise<void>((resolve) => {
    s.once('close', () => resolve());
    s.once('error', () => resolve());
  });
  s.end(data);
  await ended;
  return got;
}

async function udpRequest(port: number, text: string, timeoutMs = 2000): Promise<boolean> {
  const sock = createSocket('udp4');
  try {
    sock.send(text, port, '127.0.0.1');
    const got = once(sock, 'message').then(() => true);
    const timer = new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs).unref());
    return await Promise.race([got, timer]);
  } finally {
    sock.close();
  }
}

/** One round of mixed load on a stream server. */
async function streamRound(target: Target): Promise<void> {
  const swallow = (p: Promise<unknown>): Promise<unknown> => p.catch(() => undefined);
  const jobs: Promise<unknown>[] = [];
  for (let i = 0; i < 10; i++) jobs.push(swallow(request(target, `hello ${i}\n`)));
  for (const kind of ['throw', 'timer', 'reject']) jobs.push(swallow(request(target, kind)));
  for (let i = 0; i < 2; i++)
    jobs.push(
      swallow(
        dial(target).then((s) => {
          s.on('error', () => undefined);
          s.write('x');
          // a reset on TCP; a unix socket has none (resetAndDestroy throws there): a close
          if ('port' in target) s.resetAndDestroy();
          else s.destroy();
        }),
      ),
    );
  // a slow reader: sends a lot, reads nothing for a while, goes away
  jobs.push(
    swallow(
      dial(target).then(async (s) => {
        s.on('error', () => undefined);
        s.pause();
        s.write('slow');
        s.write(PAYLOAD);
        await new Promise((r) => setTimeout(r, 300));
        s.destroy();
      }),
    ),
  );
  // a burst of 30 that open and close at once
  jobs.push(
    swallow(
      Promise.all(
        Array.from({ length: 30 }, () =>
          swallow(dial(target).then((s) => s.on('error', () => undefined).destroy())),
        ),
      ),
    ),
  );
  await Promise.all(jobs);
}

/** One round on a UDP server: a burst nobody reads the replies of, failures, echoes. */
async function udpRound(port: number): Promise<void> {
  const flood: UdpSocket = createSocket('udp4');
  const payload = Buffer.alloc(512, 0x62);
  await Promise.all(
    Array.from(
      { length: 200 },
      () => new Promise((r) => flood.send(payload, port, '127.0.0.1', r)),
    ),
  );
  flood.close();
  await Promise.all(['throw', 'timer', 'reject', 'hello'].map((t) => udpRequest(port, t, 500)));
}

async function probe(s: Soaked): Promise<number> {
  const t0 = performance.now();
  const ok =
    s.transport === 'udp'
      ? await udpRequest((s.target as { port: number }).port, 'probe', 5000)
      : (await request(s.target, 'probe\n')) === 6;
  return ok ? performance.now() - t0 : Infinity;
}

async function sample(s: Soaked): Promise<Sample> {
  const pids = processTree(s.child.pid!);
  const rttMs = await probe(s);
  return {
    rssMiB: Math.round(sumOver(pids, rssBytes) / MiB),
    fds: sumOver(pids, fdCount),
    rttMs: Math.round(rttMs),
  };
}

async function startAll(): Promise<void> {
  for (const mode of MODES) {
    for (const transport of TRANSPORTS) {
      const args = ['serve', transport];
      let target: Target;
      if (transport === 'unix') {
        const tmp = tempSocketPath(`soak-${mode}.sock`);
        cleanups.push(tmp.cleanup);
        args.push(tmp.path);
        target = { path: tmp.path };
      } else {
        args.push('0');
        target = { port: 0 };
      }
      args.push('-m', mode, '-w', '1', '--handler', HANDLER, '--drain-timeout', '5');
      args.push(process.env.SOCKIT_SOAK_DEBUG ? '-v' : '-q');
      const started = await startServer(args);
      if ('port' in target) target = { port: started.port };
      // keep the pipe flowing: failures are logged one line each
      if (process.env.SOCKIT_SOAK_DEBUG)
        started.child.stderr.on('data', (c: Buffer) =>
          process.stderr.write(`[${transport} ${mode}] ${c.toString()}`),
        );
      else started.child.stderr.resume();
      servers.push({
        name: `${transport} ${mode}`,
        transport,
        target,
        child: started.child,
        samples: [],
      });
    }
  }
}

(HAS_PROC ? describe : describe.skip)(`soak: ${SOAK_S} s of mixed load, every mode`, () => {
  test(
    'RSS, fds and the probe round trip do not trend up after the warm-up',
    async () => {
      await startAll();
      const end = Date.now() + SOAK_S * 1000;
      let nextSample = Date.now() + SAMPLE_S * 1000;
      let rounds = 0;
      while (Date.now() < end) {
        await Promise.all(
          servers.map((s) =>
            s.transport === 'udp'
              ? udpRound((s.target as { port: number }).port)
              : streamRound(s.target),
          ),
        );
        rounds += 1;
        if (process.env.SOCKIT_SOAK_DEBUG) process.stderr.write(`round ${rounds}\n`);
        if (Date.now() >= nextSample) {
          nextSample += SAMPLE_S * 1000;
          for (const s of servers) s.samples.push(await sample(s));
        }
      }
      for (const s of servers) {
        figure(`soak ${s.name}`, { seconds: SOAK_S, rounds, samples: s.samples });
      }
      const problems: string[] = [];
      for (const s of servers) {
        if (s.child.exitCode !== null) problems.push(`${s.name}: exited ${s.child.exitCode}`);
        const warmUp = Math.max(2, Math.floor(s.samples.length * WARM_UP_SHARE));
        const after = s.samples.slice(warmUp);
        const last = after.at(-1);
        if (!last) {
          problems.push(`${s.name}: no sample after the warm-up`);
          continue;
        }
        // no trend: the last quarter after the warm-up against its first quarter
        const q = Math.max(1, Math.floor(after.length / 4));
        const peak = (xs: Sample[], k: keyof Sample): number => Math.max(...xs.map((x) => x[k]));
        const [early, late] = [after.slice(0, q), after.slice(-q)];
        if (peak(late, 'rssMiB') > peak(early, 'rssMiB') * 1.25 + 16)
          problems.push(
            `${s.name}: RSS ${peak(early, 'rssMiB')} MiB after the warm-up, ${peak(late, 'rssMiB')} at the end`,
          );
        if (peak(late, 'fds') > peak(early, 'fds') + 8)
          problems.push(
            `${s.name}: ${peak(early, 'fds')} fds after the warm-up, ${peak(late, 'fds')} at the end`,
          );
        // the server still answers, and promptly
        if (!(last.rttMs < 2000)) problems.push(`${s.name}: probe round trip ${last.rttMs} ms`);
      }
      expect(problems).toEqual([]);
      // every server stops cleanly on SIGTERM
      const codes = await Promise.all(
        servers.map(async (s) => {
          const closed = once(s.child, 'close');
          s.child.kill('SIGTERM');
          const [code] = (await closed) as [number | null];
          return `${s.name}: ${code}`;
        }),
      );
      expect(codes).toEqual(servers.map((s) => `${s.name}: 0`));
    },
    SOAK_S * 1000 + 180_000,
  );
});
