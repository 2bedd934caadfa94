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
import { processSignals, reportFailure, runContext, wantsDebug } from './run-context.js';

/**
 * Run `body` as main.ts runs a command: on the process's IO (or `given`), colour
 * prepared, any failure reported in one line; resolves with the exit code.
 */
export async function runQuick(
  argv: readonly string[],
  body: (ctx: CliContext) => Promise<void>,
  given: CliIO | undefined,
  signals: SignalSource = processSignals(),
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
