import { Command } from 'commander';
import type { CliContext } from '../context.js';

/** `sockit serve` (not yet implemented). */
export function makeServeCommand(_ctx: CliContext): Command {
  return new Command('serve').description('(not yet implemented)');
}
