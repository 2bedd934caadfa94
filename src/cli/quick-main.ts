/**
 * The quick runs (quick-args.ts): `connect -z host ports…` and `sendto host port
 * message…` without commander, the program's tree or main.ts, from their own
 * small bundle (scripts/bundle.mjs, picked by bin/sockit.js). They run the
 * commands' own code (connect-probe.ts, sendto-run.ts) on the context and the
 * failure report main.ts uses (run-context.ts), so they print and exit alike.
 */
import type { CliIO } from './output.js';
import type { SignalSource } from './context.js';
import { quickArgs, type QuickRun } from './quick-args.js';
import { processSignals, reportFailure, runContext, wantsDebug } from './run-context.js';
import { familyOf } from './client-target.js';
import { runProbe } from './connect-probe.js';
import { runSendto } from './sendto-run.js';

/**
 * Run `argv` (as in process.argv) if it is a quick shape, resolving with the exit
 * code; undefined (nothing done) otherwise, for the commander program to run.
 */
export function quickMain(
  argv: readonly string[],
  given?: CliIO,
  signals?: SignalSource,
): Promise<number> | undefined {
  const run = quickArgs(argv);
  return run && quickRun(run, argv, given, signals ?? processSignals());
}

async function quickRun(
  run: QuickRun,
  argv: readonly string[],
  given: CliIO | undefined,
  signals: SignalSource,
): Promise<number> {
  const ctx = runContext(given, signals);
  const debug = wantsDebug(argv, ctx.io);
  try {
    await ctx.out.prepareColor();
    // what runConnect does with -z and these flags: the family, then the probe
    if (run.command === 'connect') {
      await runProbe(ctx, run.host, run.ports, run.opts, familyOf(run.opts));
    } else {
      await runSendto(ctx, run.positional, run.opts);
    }
    return ctx.exitCode;
  } catch (err) {
    return reportFailure(err, ctx.out, debug);
  }
}
