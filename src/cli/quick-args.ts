/**
 * The quick shapes of the two commands a script runs in a loop: `connect -z host
 * ports…` and `sendto host port message…`, each with a few boolean flags. For
 * those argv, {@link quickArgs} gives what commander's parse would give the
 * command's action (a test holds it to that); for any other argv (an option with
 * a value, `--`, help, an unknown flag, a UDP probe, too few operands) it declines, and the
 * commander program runs as always, with every message and exit code its own.
 */

import { THREADED_SCAN_MIN_PORTS } from '../clients/probe-core.js';

/** A `connect -z` or `sendto` run, as commander's parse hands it to the action. */
export type QuickRun =
  | {
      readonly command: 'connect';
      readonly host: string | undefined;
      readonly ports: string[];
      readonly opts: Readonly<Record<string, true>>;
    }
  | {
      readonly command: 'sendto';
      readonly positional: string[];
      readonly opts: Readonly<Record<string, true>>;
    };

/** The boolean flags each quick shape takes: a short letter or a long name → commander's key. */
interface Flags {
  readonly short: ReadonlyMap<string, string>;
  readonly long: ReadonlyMap<string, string>;
}

const FLAGS: Readonly<Record<QuickRun['command'], Flags>> = {
  connect: {
    short: new Map([
      ['z', 'zero'],
      ['v', 'verbose'],
      ['4', 'ipv4'],
      ['6', 'ipv6'],
    ]),
    long: new Map([
      ['--zero', 'zero'],
      ['--verbose', 'verbose'],
      ['--ipv4', 'ipv4'],
      ['--ipv6', 'ipv6'],
      ['--json', 'json'],
      ['--all', 'all'],
    ]),
  },
  sendto: {
    short: new Map([
      ['v', 'verbose'],
      ['n', 'newline'],
      ['4', 'ipv4'],
      ['6', 'ipv6'],
    ]),
    long: new Map([
      ['--verbose', 'verbose'],
      ['--newline', 'newline'],
      ['--ipv4', 'ipv4'],
      ['--ipv6', 'ipv6'],
      ['--broadcast', 'broadcast'],
    ]),
  },
};

/** Whether `name` is one of the quick commands (the launcher's cheap first look). */
function isQuickCommand(name: string | undefined): name is QuickRun['command'] {
  return name === 'connect' || name === 'sendto';
}

/** Set the flags of one option token; false for anything but a known boolean (cluster). */
function takeFlags(arg: string, flags: Flags, opts: Record<string, true>): boolean {
  if (arg.startsWith('--')) {
    const key = flags.long.get(arg);
    if (key === undefined) return false;
    opts[key] = true;
    return true;
  }
  // commander splits a cluster of boolean short flags (`-zv4`) into each of them
  for (const letter of arg.slice(1)) {
    const key = flags.short.get(letter);
    if (key === undefined) return false;
    opts[key] = true;
  }
  return true;
}

/**
 * At most how many ports the port operands of `connect -z` name (`22,80`, `20-25`,
 * `http`), or undefined when that cannot be told at a glance (a named range such
 * as `ftp-http`): parsePortSpec makes at most one port of an item without a dash.
 */
export function portCountBound(operands: readonly string[]): number | undefined {
  let count = 0;
  for (const item of operands.join(',').split(',')) {
    if (!item.includes('-')) count += 1;
    else {
      const range = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(item);
      if (!range) return undefined;
      count += Math.abs(Number(range[2]) - Number(range[1])) + 1;
    }
  }
  return count;
}

/**
 * The quick run `argv` (as in process.argv) asks for, or undefined: the command
 * first, then boolean flags and operands in any order. `connect` needs `-z` and
 * fewer ports than a threaded scan; `sendto` needs a message operand (without one
 * it reads stdin).
 */
export function quickArgs(argv: readonly string[]): QuickRun | undefined {
  const [command, ...rest] = argv.slice(2);
  if (!isQuickCommand(command)) return undefined;
  const flags = FLAGS[command];
  const opts: Record<string, true> = {};
  const operands: string[] = [];
  for (const arg of rest) {
    // `-` alone is an operand to commander, and no host or port: the full path says so
    if (arg === '-') return undefined;
    if (!arg.startsWith('-')) operands.push(arg);
    else if (!takeFlags(arg, flags, opts)) return undefined;
  }
  if (command === 'connect') {
    if (opts['zero'] !== true) return undefined;
    const ports = operands.slice(1);
    // a scan that large runs threads, which the quick bundle leaves out
    if (!((portCountBound(ports) ?? Infinity) < THREADED_SCAN_MIN_PORTS)) return undefined;
    return { command, host: operands[0], ports, opts };
  }
  if (operands.length < 3) return undefined;
  return { command, positional: operands, opts };
}
