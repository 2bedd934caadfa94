/**
 * The sockit program: builds the commander tree and maps every failure to one
 * line on stderr and an exit code. Never calls process.exit().
 */
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { ERR, EXIT } from '../net/errors.js';
import type { Output, CliIO } from './output.js';
import type { CliContext, SignalSource } from './context.js';
import { processSignals, reportFailure, runContext, wantsDebug } from './run-context.js';
import { netcatListen } from './nc-habit.js';

// read, not required: node:module would bring Node's ESM loader into every start
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/** The package version. */
export const VERSION = pkg.version;

/** Builds one subcommand; `root` gives the whole program (for completion). */
export type CommandFactory = (ctx: CliContext, root: () => Command) => Command;

/**
 * The subcommands, each loaded only when needed: a run of `sockit sendto` never
 * parses the server or probe code (start-up time is part of the product).
 */
const COMMANDS: Readonly<Record<string, () => Promise<CommandFactory>>> = {
  serve: async () => (await import('./commands/serve.js')).makeServeCommand,
  listen: async () => (await import('./commands/listen.js')).makeListenCommand,
  connect: async () => (await import('./commands/connect.js')).makeConnectCommand,
  send: async () => (await import('./commands/send.js')).makeSendCommand,
  sendto: async () => (await import('./commands/sendto.js')).makeSendtoCommand,
  recvfrom: async () => (await import('./commands/recvfrom.js')).makeRecvfromCommand,
  completion: async () => (await import('./commands/completion.js')).makeCompletionCommand,
};

/**
 * Load the factories a run needs: only the named subcommand when argv names one
 * (completion needs the whole tree), every one otherwise (help, typos, --version).
 */
export async function loadCommands(argv: readonly string[] = []): Promise<CommandFactory[]> {
  const args = argv.slice(2);
  const name = args.find((a) => !a.startsWith('-'));
  if (!name && (args.includes('-V') || args.includes('--version'))) return [];
  const names = name && name !== 'completion' && name in COMMANDS ? [name] : Object.keys(COMMANDS);
  const factories: CommandFactory[] = [];
  // one at a time: jest's ESM loader trips over concurrent imports of a shared module
  for (const n of names) factories.push(await COMMANDS[n]!());
  return factories;
}

/** Build the program for one run from the loaded command factories. */
export function buildProgram(ctx: CliContext, factories: readonly CommandFactory[]): Command {
  const program = new Command('sockit')
    .description('A netcat-like socket tool: quick servers, pipes, probes and datagrams')
    .version(VERSION, '-V, --version', 'print the version and exit')
    .helpOption('-h, --help', 'show help')
    .option('--no-color', 'never colour diagnostics (NO_COLOR is honoured too)')
    .option('--debug', 'print stack traces of unexpected errors')
    .addHelpCommand(false)
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.io.stdout.write(s),
      writeErr: (s) => ctx.io.stderr.write(s),
      // one line: commander puts its "(Did you mean …?)" hint on a second one
      outputError: (s) => ctx.out.error(s.replace(/^error: /, '').trim(), { code: ERR.USAGE }),
    })
    .hook('preAction', (_cmd, action) => {
      const opts = action.optsWithGlobals() as {
        color?: boolean;
        quiet?: boolean;
        verbose?: boolean;
      };
      if (opts.color === false) ctx.out.color = false;
    });
  for (const make of factories) {
    const cmd = make(ctx, () => program);
    cmd.exitOverride().configureOutput(program.configureOutput()).showSuggestionAfterError(true);
    for (const sub of cmd.commands) sub.exitOverride().configureOutput(program.configureOutput());
    program.addCommand(cmd);
  }
  program.addHelpText(
    'after',
    `
Examples:
  sockit serve tcp 9999                 echo server on 127.0.0.1:9999
  sockit listen 9000 > file             netcat's listen mode (nc -l): receive a file
  echo hello | sockit connect localhost 9999
  sockit connect -z 127.0.0.1 20-25     which ports are open (exit 0 if any)
  sockit sendto 127.0.0.1 9999 ping --wait 1

Exit status: 0 success, 1 the network said no, 2 bad usage or input.`,
  );
  return program;
}

/** Run sockit with `argv` (as in process.argv); resolves with the exit code. */
export async function main(
  argv: readonly string[],
  given?: CliIO,
  signals: SignalSource = processSignals(),
): Promise<number> {
  const ctx = runContext(given, signals);
  const { out } = ctx;
  // `serve --json`: stderr is the event stream from the first line on, parse errors included
  out.json = eventStream(argv);
  const debug = wantsDebug(argv, ctx.io);
  try {
    await out.prepareColor();
    const args = netcatListen(argv);
    await buildProgram(ctx, await loadCommands(args)).parseAsync([...args]);
    return ctx.exitCode;
  } catch (err) {
    return reportError(err, out, debug);
  }
}

/** Whether stderr carries JSON events (`serve … --json`). */
function eventStream(argv: readonly string[]): boolean {
  const args = argv.slice(2);
  return args.find((a) => !a.startsWith('-')) === 'serve' && args.includes('--json');
}

/** One line for any failure, and its exit code. */
export function reportError(err: unknown, out: Output, debug = false): number {
  if (err instanceof CommanderError) {
    // --help and --version exit 0; help shown because something was missing, and every
    // other commander error, is bad usage (2: the POSIX habit, not commander's 1)
    if (['commander.helpDisplayed', 'commander.version'].includes(err.code)) return err.exitCode;
    if (err.code === 'commander.help' && err.exitCode === 0) return 0;
    return EXIT.USAGE;
  }
  return reportFailure(err, out, debug);
}
