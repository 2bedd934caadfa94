/**
 * `sockit completion bash|zsh|fish`: the scripts are sourced in the real shells and
 * asked for completions, in a directory with known files. bash runs the completion
 * function as `complete -F` would (COMP_WORDS, COMP_CWORD); zsh with `compadd` and
 * `_files` stubbed (the completion system needs a terminal); fish with `complete -C`.
 * zsh and fish are checked when installed.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../helpers/cli.js';
import { testIf } from '../helpers/skip.js';
import { hasCommand } from '../clients/peers.js';
import { HANDLER_NAMES } from '../../src/handlers/names.js';

const MODES = ['async', 'sequential', 'threading', 'forking'];
const FILES = ['my-handler.js', 'notes.txt', 'sub'];
let dir: string;
let cwd: string;
const scripts: Record<string, string> = {};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sk-compl-'));
  cwd = join(dir, 'cwd');
  mkdirSync(join(cwd, 'sub'), { recursive: true });
  writeFileSync(join(cwd, 'my-handler.js'), '');
  writeFileSync(join(cwd, 'notes.txt'), '');
  for (const shell of ['bash', 'zsh', 'fish']) {
    const r = await run(['completion', shell]);
    expect(r.code).toBe(0);
    writeFileSync(join(dir, `sockit.${shell}`), r.stdout);
    scripts[shell] = join(dir, `sockit.${shell}`);
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Run `shell args…` in the directory with the known files; its stdout lines, sorted. */
function shellLines(shell: string, args: string[], input?: string): string[] {
  const r = spawnSync(shell, args, { cwd, input, encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .sort();
}

/** The words typed so far, the last one being completed (may be ''). */
type Line = string[];

/** What each shell offers for a command line, sorted. */
const CASES: [Line, string[]][] = [
  [
    ['completion', ''],
    ['bash', 'fish', 'zsh'],
  ],
  [
    ['serve', ''],
    ['--help', 'tcp', 'udp', 'unix'],
  ],
  [['serve', 'tcp', '-e', ''], [...HANDLER_NAMES].sort()],
  [['serve', 'udp', '--handler', 'up'], HANDLER_NAMES.filter((h) => h.startsWith('up')).sort()],
  [
    ['serve', 'tcp', '--handler', './'],
    ['./my-handler.js', './notes.txt', './sub'],
  ],
  [['serve', 'tcp', '-m', ''], [...MODES].sort()],
  [['serve', 'unix', '/tmp/s.sock', '--mode', 'th'], ['threading']],
  [['serve', 'tcp', '-m', 'async', '-e', 'ech'], ['echo']],
  [['serve', 'unix', ''], FILES],
  [['connect', '--unix', ''], FILES],
  [['recvfrom', '--unix', 'n'], ['notes.txt']],
  [
    ['serve', 'tcp', '0', '--ma'],
    ['--max-conns', '--max-requests'],
  ],
];

describe('bash', () => {
  const bash = (line: Line): string[] => {
    const words = ['sockit', ...line].map((w) => `'${w}'`).join(' ');
    return shellLines('bash', [
      '--norc',
      '-c',
      `source "$0"; COMP_WORDS=(${words}); COMP_CWORD=${line.length}; _sockit; printf '%s\\n' "\${COMPREPLY[@]}"`,
      scripts.bash!,
    ]);
  };

  test.each(CASES)('sockit %j', (line, expected) => {
    expect(bash(line)).toEqual(expected);
  });

  test('the value after --mode= (bash splits it into three words)', () => {
    expect(bash(['serve', 'tcp', '--mode', '=', 'se'])).toEqual(['sequential']);
    expect(bash(['serve', 'tcp', '--mode', '=', 'async', '--onc'])).toEqual(['--once']);
  });

  test('the script registers itself for the sockit command', () => {
    expect(
      shellLines('bash', ['--norc', '-c', 'source "$0"; complete -p sockit', scripts.bash!]),
    ).toEqual(['complete -o default -F _sockit sockit']);
  });
});

describe('zsh', () => {
  const zsh = (line: Line): string[] => {
    const words = ['sockit', ...line].map((w) => `'${w}'`).join(' ');
    const stubs = `compdef() { :; }; compadd() { [[ $1 == -- ]] && shift; print -rl -- "$@"; }; _files() { print -rl -- $PREFIX*(N); }`;
    const lines = shellLines('zsh', [
      '-f',
      '-c',
      `${stubs}; source "$0"; words=(${words}); CURRENT=${line.length + 1}; PREFIX=$words[CURRENT]; _sockit`,
      scripts.zsh!,
    ]);
    // the real compadd keeps only the words that start with what was typed
    const typed = line[line.length - 1]!;
    return lines.filter((l) => l.startsWith(typed));
  };

  testIf(hasCommand('zsh') ? undefined : 'zsh is not installed', import.meta.url).each(CASES)(
    'sockit %j',
    (line, expected) => {
      expect(zsh(line)).toEqual(expected);
    },
  );
});

/** Where fish differs: options only after a '-', and a handler's files beside its names. */
const FISH_CASES = CASES.map(([line, expected]): [Line, string[]] => {
  if (line.join(' ') === 'serve ') return [line, expected.filter((w) => !w.startsWith('-'))];
  if (line.join(' ') === 'serve tcp -e ') return [line, [...expected, ...FILES].sort()];
  return [line, expected];
});

describe('fish', () => {
  const fish = (line: Line): string[] =>
    shellLines('fish', [
      '--no-config',
      '-c',
      'source $argv[1]; complete -C $argv[2]',
      scripts.fish!,
      ['sockit', ...line].join(' '),
    ]).map((l) => l.split('\t')[0]!.replace(/\/$/, ''));

  testIf(hasCommand('fish') ? undefined : 'fish is not installed', import.meta.url).each(
    FISH_CASES,
  )('sockit %j', (line, expected) => {
    expect(fish(line)).toEqual(expected);
  });
});
