/**
 * More bad values through the built CLI (20 sampled inputs each; FC_SEED=<n>
 * replays a run): CIDRs, hex input, durations and unix socket paths. Each is exit 2
 * with one `sockit: …` line and leaves nothing behind: no server listening, no
 * socket file, no datagram sent, no connection made.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../helpers/cli.js';
import { tempSocketPath } from '../helpers/loopback.js';
import { freePort } from '../clients/peers.js';
import { parseCidr } from '../../src/net/access.js';
import { parseHex } from '../../src/cli/client-output.js';
import { parseDuration } from '../../src/cli/options.js';
import {
  SEED,
  WITNESS_HOST,
  mapLimit,
  nothingListens,
  samples,
  usageProblems,
  useWitnesses,
} from './usage-helpers.js';

const N = 20;
const PARALLEL = 4;

const w = useWitnesses();
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanups.splice(0)) fn();
});

const refuses = (fn: () => unknown): boolean => {
  try {
    fn();
    return false;
  } catch {
    return true;
  }
};

const text = (alphabet: string, maxLength = 16): fc.Arbitrary<string> =>
  fc.oneof(
    fc.string({ unit: fc.constantFrom(...alphabet.split('')), minLength: 1, maxLength }),
    fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength }).filter((s) => !s.includes('\0')),
  );

const hexDigits = (minLength: number, maxLength: number): fc.Arbitrary<string> =>
  fc.string({ unit: fc.constantFrom(...'0123456789abcdef'.split('')), minLength, maxLength });

async function allUsage(argvs: string[][]): Promise<void> {
  const results = await mapLimit(argvs, PARALLEL, (args) => run(args));
  const problems = argvs.flatMap((args, i) => usageProblems(args, results[i]!));
  expect({ seed: SEED, problems }).toEqual({ seed: SEED, problems: [] });
}

describe(`bad values through the CLI (seed ${SEED})`, () => {
  test('CIDRs: serve tcp|udp --allow/--deny never binds, even in forking mode', async () => {
    const bad = fc.oneof(
      fc.tuple(fc.ipV4(), fc.integer({ min: 33, max: 300 })).map(([a, p]) => `${a}/${p}`),
      fc.tuple(fc.ipV6(), fc.integer({ min: 129, max: 300 })).map(([a, p]) => `${a}/${p}`),
      fc.ipV4().map((a) => `${a}/`),
      fc.ipV4Extended().filter((a) => refuses(() => parseCidr(a))),
      fc.ipV4().map((a) => `127.0.0.1,${a}/x`),
      fc.constantFrom('', ',', '127.0.0.1,', ',::1', '10.0.0.0/8,,::1'),
      fc.domain(),
      text('0123456789abcdef.:/[]'),
    );
    const cidrs = samples(
      bad.filter((c) =>
        c.split(',').some((item) => item.trim() === '' || refuses(() => parseCidr(item))),
      ),
      N,
      3,
    );
    const port = await freePort();
    await allUsage(
      cidrs.map((c, i) => [
        'serve',
        ['tcp', 'udp'][i % 2]!,
        String(port),
        ...(i % 4 === 0 ? ['-m', 'forking', '-w', '1'] : []),
        i % 3 === 0 ? `--deny=${c}` : `--allow=${c}`,
      ]),
    );
    expect(await nothingListens(port)).toBe(true);
  });

  test('hex: sendto --hex-input sends no datagram at all', async () => {
    const bad = fc.oneof(
      hexDigits(1, 9).filter((h) => h.length % 2 === 1),
      fc
        .tuple(hexDigits(0, 6), fc.constantFrom('0x', 'g', 'z', ',,', '-', '::'))
        .map(([h, junk]) => `00${h}${junk}`),
      text('0123456789abcdefxg ,:'),
    );
    const hexes = samples(
      bad.filter((h) => refuses(() => parseHex(h))),
      N,
      4,
    );
    await allUsage(
      hexes.map((h, i) =>
        // a good datagram first: a bad one later must still stop the whole command
        [
          'sendto',
          '--hex-input',
          '--',
          WITNESS_HOST,
          String(w.udp.port),
          ...(i % 2 ? ['00ff'] : []),
          h,
        ],
      ),
    );
    expect(w.udp.datagrams()).toBe(0);
  });

  test('durations: connect -w, send -w, serve --idle-timeout, recvfrom -w', async () => {
    const bad = fc.oneof(
      fc.integer({ min: 1, max: 1000 }).map((n) => `-${n}`),
      fc.integer({ min: 1, max: 1000 }).map((n) => `${n}e3`),
      fc.integer({ min: 1, max: 1000 }).map((n) => `${n}sec`),
      fc.constantFrom('', '1.', '.', 'ms', '1 s', 'Infinity', '99999999999', '1..2', '0x10'),
      text('0123456789.msh -+eE'),
    );
    const durations = samples(
      bad.filter((d) => refuses(() => parseDuration(d))),
      N,
      5,
    );
    const port = await freePort();
    await allUsage(
      durations.map(
        (d, i) =>
          [
            ['connect', `--timeout=${d}`, WITNESS_HOST, String(w.tcp.port)],
            ['send', `--timeout=${d}`, WITNESS_HOST, String(w.tcp.port), 'hi'],
            ['serve', 'tcp', String(port), `--idle-timeout=${d}`],
            ['recvfrom', String(port), `--timeout=${d}`],
          ][i % 4]!,
      ),
    );
    expect(w.tcp.connections()).toBe(0);
    expect(await nothingListens(port)).toBe(true);
  });

  test('unix paths: too long, bad --socket-mode: no socket file is created', async () => {
    const tmp = tempSocketPath();
    cleanups.push(tmp.cleanup);
    const long = fc
      .integer({ min: 108 - tmp.dir.length, max: 200 })
      .map((n) => join(tmp.dir, 'x'.repeat(n)));
    const badMode = text('0123456789xo-').filter((m) => !/^\s*(0o?)?[0-7]{1,4}\s*$/i.test(m));
    const argvs = [
      ...samples(long, N / 2, 6).map((p, i) => [
        'serve',
        'unix',
        p,
        ...(i % 2 ? ['--datagram'] : []),
      ]),
      ...samples(badMode, N / 2, 7).map((m, i) => [
        'serve',
        'unix',
        join(tmp.dir, `m${i}.sock`),
        `--socket-mode=${m}`,
      ]),
      ...samples(long, N / 4, 8).map((p) => ['recvfrom', '--unix', p]),
    ];
    await allUsage(argvs);
    expect(readdirSync(tmp.dir)).toEqual([]);
  });
});
