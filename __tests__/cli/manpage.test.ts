import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PassThrough } from 'node:stream';
import { describe, expect, test } from '@jest/globals';
import type { Command } from 'commander';
import { buildProgram, loadCommands, type CommandFactory } from '../../src/cli/main.js';
import { Output } from '../../src/cli/output.js';
import { HANDLER_NAMES } from '../../src/handlers/registry.js';

const MAN = readFileSync(fileURLToPath(new URL('../../man/sockit.1', import.meta.url)), 'utf8');
const PKG = JSON.parse(
  readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8'),
) as {
  man: string;
  version: string;
};

const factories: CommandFactory[] = await loadCommands();

function program(): Command {
  const io = {
    stdin: new PassThrough(),
    stdout: new PassThrough(),
    stderr: new PassThrough(),
    env: {},
  };
  return buildProgram(
    { io, out: new Output(io), exitCode: 0, signals: { on() {}, off() {} } },
    factories,
  );
}

function commands(cmd: Command, path: string[] = []): [string, Command][] {
  return [
    [path.join(' ') || 'sockit', cmd],
    ...cmd.commands.flatMap((c) => commands(c, [...path, c.name()])),
  ];
}

/** roff spells '-' as '\-'. */
const roff = (flag: string): string => flag.replace(/-/g, '\\-');

describe('man/sockit.1 matches the commands', () => {
  test('package.json lists the man page and the page carries the version', () => {
    expect(PKG.man).toBe('./man/sockit.1');
    expect(MAN).toContain(`"sockit ${PKG.version}"`);
  });

  test('has the sections of a section-1 page', () => {
    for (const section of [
      'NAME',
      'SYNOPSIS',
      'DESCRIPTION',
      'COMMANDS',
      'OPTIONS',
      'HEX DUMP',
      'JSON OUTPUT',
      'EXIT STATUS',
      'ENVIRONMENT',
      'EXAMPLES',
      'SEE ALSO',
    ]) {
      expect(MAN).toMatch(new RegExp(`^\\.SH "?${section}"?$`, 'm'));
    }
  });

  test.each(commands(program()).map(([name, cmd]) => [name, cmd] as const))(
    'every option of %s is documented',
    (_name, cmd) => {
      const missing = cmd.options
        .flatMap((o) => [o.long, o.short])
        .filter((f): f is string => !!f)
        .filter((f) => !MAN.includes(roff(f)));
      expect(missing).toEqual([]);
    },
  );

  test('every command is documented', () => {
    const missing = commands(program())
      .map(([name]) => name)
      .filter((name) => name !== 'sockit' && name !== 'serve')
      .filter((name) => !MAN.includes(roff(name)));
    expect(missing).toEqual([]);
  });

  test('every built-in handler name is documented', () => {
    expect(HANDLER_NAMES.filter((h) => !MAN.includes(roff(h)))).toEqual([]);
  });
});
