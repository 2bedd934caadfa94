import { Command } from 'commander';
import type { CliContext } from '../context.js';
import { countArg, intervalArg, parseDuration } from '../options.js';
import { addSourceOptions, messageCommand, withPositionals } from '../client-args.js';
import { addTapOptions } from '../tap-options.js';
import { runSendto, type SendtoCliOptions } from '../sendto-run.js';

const SENDTO_HELP = `
Examples:
  sockit sendto 127.0.0.1 9999 ping --wait 1       one datagram, print the reply
  printf 'a\\nb\\n' | sockit sendto --lines 127.0.0.1 9999
  sockit sendto --hex-input 127.0.0.1 9999 00ff10
  sockit sendto --unix /tmp/dgram.sock hello --wait 1

Exit status: 0 sent (with --wait: a reply came); 1 network error or no reply; 2 bad usage.`;

/** `sockit sendto`: send datagrams, optionally wait for replies. */
export function makeSendtoCommand(ctx: CliContext): Command {
  const cmd = messageCommand('sendto', {
    description: 'send UDP (or unix) datagrams: one per message, per stdin line, or all of stdin',
    message: 'one datagram each (default: stdin, one datagram or one per line)',
    unix: 'send to a unix datagram socket',
    helpAfter: SENDTO_HELP,
  })
    .option('--lines', 'one datagram per line of stdin')
    .option('-n, --newline', 'append a newline to each datagram')
    .option('-c, --count <n>', 'send everything n times', countArg(1))
    .option(
      '-i, --interval <duration>',
      'pause between datagrams, as nc -i: seconds (1, 0.5, 250ms)',
      intervalArg,
    )
    .option('--hex-input', 'messages (or stdin) are hex: 68656c6c6f or "68 65 6c"')
    .option('--broadcast', 'allow a broadcast destination')
    .option(
      '--wait <duration>',
      'print replies that come within this long, byte for byte (stops early once each datagram got one); without it no reply is read',
      parseDuration,
    )
    .option('--hex', 'print replies as one hex line each')
    .option('--json', 'print each reply as a "datagram" event: peer, bytes, data, encoding');
  return addSourceOptions(addTapOptions(cmd))
    .option('-v, --verbose', 'report what was sent and who replied on stderr')
    .action(withPositionals((args, opts: SendtoCliOptions) => runSendto(ctx, args, opts)));
}
