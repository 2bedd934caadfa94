import { Command } from 'commander';
import type { CliContext } from '../context.js';

/** `sockit send` (not yet implemented). */
export function makeSendCommand(_ctx: CliContext): Command {
  return new Command('send').description('(not yet implemented)');
}
