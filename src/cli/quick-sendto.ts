/** The quick `sendto host port message…` (quick-main.ts): the entry of dist/bundle/quick-sendto.cjs. */
import type { CliIO } from './output.js';
import type { SignalSource } from './context.js';
import { quickArgs } from './quick-args.js';
import { runQuick } from './quick-main.js';
import { runSendto } from './sendto-run.js';

/**
 * Run `argv` (as in process.argv) if it is a quick `sendto`, resolving with the exit
 * code; undefined (nothing done) otherwise, for the commander program to run.
 */
export function quickMain(
  argv: readonly string[],
  given?: CliIO,
  signals?: SignalSource,
): Promise<number> | undefined {
  const run = quickArgs(argv);
  if (run?.command !== 'sendto') return undefined;
  return runQuick(argv, (ctx) => runSendto(ctx, run.positional, run.opts), given, signals);
}
