/**
 * Argument handling shared by the client commands: targets (`host port` or
 * `--unix path`), ports given as numbers or service names, and `-4`/`-6`.
 * Everything here throws a UsageError (exit 2) on bad input. Kept free of the
 * client modules so that a command's start-up loads only what it uses; the parts
 * without commander live in client-target.ts.
 */
import { Command, Option } from 'commander';
import { ipAddressArg, portArg } from './options.js';

export {
  checkedHost,
  clientTarget,
  destinationPort,
  familyOf,
  type CliTarget,
} from './client-target.js';

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
