/**
 * The parser properties again, through the built CLI (a sample of 20 inputs each,
 * from a seed that failures print; FC_SEED=<n> replays one): every bad value is exit
 * 2 with one `sockit: …` line, nothing on stdout, no stack trace, and no side effect
 * (no connection made, no datagram sent, nothing left listening).
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { run } from '../helpers/cli.js';
import { parsePort } from '../../src/net/address.js';
import { hostArg } from '../../src/cli/options.js';
import { parsePortSpec } from '../../src/clients/ports.js';
import {
  SEED,
  WITNESS_HOST,
  expectDefaultPortUntouched,
  mapLimit,
  samples,
  usageProblems,
  useWitnesses,
} from './usage-helpers.js';

const N = 20;
const PARALLEL = 4;

const w = useWitnesses();

const refuses = (fn: () => unknown): boolean => {
  try {
    fn();
    return false;
  } catch {
    return true;
  }
};

/** ASCII-only text (argv cannot carry NUL; lone surrogates would be re-encoded). */
const text = (alphabet: string, maxLength = 16): fc.Arbitrary<string> =>
  fc.oneof(
    fc.string({ unit: fc.constantFrom(...alphabet.split('')), minLength: 1, maxLength }),
    fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength }).filter((s) => !s.includes('\0')),
  );

/** Run every argv, then check each is a clean usage error. */
async function allUsage(argvs: string[][]): Promise<void> {
  const results = await mapLimit(argvs, PARALLEL, (args) => run(args));
  const problems = argvs.flatMap((args, i) => usageProblems(args, results[i]!));
  expect({ seed: SEED, problems }).toEqual({ seed: SEED, problems: [] });
}

describe(`bad values through the CLI (seed ${SEED})`, () => {
  test('ports: serve tcp|udp [port], recvfrom [port], connect/send <port>', async () => {
    const bad = fc.oneof(
      fc.integer({ min: 65536, max: 2 ** 40 }).map(String),
      text('0123456789-+.eE ,x'),
    );
    const ports = samples(
      bad.filter((p) => refuses(() => parsePort(p)) && !/^\s*\d+\s*$/.test(p)),
      N,
    );
    const argvs = ports.map(
      (p, i) =>
        [
          ['serve', 'tcp', '--', p],
          ['serve', 'udp', '--', p],
          ['recvfrom', '--', p],
          ['connect', '--', WITNESS_HOST, p],
          ['send', '--', WITNESS_HOST, p, 'hi'],
        ][i % 5]!,
    );
    await allUsage(argvs);
    await expectDefaultPortUntouched(); // nobody fell back to the default port
  });

  test('port specs: connect -z 127.0.0.1 <spec> probes nothing', async () => {
    const bad = fc.oneof(
      fc
        .tuple(fc.integer({ min: 2, max: 65535 }), fc.integer({ min: 1, max: 65534 }))
        .filter(([a, b]) => a > b)
        .map(([a, b]) => `${w.tcp.port},${a}-${b}`),
      fc.integer({ min: 65536, max: 99999 }).map((p) => `${w.tcp.port},${p}`),
      fc.constantFrom(
        `${w.tcp.port},`,
        `,${w.tcp.port}`,
        `${w.tcp.port}-`,
        '0',
        'constructor',
        '__proto__',
      ),
      text('0123456789-, !%'),
    );
    const specs = samples(
      bad.filter((s) => refuses(() => parsePortSpec(s))),
      N,
      1,
    );
    await allUsage(specs.map((s) => ['connect', '-z', '--', WITNESS_HOST, s]));
    expect(w.tcp.connections()).toBe(0);
  });

  test('hosts: connect/send <host>, serve tcp -H, recvfrom -H', async () => {
    const bad = fc.oneof(
      fc
        .tuple(
          fc.domain(),
          fc.constantFrom(' ', ';', '|', '$', '`', '_', '*', '\n', "'"),
          fc.domain(),
        )
        .map(([a, c, b]) => `${a}${c}${b}`),
      fc.domain().map((d) => `${d}..${d}`),
      fc.stringMatching(/^[a-z]{64,70}\.com$/),
      text('abc.-:[]_ %/'),
    );
    const hosts = samples(
      bad.filter((h) => refuses(() => hostArg(h))),
      N,
      2,
    );
    await allUsage(
      hosts.map(
        (h, i) =>
          [
            ['connect', '--', h, String(w.tcp.port)],
            ['send', '--', h, String(w.tcp.port), 'hi'],
            ['serve', 'tcp', '0', `--host=${h}`],
            ['recvfrom', '0', `--host=${h}`],
          ][i % 4]!,
      ),
    );
    expect(w.tcp.connections()).toBe(0);
  });
});
