/**
 * The options of the built-in handlers that need more than a name (`exec`,
 * `broker`, `chat`, `stdio`), for every server command. Declared here, light
 * enough for `--help`; what they do at run time is serve-handlers.ts.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { parseDuration } from './options.js';

/** The options of the handlers that need more than a name. */
export interface HandlerExtraOptions {
  exec?: string;
  shExec?: string;
  killGrace?: number;
  brokerBuffer?: number;
  lines?: boolean;
  firstRead?: boolean;
  firstLine?: boolean;
  strip?: boolean;
}

/** Seconds between SIGTERM and SIGKILL by default (as the exec handler's default). */
export const KILL_GRACE = 2;
/** The broker's and the chat's limit per reader by default (1 MiB, as the room's). */
export const BROKER_BUFFER = 1024 * 1024;

const UNITS: Readonly<Record<string, number>> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** A size in bytes: `65536`, `64k`, `1M`, `1MiB` (binary units). */
export function sizeArg(value: string): number {
  const m = /^(\d+)\s*([kmg]?)(?:i?b)?$/i.exec(value.trim());
  if (!m) throw new InvalidArgumentError('expected a size such as 65536, 64k or 1M');
  const n = Number(m[1]) * UNITS[m[2]!.toLowerCase()]!;
  if (n < 1 || !Number.isSafeInteger(n)) throw new InvalidArgumentError('size out of range');
  return n;
}

/**
 * `--first-read`, `--first-line`, `--strip`: the reply handlers (echo, upper-case,
 * lower, threaded-echo) answering as Python socketserver's examples do.
 */
function addReplyOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        '--first-read',
        "echo/upper/lower/threaded-echo: answer the first read (up to 1024 bytes, Python's recv(1024)), then close",
      ).conflicts('firstLine'),
    )
    .option(
      '--first-line',
      "echo/upper/lower/threaded-echo: answer the first line (Python's rfile.readline()), then close",
    )
    .option(
      '--strip',
      "echo/upper/lower/threaded-echo: strip surrounding whitespace, as Python's .strip()",
    );
}

/** `--exec`, `--sh-exec`, `--kill-grace`, `--broker-buffer`, `--lines` and the reply options. */
export function addHandlerExtras(cmd: Command): Command {
  return addReplyOptions(cmd)
    .addOption(
      new Option('--exec <program>', 'run "program [args]" per connection or datagram, no shell')
        .implies({ handler: 'exec' })
        .conflicts('shExec'),
    )
    .addOption(
      new Option(
        '--sh-exec <command>',
        'run command with /bin/sh -c per connection or datagram',
      ).implies({ handler: 'exec' }),
    )
    .addOption(
      new Option('--kill-grace <s>', 'a child that must go: SIGTERM, then SIGKILL after s')
        .argParser(parseDuration)
        .default(KILL_GRACE, '2s'),
    )
    .addOption(
      new Option('--broker-buffer <bytes>', 'broker/chat: drop a client with this much unread')
        .argParser(sizeArg)
        .default(BROKER_BUFFER, '1M'),
    )
    .option('--lines', 'stdio on datagrams: one datagram per line of stdin (default: per read)');
}
