/**
 * `sockit serve tcp|udp|unix`: quick servers with a built-in or user handler.
 * This file only declares the commands; the work is in `../serve-run.ts`,
 * loaded when a server actually starts.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import type { CliContext } from '../context.js';
import { UsageError } from '../../net/errors.js';
import { collect, countArg, hostArg, parseDuration, portArg } from '../options.js';
import { CONCURRENCY_MODES } from '../../engine/modes.js';
import { HANDLER_INFO as HANDLERS, HANDLER_ALIASES } from '../../handlers/names.js';
import type { ServeOptions, ServeTarget, ServeTransport } from '../serve-run.js';
import { addForwardOptions } from '../forward-options.js';
import { addHandlerExtras } from '../handler-options.js';
import { addServerTlsOptions } from '../tls-options.js';
import { addTapOptions } from '../tap-options.js';

/** A file mode in octal: `600`, `0660`, `0o644`. */
export function octalModeArg(value: string): number {
  const m = /^(?:0o?)?(0?[0-7]{1,3})$/i.exec(value.trim());
  if (!m) {
    throw new InvalidArgumentError(
      'expected an octal file mode such as 600 or 0660 (permission bits only)',
    );
  }
  return parseInt(m[1]!, 8);
}

/** The largest `--workers` pool: each worker is a thread or a process of its own. */
export const MAX_WORKERS = 1024;

/**
 * `--allow a,b --allow c d` → ['a', 'b', 'c', 'd']. An empty item is an error: an empty
 * `--allow` must never turn into "no rule", which would let everyone in.
 */
function cidrList(value: string, previous: string[] = []): string[] {
  const items = value.split(',').map((v) => v.trim());
  if (items.some((v) => v === '')) throw new InvalidArgumentError('empty CIDR in the list');
  return items.reduce((acc, v) => collect(v, acc), previous);
}

/** The handlers `-e` takes, one line each, for help texts. */
export function handlerList(): string {
  const aliases = Object.entries(HANDLER_ALIASES);
  const width = Math.max(...HANDLERS.map((h) => h.name.length));
  return [
    'Handlers (-e):',
    ...HANDLERS.map((h) => `  ${h.name.padEnd(width)}  ${h.description}`),
    `  ${'./file.js'.padEnd(width)}  your module: default-export a handler class or (data, info) => reply`,
    `  aliases: ${aliases.map(([a, n]) => `${a} = ${n}`).join(', ')}`,
  ].join('\n');
}

const SERVE_HELP = `
Python socketserver's examples, one command each (the same replies, byte for byte):
  sockit serve tcp 9999 -e upper --first-read --strip
      TCPServer with MyTCPHandler: recv(1024).strip().upper(), then close
  sockit serve tcp 9999 -e upper --first-line --strip
      its StreamRequestHandler variant: rfile.readline().strip().upper(), then close
  sockit serve udp 9999 -e upper --strip
      UDPServer with MyUDPHandler: data.strip().upper()
  sockit serve tcp 9999 -e threaded-echo -m threading --first-read
      ThreadingTCPServer: "Thread-2: data" (Python names it "Thread-1 (process_request_thread)")
Without --first-read or --first-line, a handler answers until the client half-closes
(nc -N); without --strip, the reply keeps the newline.

Examples:
  sockit serve tcp 0                       echo server on any free port (see the banner)
  sockit serve unix /tmp/echo.sock         echo over a unix stream socket
  sockit serve tcp 8000 -e ./my-handler.js your own handler module

The banner "listening on tcp://127.0.0.1:9999" goes to stderr once bound; stdout stays empty.
sockit binds 127.0.0.1 unless told otherwise (-H 0.0.0.0 or -H ::), where nc binds 0.0.0.0.
Ctrl-C (SIGINT) or SIGTERM stops accepting, lets open requests finish (--drain-timeout),
prints a summary and exits 0; a second Ctrl-C stops at once (exit 130).`;

/** serve's -w, -q and -e are not netcat's: said in every `serve … --help`. */
export const NC_LETTERS = `
netcat's letters mean other things in serve:
  -w, --workers <n>  the threading/forking pool size; nc -w is a timeout (here --idle-timeout,
                     --timeout; on connect, send and recvfrom -w is the timeout, as in nc)
  -q, --quiet        less logging; nc -q quits after EOF (that is connect -q)
  -e, --handler      a built-in handler or a module file; nc/ncat -e runs a program per
                     connection (here --exec, or --sh-exec for a shell command)
The man page lists netcat, ncat and socat commands with their sockit equivalents.`;

