import { Command } from 'commander';
import type { CliContext } from '../context.js';

/** `sockit connect` (not yet implemented). */
export function makeConnectCommand(_ctx: CliContext): Command {
  return new Command('connect').description('(not yet implemented)');
}
