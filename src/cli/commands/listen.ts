/**
 * `sockit listen [options] [host] <port>`: netcat's listen mode. It is
 * `sockit serve tcp … -e stdio` with listen-mode defaults: one connection, then
 * exit (`-k` accepts the next one); `-u` for UDP, `-U <path>` for a unix socket.
 * The same options, the same server and the same session as `serve`: only the
 * defaults and the way the address is given differ.
 */
import { Command, Option } from 'commander';
import type { CliContext } from '../context.js';
import { UsageError } from '../../net/errors.js';
import { parsePort } from '../../net/address.js';
import { hostArg } from '../options.js';
import { addHandlerExtras } from '../handler-options.js';
import { addTapOptions } from '../tap-options.js';
import { addServerTlsOptions } from '../tls-options.js';
import {
  addHandlingOptions,
  addReportOptions,
  addTransportOptions,
  handlerList,
  octalModeArg,
} from './serve.js';
import type { ServeOptions, ServeTarget, ServeTransport } from '../serve-run.js';

/** Options of `sockit listen`, as commander parses them. */
interface ListenOptions extends ServeOptions {
  udp?: boolean;
  unix?: string;
  keepOpen?: boolean;
}

const HELP_AFTER = `
netcat's listen mode:
  nc -l 1234                 sockit listen 1234
  nc -lk 1234                sockit listen -k 1234
  nc -lu 1234                sockit listen -u 1234
  nc -lU /tmp/s.sock         sockit listen -U /tmp/s.sock
  ncat -l 1234 -e /bin/cat   sockit listen -k 1234 --exec /bin/cat
  ncat -l 1234 -c 'cmd'      sockit listen -k 1234 --sh-exec 'cmd'
  ncat -l 1234 --broker      sockit serve tcp 1234 -e broker
  ncat -l 1234 --chat        sockit serve tcp 1234 -e chat
  socat TCP-LISTEN:1234,fork EXEC:prog     sockit serve tcp 1234 --exec prog
  socat TCP-LISTEN:1234,fork SYSTEM:'cmd'  sockit serve tcp 1234 --sh-exec 'cmd'
  sockit -l 1234 and sockit -lu 1234 run sockit listen too.

Examples:
  sockit listen 0 > file                  receive a file (the port is in the banner)
  sockit connect 127.0.0.1 PORT < file    ... and send it from elsewhere
  sockit listen 9000 < file               serve a file to the first client that reads
  tar c dir | sockit connect host 9000    with: sockit listen 9000 | tar x
  sockit listen -k 8080 --sh-exec 'printf "HTTP/1.0 200 OK\\r\\n\\r\\nhello\\n"'
  sockit listen -u 5000                   print datagrams; stdin goes to the last sender
  sockit listen --tls 9443 > file         TLS (ncat --ssl -l): a throwaway certificate whose
                                          fingerprint the client pins (connect --tls --pin …)

One connection at a time: stdin goes to the socket, the socket to stdout. Stdin's EOF
half-closes the connection and its replies still print; when the peer closes first, the
connection is done. Without -k, listen exits after the first connection (1 if it was
reset); on udp and unix --datagram it receives until interrupted (or --once).
The address is 127.0.0.1 unless you give one (0.0.0.0 or :: for remote clients).
Warning: --exec or --sh-exec on an address other than loopback hands the program to
anyone who can reach the port (sockit warns at start unless --allow limits it).`;

