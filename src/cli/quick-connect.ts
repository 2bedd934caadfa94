/** The quick `connect -z` (quick-main.ts): the entry of dist/bundle/quick-connect.cjs. */
import type { CliIO } from './output.js';
import type { SignalSource } from './context.js';
import { quickArgs } from './quick-args.js';
import { runQuick } from './quick-main.js';
import { familyOf } from './client-target.js';
import { runProbe } from './connect-probe.js';

/**
 * Run `argv` (as in process.argv) if it is a quick `connect -z`, resolving with the
 * exit code; undefined (nothing done) otherwise, for the commander program to run.
 */
export function quickMain(
  argv: readonly string[],
  given?: CliIO,
  signals?: SignalSource,
): Promise<number> | undefined {
  const run = quickArgs(argv);
  if (run?.command !== 'connect') return undefined;
  // what runConnect does with -z and these flags: the family, then the probe
  const body = (ctx: Parameters<typeof runProbe>[0]) =>
    runProbe(ctx, run.host, run.ports, run.opts, familyOf(run.opts));
  return runQuick(argv, body, given, signals);
}
