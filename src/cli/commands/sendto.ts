import { Command } from 'commander';
import type { CliContext } from '../context.js';

/** `sockit sendto` (not yet implemented). */
export function makeSendtoCommand(_ctx: CliContext): Command {
  return new Command('sendto').description('(not yet implemented)');
}