/** `sockit listen`: see the module comment. */
export function makeListenCommand(ctx: CliContext): Command {
  const cmd = new Command('listen')
    .description("netcat's listen mode: socket to stdout, stdin to the socket (serve -e stdio)")
    .usage('[options] [host] <port>  |  -U <path>')
    .argument('[host]', 'address to bind (default 127.0.0.1)')
    .argument('[port]', 'port to listen on (0 = any free port, see the banner)')
    .option('-u, --udp', 'UDP: print datagrams, send stdin to the most recent sender')
    .option('-U, --unix <path>', 'a unix stream socket (with --datagram or -u: unix datagram)')
    .option('--datagram', 'with -U: a unix datagram socket (SOCK_DGRAM)')
    .option('--socket-mode <octal>', 'with -U: file mode of the socket (default 600)', octalModeArg)
    .addOption(
      new Option('-k, --keep-open', 'after a connection, accept the next one (nc -k)').conflicts([
        'once',
        'maxRequests',
      ]),
    );
  addHandlerExtras(addTransportOptions(addHandlingOptions(cmd, 'stdio'), 'tcp'));
  addTapOptions(cmd);
  addServerTlsOptions(cmd);
  return addReportOptions(cmd)
    .addHelpText('after', `\n${handlerList()}\n${HELP_AFTER}`)
    .action(async (a: string | undefined, b: string | undefined, opts: ListenOptions) => {
      const { transport, target, serveOpts } = listenPlan(a, b, opts);
      const { runServe } = await import('../serve-run.js');
      await runServe(ctx, transport, target, serveOpts);
    });
}

/** What only fits some transports, refused on the others. */
function checkTransport(opts: ListenOptions, host: string | undefined): void {
  const given = (flags: [string, unknown][]): string | undefined =>
    flags.find(([, v]) => v !== undefined && v !== false)?.[0];
  if (opts.unix !== undefined) {
    const inet = given([
      ['a host', host],
      ['--allow', opts.allow],
      ['--deny', opts.deny],
      ['--reuse-address', opts.reuseAddress],
      ['--ipv6-only', opts.ipv6Only],
    ]);
    if (inet) throw new UsageError(`with -U, give no ${inet} (unix sockets have paths)`);
  } else {
    const unixOnly = given([
      ['--datagram', opts.datagram],
      ['--socket-mode', opts.socketMode],
    ]);
    if (unixOnly) throw new UsageError(`${unixOnly} needs -U <path>`);
  }
  if (opts.udp || opts.datagram) {
    const program = opts.exec !== undefined || opts.shExec !== undefined;
    const streamOnly = given([
      ['--max-conns', program ? undefined : opts.maxConns],
      ['--idle-timeout', opts.idleTimeout],
      ['--backlog', opts.backlog],
    ]);
    if (streamOnly) throw new UsageError(`${streamOnly} applies to stream sockets, not datagrams`);
  }
}

/** Listen mode's default: one connection, then exit; never on datagrams (no connection ends). */
function onceFor(opts: ServeOptions, keepOpen?: boolean, datagram?: boolean): boolean {
  return opts.once ?? (!keepOpen && !datagram && opts.maxRequests === undefined);
}

function checkedHost(text: string): string {
  try {
    return hostArg(text);
  } catch (err) {
    throw new UsageError(`invalid host '${text}' — ${(err as Error).message}`);
  }
}

/** The transport, the address and the serve options a `listen` command line means. */
export function listenPlan(
  a: string | undefined,
  b: string | undefined,
  opts: ListenOptions,
): { transport: ServeTransport; target: ServeTarget; serveOpts: ServeOptions } {
  const { udp, unix, keepOpen, ...rest } = opts;
  const datagram = udp === true || opts.datagram === true;
  if (unix !== undefined) {
    if (a !== undefined) throw new UsageError(`with -U, give no host or port (got '${a}')`);
    checkTransport(opts, undefined);
    const serveOpts = { ...rest, datagram, once: onceFor(rest, keepOpen, datagram) };
    return { transport: 'unix', target: { path: unix }, serveOpts };
  }
  const [hostText, portText] = b === undefined ? [undefined, a] : [a, b];
  const host = hostText === undefined ? undefined : checkedHost(hostText);
  if (host !== undefined && opts.host !== undefined && host !== opts.host) {
    throw new UsageError(`two different hosts given — ${host} and -H ${opts.host}`);
  }
  const port = portText === undefined ? opts.port : parsePort(portText);
  if (port === undefined) throw new UsageError('missing <port> (0 = any free port)');
  if (opts.port !== undefined && opts.port !== port) {
    throw new UsageError(`two different ports given — ${port} and -p ${opts.port}`);
  }
  checkTransport(opts, host);
  const serveOpts = { ...rest, host: host ?? opts.host, once: onceFor(rest, keepOpen, udp) };
  return { transport: udp ? 'udp' : 'tcp', target: { port }, serveOpts };
}
