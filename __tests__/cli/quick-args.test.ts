/**
 * The quick runs' parser (src/cli/quick-args.ts) against commander's: for any argv
 * it either declines or gives the command's action exactly what commander's parse
 * of the same argv gives it, and never takes a scan large enough for threads.
 */
import { createRequire } from 'node:module';
import { PassThrough } from 'node:stream';
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { buildProgram, loadCommands } from '../../src/cli/main.js';
import { Output } from '../../src/cli/output.js';
import { quickArgs, portCountBound } from '../../src/cli/quick-args.js';
import { parsePortSpec } from '../../src/clients/ports.js';
import { THREADED_SCAN_MIN_PORTS } from '../../src/clients/probe-core.js';

// the launcher's first look, which spares other runs the quick bundles
const { mayBeQuick } = createRequire(import.meta.url)('../../bin/sockit.js') as {
  mayBeQuick: (args: readonly string[]) => boolean;
};

const factories = await loadCommands();

/** What commander hands the action of `argv`'s command, or the code of its error. */
async function commanderParse(argv: readonly string[]): Promise<unknown[] | string> {
  const io = {
    stdin: new PassThrough(),
    stdout: new PassThrough(),
    stderr: new PassThrough(),
    env: {},
  };
  const program = buildProgram(
    { io, out: new Output(io), exitCode: 0, signals: { on() {}, off() {} } },
    factories,
  );
  let got: unknown[] | undefined;
  for (const cmd of program.commands)
    cmd.action((...args: unknown[]) => void (got = args.slice(0, -1)));
  try {
    await program.parseAsync([...argv]);
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
  return got ?? 'no action';
}

/** The action's arguments a quick run stands for. */
function actionArgs(argv: readonly string[]): unknown[] | undefined {
  const run = quickArgs(argv);
  if (run === undefined) return undefined;
  if (run.command === 'connect') return [run.host, run.ports, run.opts];
  const [host, port, ...message] = run.positional;
  return [host, port, message, run.opts];
}

const FLAGS = [
  '-z',
  '-v',
  '-u',
  '-4',
  '-6',
  '-n',
  '-zv',
  '-vz',
  '-z4',
  '-zu',
  '-zvn',
  '-zx',
  '-vn',
  '-n4',
  '--zero',
  '--verbose',
  '--udp',
  '--ipv4',
  '--ipv6',
  '--json',
  '--all',
  '--newline',
  '--broadcast',
  '--hex',
  '--lines',
  '--tls',
  '--zero=1',
  '-w',
  '--wait',
  '-x',
  '-h',
  '--help',
  '--',
  '-',
  '--no-color',
  '--debug',
  '-V',
  '-l',
  '-k',
  '-C',
  '-zk',
  '-Z',
  '--Zero',
];
const OPERANDS = [
  '127.0.0.1',
  '::1',
  '[::1]',
  'localhost',
  'example.com',
  '',
  ' ',
  '9',
  '0',
  '65536',
  '80',
  '1-3',
  '20-25,80',
  'http',
  'ftp-http',
  'ms-sql-s',
  '1-65535',
  '10-5',
  '1,,2',
  'x',
  'hello world',
  'h\u00e9llo',
  '2',
  '0x10',
  '1e3',
  'a\nb',
  '-1',
  '100-2200',
  'help',
];
// mostly what a quick run takes, so that many argv are quick ones
const QUICK_FLAGS = FLAGS.filter((f) =>
  /^-[zv46n]+$|^--(zero|verbose|ipv4|ipv6|json|all)$/.test(f),
);
const token = fc.oneof(
  { arbitrary: fc.constantFrom(...QUICK_FLAGS), weight: 4 },
  { arbitrary: fc.constantFrom(...OPERANDS), weight: 5 },
  { arbitrary: fc.constantFrom(...FLAGS), weight: 1 },
);
const argv = fc
  .tuple(
    fc.constantFrom('connect', 'connect', 'sendto', 'sendto', 'send', '-v', 'connectx'),
    fc.array(token, { maxLength: 7 }),
    fc.nat(7),
  )
  // a -z somewhere in most connect runs
  .map(([command, rest, at]) =>
    command === 'connect' && at < 6
      ? [command, ...rest.slice(0, at), '-z', ...rest.slice(at)]
      : [command, ...rest],
  )
  .map((args) => ['node', 'sockit', ...args]);

describe('quickArgs', () => {
  test('declines or agrees with commander, for any argv', async () => {
    let taken = 0;
    await fc.assert(
      fc.asyncProperty(argv, async (args) => {
        const quick = actionArgs(args);
        if (quick === undefined) return;
        taken += 1;
        expect(mayBeQuick(args.slice(2))).toBe(true);
        expect(await commanderParse(args)).toEqual(quick);
      }),
      { numRuns: 3000 },
    );
    // the property said something: a good share of the argv were quick ones
    expect(taken).toBeGreaterThan(250);
  });

  test('takes no scan that would run threads', () => {
    fc.assert(
      fc.property(argv, (args) => {
        const run = quickArgs(args);
        if (run?.command !== 'connect') return;
        let count = 0;
        try {
          count = parsePortSpec(run.ports.join(',')).length;
        } catch {
          return; // bad usage, said the same on either path
        }
        expect(count).toBeLessThan(THREADED_SCAN_MIN_PORTS);
      }),
      { numRuns: 1500 },
    );
  });

  test.each([
    [
      ['connect', '-z', '127.0.0.1', '9'],
      ['127.0.0.1', ['9'], { zero: true }],
    ],
    [
      ['connect', '127.0.0.1', '-vz', '20-25', '80'],
      ['127.0.0.1', ['20-25', '80'], { zero: true, verbose: true }],
    ],
    [
      ['connect', '-z', '--json', '--all', '-4', 'h', '1'],
      ['h', ['1'], { zero: true, json: true, all: true, ipv4: true }],
    ],
    [
      ['sendto', '127.0.0.1', '9', 'x'],
      ['127.0.0.1', '9', ['x'], {}],
    ],
    [
      ['sendto', '-vn', 'h', '9', 'a', 'b'],
      ['h', '9', ['a', 'b'], { verbose: true, newline: true }],
    ],
  ])('%j is quick', async (args, expected) => {
    const full = ['node', 'sockit', ...args];
    expect(actionArgs(full)).toEqual(expected);
    expect(await commanderParse(full)).toEqual(expected);
  });

  test.each([
    [['connect', '127.0.0.1', '9']],
    [['connect', '-z', '-w', '1', '127.0.0.1', '9']],
    [['connect', '-zu', '127.0.0.1', '9']],
    [['connect', '-z', '127.0.0.1', '1-65535']],
    [['connect', '-z', '127.0.0.1', '1-2047', '9']],
    [['connect', '-z', '127.0.0.1', 'ftp-http']],
    [['connect', '-z', '--', '127.0.0.1', '9']],
    [['connect', '-z', '-', '9']],
    [['connect', '-z', '--help']],
    [['--no-color', 'connect', '-z', '127.0.0.1', '9']],
    [['sendto', '127.0.0.1', '9']],
    [['sendto', '-w', '1', '127.0.0.1', '9', 'x']],
    [['sendto', '--hex-input', '127.0.0.1', '9', '00']],
    [['send', '127.0.0.1', '9', 'x']],
  ])('%j goes to commander', (args) => {
    expect(quickArgs(['node', 'sockit', ...args])).toBeUndefined();
  });

  test('portCountBound: at least the ports parsePortSpec makes, or unknown', () => {
    expect(portCountBound(['22', '20-25,80'])).toBe(8);
    expect(portCountBound(['25-20'])).toBe(6);
    expect(portCountBound(['ms-sql-s'])).toBeUndefined();
    expect(portCountBound(['http'])).toBe(1);
  });
});
