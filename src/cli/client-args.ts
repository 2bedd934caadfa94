/**
 * Argument handling shared by the client commands: targets (`host port` or
 * `--unix path`), ports given as numbers or service names, and `-4`/`-6`.
 * Everything here throws a UsageError (exit 2) on bad input. Kept free of the
 * client modules so that a command's start-up loads only what it uses.
 */
import { Command, Option } from 'commander';
import { UsageError } from '../net/errors.js';
import { checkUnixPath } from '../net/address.js';
import { safeValue } from '../net/terminal.js';
import { hostArg, ipAddressArg, portArg } from './options.js';

/** A target as the commands see it. */
export type CliTarget = { host: string; port: number } | { path: string };

/** `-4` / `-6` as an IP family. */
export function familyOf(opts: { ipv4?: boolean; ipv6?: boolean }): 4 | 6 | undefined {
  if (opts.ipv4 && opts.ipv6) throw new UsageError('-4 and -6 exclude each other');
  return opts.ipv4 ? 4 : opts.ipv6 ? 6 : undefined;
}

/** Add the `-4` and `-6` options. */
export function addFamilyOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('-4, --ipv4', 'use IPv4 addresses only'))
    .addOption(new Option('-6, --ipv6', 'use IPv6 addresses only'));
}

/** Add `-s/--source`, `-p/--source-port`, `-4` and `-6`. */
export function addSourceOptions(cmd: Command): Command {
  cmd
    .option('-s, --source <address>', 'source IP address', ipAddressArg)
    .option('-p, --source-port <port>', 'source port', portArg);
  return addFamilyOptions(cmd);
}

/**
 * A destination port 1-65535, or a service name (`http` → 80, from
 * /etc/services or a built-in table). The lookup module is only loaded for a name.
 */
export async function destinationPort(
  value: string,
  proto: 'tcp' | 'udp' = 'tcp',
): Promise<number> {
  const text = value.trim();
  if (/^\d+$/.test(text)) {
    const port = Number(text);
    if (port < 1 || port > 65535) {
      throw new UsageError(`invalid port '${safeValue(value)}' — out of range 1-65535`);
    }
    return port;
  }
  const { lookupService } = await import('../clients/ports.js');
  const port = lookupService(text, proto);
  if (port === undefined || port === 0) {
    throw new UsageError(
      `invalid port '${safeValue(value)}' — not a number or a known ${proto} service`,
    );
  }
  return port;
}

/** A host checked with the shared parser, as a UsageError. */
export function checkedHost(value: string): string {
  try {
    return hostArg(value);
  } catch (err) {
    throw new UsageError(`invalid host '${safeValue(value)}' — ${(err as Error).message}`);
  }
}

/**
 * The target of a client command: `--unix <path>`, or `<host> <port>`.
 * `rest` gets the positional arguments left over (messages).
 */
export async function clientTarget(
  unix: string | undefined,
  positional: readonly (string | undefined)[],
  proto: 'tcp' | 'udp' = 'tcp',
): Promise<{ target: CliTarget; rest: string[] }> {
  const args = positional.filter((a): a is string => a !== undefined);
  if (unix !== undefined) {
    try {
      return { target: { path: checkUnixPath(unix) }, rest: args };
    } catch (err) {
      throw err instanceof UsageError ? err : new UsageError(String(err));
    }
  }
  const [host, port, ...rest] = args;
  if (host === undefined) throw new UsageError('missing <host> (or --unix <path>)');
  if (port === undefined) throw new UsageError(`missing <port> after host '${safeValue(host)}'`);
  return { target: { host: checkedHost(host), port: await destinationPort(port, proto) }, rest };
}

/** The help of a command that sends messages. */
export interface MessageCommandHelp {
  readonly description: string;
  /** What the `[message...]` arguments are. */
  readonly message: string;
  /** What `--unix <path>` does. */
  readonly unix: string;
  /** Examples and exit status, after the options. */
  readonly helpAfter: string;
}

/** A client command taking `<host> <port> [message...]` or `--unix <path> [message...]`. */
export function messageCommand(name: string, help: MessageCommandHelp): Command {
  return new Command(name)
    .description(help.description)
    .usage('[options] <host> <port> [message...]  |  --unix <path> [message...]')
    .argument('[host]', 'host name or IP address')
    .argument('[port]', 'port or service name')
    .argument('[message...]', help.message)
    .option('-U, --unix <path>', help.unix)
    .addHelpText('after', help.helpAfter);
}

/** The positional arguments of a {@link messageCommand}: host, port, message words. */
export type Positionals = readonly (string | undefined)[];

/** The action of a {@link messageCommand}: host, port and message words as one list. */
export function withPositionals<O>(
  run: (positional: Positionals, opts: O) => Promise<void>,
): (
  host: string | undefined,
  port: string | undefined,
  message: string[],
  opts: O,
) => Promise<void> {
  return (host, port, message, opts) => run([host, port, ...message], opts);
}