const EXAMPLES: Record<ServeTransport, string> = {
  tcp: `
Examples:
  sockit serve tcp                         echo on 127.0.0.1:9999 (nc would bind 0.0.0.0)
  sockit serve tcp 9999 -e upper --first-read --strip   Python socketserver's MyTCPHandler
  sockit serve tcp 9999 -e threaded-echo -m threading --first-read   its ThreadingTCPServer
  sockit serve tcp 0 --once                any free port; serve one client, then exit
  sockit serve tcp 8080 -H :: --allow 10.0.0.0/8 --allow ::1   all interfaces, filtered
  sockit serve tcp 19 -e chargen --max-conns 10 --idle-timeout 30s
  sockit serve tcp 7000 -e ./my-handler.js --json 2>events.ndjson
  sockit serve tcp 7000 --exec '/bin/cat -u'           a program per connection (ncat -e)
  sockit serve tcp 7000 -e chat                         line chat for every client (ncat --chat)
  sockit listen 7000 > file                             netcat's listen mode: see sockit listen --help
  sockit serve tcp 2375 --forward unix:///var/run/app.sock   a unix socket on TCP (socat)

Node always sets SO_REUSEADDR on TCP listeners (restart right after a stop just works);
--no-reuse-address cannot turn it off and only prints a warning.`,
  udp: `
Examples:
  sockit serve udp                         echo datagrams on 127.0.0.1:9999
  sockit serve udp 9999 -e upper --strip   Python socketserver's MyUDPHandler
  sockit serve udp 13 -e daytime -H ::     daytime for IPv6 and IPv4 senders
  sockit serve udp 0 --max-requests 3      answer three datagrams, then exit
  sockit serve udp 5353 --reuse-address    share the port with another socket (SO_REUSEADDR)
  sockit serve udp 7000 --sh-exec 'tr a-z A-Z'   a child per datagram; its output is the reply
  sockit serve udp 5300 --forward udp://10.0.0.2:53   a UDP relay, one upstream socket per sender

Every datagram is a request and its reply goes to its sender (up to 65,507 bytes).`,
  unix: `
Examples:
  sockit serve unix /tmp/echo.sock                     echo over a unix stream socket
  sockit serve unix /tmp/up.sock -e upper --socket-mode 660   group may connect too
  sockit serve unix /tmp/dg.sock --datagram            unix datagram echo (SOCK_DGRAM)
  sockit serve unix /tmp/db.sock --forward tcp://127.0.0.1:5432   a TCP-to-unix bridge

The socket file is created 0600 (unless --socket-mode) and removed on exit; a stale one is
replaced, a live server's never. Datagram senders must bind their own path to get replies.`,
};

/** How requests are handled: the handler (`echo` unless told), the concurrency mode, and how many. */
export function addHandlingOptions(cmd: Command, defaultHandler = 'echo'): Command {
  return cmd
    .addOption(
      new Option(
        '-e, --handler <name|file>',
        'built-in handler (see below) or a module file',
      ).default(defaultHandler),
    )
    .addOption(
      new Option('-m, --mode <model>', 'concurrency model')
        .choices(CONCURRENCY_MODES)
        .default('async'),
    )
    .option(
      '-w, --workers <n>',
      `pool size for threading/forking, 1-${MAX_WORKERS} (default: CPU count)`,
      countArg(1, MAX_WORKERS),
    )
    .addOption(new Option('--once', 'handle one request, then exit 0').conflicts('maxRequests'))
    .option('--max-requests <n>', 'handle n requests, then exit 0', countArg(1))
    .option(
      '--timeout <s>',
      'with --once/--max-requests: give up (exit 1) when no request comes within s',
      parseDuration,
    );
}

