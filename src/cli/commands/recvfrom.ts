import { Command } from 'commander';
import type { CliContext } from '../context.js';

/** `sockit recvfrom` (not yet implemented). */
export function makeRecvfromCommand(_ctx: CliContext): Command {
  return new Command('recvfrom').description('(not yet implemented)');
}
