/**
 * Out of file descriptors (EMFILE): a server started under `ulimit -n 64` and flooded
 * with connections neither crashes nor spins, and accepts again once the flood has
 * closed. (libuv keeps a spare descriptor for this: on EMFILE it accepts and closes
 * the waiting connections, so Node 20 reports no error to the server.)
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { Socket } from 'node:net';
import { exchange, tempSocketPath } from '../helpers/loopback.js';
import {
  HAS_PROC,
  banner,
  cpuTicks,
  dialTarget,
  fdCount,
  figure,
  kill,
  processTree,
  startWithFdLimit,
  sumOver,
  waitUntil,
} from './stress-helpers.js';

const HAS_BASH = spawnSync('bash', ['-c', 'ulimit -n 64'], { stdio: 'ignore' }).status === 0;
const FD_LIMIT = 64;
const FLOOD = 300;

const children: ChildProcessWithoutNullStreams[] = [];
const sockets: Socket[] = [];
const cleanups: (() => void)[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(children.splice(0).map(kill));
  for (const fn of cleanups.splice(0)) fn();
});

type Outcome = 'served' | 'closed' | 'reset' | 'refused';

/** One flood client: connects, sends a byte, and reports what happened to it. */
function floodClient(target: { port: number } | { path: string }): Promise<Outcome> {
  return dialTarget(target).then(
    (s) => {
      sockets.push(s);
      return new Promise<Outcome>((resolve) => {
        s.once('data', () => resolve('served'));
        s.once('error', () => resolve('reset'));
        s.once('close', () => resolve('closed'));
        s.write('x');
      });
    },
    () => 'refused' as const,
  );
}

const cases: [string, string[]][] = [
  ['tcp, async', ['serve', 'tcp', '0']],
  ['tcp, threading', ['serve', 'tcp', '0', '-m', 'threading', '-w', '2']],
  ['tcp, forking', ['serve', 'tcp', '0', '-m', 'forking', '-w', '2']],
  ['unix stream', ['serve', 'unix', 'PATH']],
];

(HAS_PROC && HAS_BASH ? describe : describe.skip)(`EMFILE under ulimit -n ${FD_LIMIT}`, () => {
  test.each(cases)(
    '%s: a flood does not crash it; accept resumes after',
    async (name, args) => {
      const tmp = tempSocketPath();
      cleanups.push(tmp.cleanup);
      const child = startWithFdLimit(
        FD_LIMIT,
        args.map((a) => (a === 'PATH' ? tmp.path : a)),
      );
      children.push(child);
      const { url, stderr } = await banner(child);
      const target = url.startsWith('unix://')
        ? { path: url.slice('unix://'.length) }
        : { port: Number(/:(\d+)$/.exec(url)![1]) };
      const pid = child.pid!;
      const fdsStart = fdCount(pid);
      const treeFds = (): number => sumOver(processTree(pid), fdCount);
      const treeFdsStart = treeFds(); // forking: its workers too

      const outcomes: Outcome[] = [];
      const flood = Array.from({ length: FLOOD }, () =>
        floodClient(target).then((o) => void outcomes.push(o)),
      );
      // every flood client gets an answer: served, or closed/reset by the spare-fd trick
      const settled = await waitUntil(() => outcomes.length === FLOOD, 20_000);
      const fdsDuringFlood = fdCount(pid);
      // not spinning: the server burns (almost) no CPU while the flood holds its fds
      const before = cpuTicks(pid);
      await new Promise((r) => setTimeout(r, 1000));
      const ticksPerSecond = cpuTicks(pid) - before;
      const alive = child.exitCode === null && child.signalCode === null;

      for (const s of sockets.splice(0)) s.destroy();
      // every process of the server (forking: its workers) has let the flood's sockets go
      const released = await waitUntil(
        () => fdCount(pid) <= fdsStart && treeFds() <= treeFdsStart,
        10_000,
      );
      const reply = await exchange(target, 'after the flood\n');

      const count = (o: Outcome): number => outcomes.filter((x) => x === o).length;
      figure(`emfile-${name.replace(/\W+/g, '-')}`, {
        fdLimit: FD_LIMIT,
        flood: FLOOD,
        served: count('served'),
        closed: count('closed'),
        reset: count('reset'),
        refused: count('refused'),
        fdsStart,
        fdsDuringFlood,
        fdsEnd: fdCount(pid),
        cpuTicksPerSecondDuringFlood: ticksPerSecond,
        stderrLines: stderr().trimEnd().split('\n').length,
      });
      await Promise.all(flood);
      expect(settled).toBe(true);
      expect(alive).toBe(true);
      expect(count('served')).toBeGreaterThan(0);
      expect(ticksPerSecond).toBeLessThan(50); // under half a core (USER_HZ is 100)
      expect(released).toBe(true);
      expect(reply.toString()).toBe('after the flood\n');
      expect(stderr()).not.toMatch(/\n\s+at |internal error|Error:/);
      // the banner, then throttled lines: one at once, then at most a count a second
      expect(stderr()).toMatch(
        /sockit: warning: near the open-file limit \(ulimit -n 64\): \d+ connections open, new ones may be dropped unseen\n/,
      );
      expect(stderr().trimEnd().split('\n').length).toBeLessThanOrEqual(8);
    },
    60_000,
  );
});