/** The options that fit a transport: addresses, limits, access lists, socket files. */
export function addTransportOptions(cmd: Command, transport: ServeTransport): Command {
  const inet = transport !== 'unix';
  if (inet) {
    cmd
      .option('-H, --host <addr>', 'address to bind (:: or 0.0.0.0 for remote clients)', hostArg)
      .option('-p, --port <port>', 'port (the same as the [port] argument)', portArg);
  }
  if (transport === 'udp') {
    cmd.option(
      '--max-conns <n>',
      'with --exec: programs running at once (64); with --forward: sender sessions',
      countArg(1),
    );
  } else {
    cmd
      .option('--max-conns <n>', 'refuse clients beyond n open connections', countArg(1))
      .option('--idle-timeout <s>', 'close a connection silent for s seconds', parseDuration)
      .option('--backlog <n>', 'listen backlog (default 4096, capped by the kernel)', countArg(1));
  }
  if (!inet) {
    return cmd
      .option('--datagram', 'a unix datagram socket (SOCK_DGRAM) instead of a stream')
      .option('--socket-mode <octal>', 'file mode of the socket (default 600)', octalModeArg);
  }
  return cmd
    .option('--allow <cidr...>', 'accept only these peers (IPv4/IPv6 CIDR; repeatable)', cidrList)
    .option('--deny <cidr...>', 'refuse these peers (wins over --allow)', cidrList)
    .option(
      '--reuse-address',
      transport === 'udp' ? 'SO_REUSEADDR: share the port' : 'SO_REUSEADDR (always on for tcp)',
    )
    .option('--no-reuse-address', 'no SO_REUSEADDR (udp default; tcp cannot honour it)')
    .option('--ipv6-only', 'on ::, accept IPv6 peers only (no IPv4-mapped)');
}

/** How a server stops and reports: the drain on a signal, and what goes to stderr. */
export function addReportOptions(cmd: Command): Command {
  return cmd
    .option(
      '--drain-timeout <s>',
      'on SIGINT/SIGTERM, wait at most s for open requests',
      parseDuration,
      5,
    )
    .addOption(
      new Option('-v, --verbose', 'one stderr line per connection/datagram').conflicts('quiet'),
    )
    .option('-q, --quiet', 'only the banner and errors on stderr')
    .option('--json', 'NDJSON events on stderr instead of text lines');
}

/** The options every `serve` subcommand shares, plus the ones that fit its transport. */
function addServeOptions(cmd: Command, transport: ServeTransport): Command {
  const stream = transport !== 'udp';
  addTransportOptions(addHandlingOptions(cmd), transport);
  addHandlerExtras(addForwardOptions(cmd, stream));
  if (stream) addServerTlsOptions(cmd);
  addTapOptions(cmd);
  const after = `\n${handlerList()}\n${EXAMPLES[transport]}\n${NC_LETTERS}`;
  return addReportOptions(cmd).addHelpText('after', after);
}

async function run(
  ctx: CliContext,
  transport: ServeTransport,
  target: ServeTarget,
  opts: ServeOptions,
): Promise<void> {
  const { runServe } = await import('../serve-run.js');
  await runServe(ctx, transport, target, opts);
}

/** The port from `[port]` and `-p`; giving two different ones is an error. */
function pickPort(arg: number | undefined, opt: number | undefined): number | undefined {
  if (arg !== undefined && opt !== undefined && arg !== opt) {
    throw new UsageError(`two different ports given — ${arg} and -p ${opt}`);
  }
  return opt ?? arg;
}

function inetCommand(ctx: CliContext, transport: 'tcp' | 'udp'): Command {
  const cmd = new Command(transport)
    .description(
      transport === 'tcp'
        ? 'TCP server (127.0.0.1:9999 unless told otherwise)'
        : 'UDP server: every datagram is a request, answered to its sender',
    )
    .argument('[port]', 'port to listen on (default 9999; 0 = any free port)', portArg);
  addServeOptions(cmd, transport);
  return cmd.action(async (port: number | undefined, opts: ServeOptions) => {
    await run(ctx, transport, { port: pickPort(port, opts.port) }, opts);
  });
}

function unixCommand(ctx: CliContext): Command {
  const cmd = new Command('unix')
    .description('unix socket server (stream; --datagram for SOCK_DGRAM)')
    .argument('<path>', 'socket file to create (at most 107 bytes)');
  addServeOptions(cmd, 'unix');
  return cmd.action(async (path: string, opts: ServeOptions) => {
    await run(ctx, 'unix', { path }, opts);
  });
}

/** `sockit serve`: the `tcp`, `udp` and `unix` server subcommands. */
export function makeServeCommand(ctx: CliContext): Command {
  return new Command('serve')
    .description('run a server: tcp, udp or unix, with a built-in or your own handler')
    .addHelpCommand(false)
    .addCommand(inetCommand(ctx, 'tcp'))
    .addCommand(inetCommand(ctx, 'udp'))
    .addCommand(unixCommand(ctx))
    .addHelpText('after', SERVE_HELP);
}
