/**
 * The quick runs (quick-args.ts): `connect -z host ports…` and `sendto host port
 * message…` without commander, the program's tree or main.ts, each from its own
 * small bundle (quick-connect.ts, quick-sendto.ts; scripts/bundle.mjs, picked by
 * bin/sockit.js). They run the commands' own code (connect-probe.ts, sendto-run.ts)
 * on the context and the failure report main.ts uses (run-context.ts), so they
 * print and exit alike.
 */
import type { CliIO } from './output.js';
import type { CliContext, SignalSource } from './context.js';
import { quickArgs, type QuickRun } from './quick-args.js';
import { processSignals, reportFailure, runContext, wantsDebug } from './run-context.js';

/**
 * A quick bundle's entry: runs argv (as in process.argv) if it is a quick run of
 * its command, resolving with the exit code; undefined (nothing done) otherwise,
 * for the commander program to run. `given` and `signals` stand in for the
 * process's (the build's warm-up, tests).
 */
export type QuickMain = (
  argv: readonly string[],
  given?: CliIO,
  signals?: SignalSource,
) => Promise<number> | undefined;

/** The {@link QuickMain} of `command`, which runs `body` as main.ts runs a command. */
export function quickEntry<C extends QuickRun['command']>(
  command: C,
  body: (ctx: CliContext, run: Extract<QuickRun, { command: C }>) => Promise<void>,
): QuickMain {
  return (argv, given, signals = processSignals()) => {
    const run = quickArgs(argv);
    if (run?.command !== command) return undefined;
    return runQuick(argv, (ctx) => body(ctx, run as Extract<QuickRun, { command: C }>), {
      given,
      signals,
    });
  };
}

/**
 * Run `body` on the process's IO (or `given`), colour prepared, any failure
 * reported in one line; resolves with the exit code.
 */
async function runQuick(
  argv: readonly string[],
  body: (ctx: CliContext) => Promise<void>,
  { given, signals }: { given: CliIO | undefined; signals: SignalSource },
): Promise<number> {
  const ctx = runContext(given, signals);
  const debug = wantsDebug(argv, ctx.io);
  try {
    await ctx.out.prepareColor();
    await body(ctx);
    return ctx.exitCode;
  } catch (err) {
    return reportFailure(err, ctx.out, debug);
  }
}
