import { Command } from 'commander';
import { Buffer } from 'node:buffer';
import { plural } from '../output.js';
import type { CliContext } from '../context.js';
import { checkSocketDirectory } from '../../net/unix-path.js';
import { ERR, EXIT, NetworkError, UsageError, systemError } from '../../net/errors.js';
import { formatEndpoint } from '../../net/address.js';
import { escapeControls, safeValue } from '../../net/terminal.js';
import { countArg, hostArg, parseDuration, portArg } from '../options.js';
import {
  outputDrops,
  printDatagram,
  runInterruptible,
  type InterruptScope,
} from '../client-output.js';
import { addTapOptions, withTap, type TapCliOptions } from '../tap-options.js';
import type { Tap } from '../../net/tap.js';

/** Options of `sockit recvfrom`. */
interface RecvfromCliOptions extends TapCliOptions {
  host: string;
  unix?: string;
  count?: number;
  timeout?: number;
  echo?: boolean;
  reply?: string;
  hex?: boolean;
  json?: boolean;
  verbose?: boolean;
}

/** Default port of `recvfrom`, as for `serve`. */
const DEFAULT_PORT = 9999;

const RECVFROM_HELP = `
The line "listening on udp://HOST:PORT" (or unix://PATH) goes to stderr once bound.

Examples:
  sockit recvfrom 0 --count 1                   any free port, exit after one datagram
  sockit recvfrom 5514 --json | jq .data
  sockit recvfrom --unix /tmp/dgram.sock --echo

Exit status: 0 done; 1 bind failed or nothing came before --timeout; 2 bad usage.`;

/** `sockit recvfrom`: print datagrams as they arrive. */
export function makeRecvfromCommand(ctx: CliContext): Command {
  const cmd = new Command('recvfrom')
    .description('bind a UDP port (or unix datagram path) and print each datagram as it arrives')
    .argument('[port]', `UDP port to bind (default ${DEFAULT_PORT}; 0 = any free port)`, portArg)
    .option('-H, --host <address>', 'address to bind', hostArg, '127.0.0.1')
    .option('-U, --unix <path>', 'bind a unix datagram socket at this path')
    .option('-c, --count <n>', 'exit 0 after n datagrams', countArg(1))
    .option(
      '-w, --timeout <duration>',
      'stop after this long: exit 1 if nothing came',
      parseDuration,
    )
    .option('--echo', 'send each datagram back to its sender')
    .option('--reply <text>', 'answer each sender with this text')
    .option('--hex', 'print each datagram as one line of hex')
    .option('--json', 'print each datagram as a "datagram" event: peer, bytes, data, encoding')
    .option('-v, --verbose', 'one line per datagram on stderr (sender, size)');
  return addTapOptions(cmd)
    .addHelpText('after', RECVFROM_HELP)
    .action((port: number | undefined, opts: RecvfromCliOptions) => runRecvfrom(ctx, port, opts));
}

async function runRecvfrom(
  ctx: CliContext,
  port: number | undefined,
  opts: RecvfromCliOptions,
): Promise<void> {
  const { out } = ctx;
  out.verbose = opts.verbose === true;
  if (opts.hex && opts.json) throw new UsageError('--hex and --json exclude each other');
  if (opts.echo && opts.reply !== undefined)
    throw new UsageError('--echo and --reply exclude each other');
  if (opts.unix !== undefined && port !== undefined)
    throw new UsageError(`with --unix, give no port (got ${port})`);
  if (opts.unix !== undefined) await checkSocketDirectory(opts.unix, 'bind');
  const { recvfrom } = await import('../../clients/datagram-client.js');
  const { formatUrl } = await import('../../net/address.js');
  const where =
    opts.unix !== undefined ? { path: opts.unix } : { host: opts.host, port: port ?? DEFAULT_PORT };
  const body = async (scope: InterruptScope, tap: Tap | undefined): Promise<number> => {
    const drops = outputDrops(ctx);
    const r = await recvfrom(where, {
      tap,
      count: opts.count,
      timeout: opts.timeout,
      echo: opts.echo,
      reply: opts.reply !== undefined ? Buffer.from(opts.reply) : undefined,
      signal: scope.signal,
      onListening: (a) => out.always(`listening on ${escapeControls(formatUrl('udp', a))}`),
      onDatagram: (d) => {
        out.detail(`${plural(d.data.length, 'byte')} from ${safeValue(formatEndpoint(d.from))}`);
        if (!scope.outputClosed() && !printDatagram(ctx, d, opts)) drops.hit();
      },
    }).finally(() => drops.flush());
    if (!scope.outputClosed() && r.reason === 'timeout' && r.received === 0) {
      const cause = systemError('ETIMEDOUT', 'timed out');
      throw new NetworkError(`no datagram within ${opts.timeout}s`, cause, ERR.NO_REPLY);
    }
    return EXIT.OK;
  };
  await withTap(ctx, opts, false, (tap) =>
    runInterruptible(ctx, (scope) => body(scope, tap), { watchStdout: true }),
  );
}
