import { Command } from 'commander';
import type { TLSSocket } from 'node:tls';
import { plural } from '../output.js';
import type { CliContext } from '../context.js';
import { EXIT, UsageError } from '../../net/errors.js';
import { countArg, parseDuration } from '../options.js';
import { addSourceOptions, clientTarget, familyOf, type CliTarget } from '../client-args.js';
import { checkInput, outputDrops, runInterruptible } from '../client-output.js';
import {
  addConnectExecOptions,
  checkConnectExec,
  connectedLine,
  runConnectExec,
  wantsExec,
  type ConnectExecFlags,
} from '../connect-exec.js';
import type { TlsClientOptions } from '../../net/tls.js';
import { addClientTlsOptions, clientTlsOf, type ClientTlsFlags } from '../tls-options.js';
import { secureLine } from '../tls-report.js';
import { safeValue } from '../../net/terminal.js';
import { Progress, transferSummary } from '../progress.js';
import { addTapOptions, withTap, type TapCliOptions } from '../tap-options.js';
import { runProbe } from '../connect-probe.js';
import type { Tap } from '../../net/tap.js';

/** Options of `sockit connect`, as commander parses them. */
interface ConnectOptions extends ConnectExecFlags, ClientTlsFlags, TapCliOptions {
  unix?: string;
  udp?: boolean;
  datagram?: boolean;
  zero?: boolean;
  keepOpen?: boolean;
  quitAfter?: number;
  sendOnly?: boolean;
  recvOnly?: boolean;
  timeout?: number;
  idleTimeout?: number;
  crlf?: boolean;
  source?: string;
  sourcePort?: number;
  ipv4?: boolean;
  ipv6?: boolean;
  verbose?: boolean;
  json?: boolean;
  concurrency?: number;
  wait?: number;
  all?: boolean;
}

const HELP_AFTER = `
Examples:
  printf 'hello\\n' | sockit connect 127.0.0.1 9999     send, half-close, print the reply
  sockit connect --unix /tmp/app.sock < request.bin > reply.bin
  sockit connect -z -v 127.0.0.1 20-25,80,http          which ports are open
  sockit connect -z --wait 30s localhost 5432           wait until postgres accepts
  sockit connect --exec ./client.sh 127.0.0.1 9999      the program talks to the server (ncat -e)
  sockit connect --tls example.com 443                  TLS, verified against the system CAs
  sockit connect --tls --pin sha256:AB:CD:… 127.0.0.1 4433   a sockit --tls server (its fingerprint)
  sockit connect -z --tls --warn-days 14 example.com 443     exit 1 if the certificate expires soon

Exit status: 0 done (or, with -z, a port is open); 1 refused, timed out, closed;
2 bad usage.`;

/** `sockit connect`: the nc-style pipe, and `-z` probes (Python's connect_ex). */
export function makeConnectCommand(ctx: CliContext): Command {
  const cmd = new Command('connect')
    .description(
      'pipe stdin to a socket and the socket to stdout (like nc); with -z, probe which ports are open',
    )
    .usage('[options] <host> <port>  |  --unix <path>  |  -z <host> <ports...>')
    .argument('[host]', 'host name or IP address')
    .argument(
      '[port...]',
      'port or service name; with -z: ports such as 22, 20-25, 22,80,8000-8100, http',
    )
    .option(
      '-U, --unix <path>',
      'connect to a unix stream socket (with --datagram or -u: unix datagram)',
    )
    .option('-N, --shutdown', "nc's -N: half-close at stdin EOF (sockit always does)")
    .option('-u, --udp', 'use UDP (each chunk of stdin is one datagram)')
    .option('--datagram', 'with --unix: a unix datagram socket')
    .option(
      '-z, --zero',
      "probe: connect and close at once, report open ports (Python's connect_ex)",
    );
  addPipeOptions(cmd);
  addConnectExecOptions(cmd);
  addTapOptions(cmd);
  addSourceOptions(cmd);
  addProbeOptions(cmd);
  addClientTlsOptions(cmd, true);
  return cmd
    .addHelpText('after', HELP_AFTER)
    .action((host: string | undefined, ports: string[], opts: ConnectOptions) =>
      runConnect(ctx, host, ports, opts),
    );
}

function addPipeOptions(cmd: Command): void {
  cmd
    .option('-k, --keep-open', 'after the peer closes, keep sending stdin until it ends')
    .option(
      '-q, --quit-after <duration>',
      'quit this long after stdin EOF (even if the peer is still open)',
      parseDuration,
    )
    .option('--send-only', 'only send stdin; discard what the peer sends')
    .option('--recv-only', 'only print what the peer sends; never read stdin')
    .option(
      '-w, --timeout <duration>',
      'connect timeout (default 10s) for all the addresses of a name (they race 250 ms apart, Happy Eyeballs); with -z: per port, default 3s, 1s for UDP',
      parseDuration,
    )
    .option(
      '--idle-timeout <duration>',
      'close after this long without traffic either way',
      parseDuration,
    )
    .option('-C, --crlf', 'turn LF into CRLF in what is sent from stdin');
}

function addProbeOptions(cmd: Command): void {
  cmd
    .option('-v, --verbose', 'report the connection (with -z: one line per port) on stderr')
    .option('--json', 'with -z: one "probe" event per port on stdout')
    .option('--concurrency <n>', 'with -z: probes in flight at once (default 512)', countArg(1))
    .option(
      '--wait <duration>',
      'with -z: retry until open or this much time has passed',
      parseDuration,
    )
    .option('--all', 'with -z: succeed only if every port is open (default: at least one)');
}

async function runConnect(
  ctx: CliContext,
  host: string | undefined,
  ports: string[],
  opts: ConnectOptions,
): Promise<void> {
  const family = familyOf(opts);
  if (opts.sendOnly && opts.recvOnly)
    throw new UsageError('--send-only and --recv-only exclude each other');
  if (opts.datagram && opts.unix === undefined)
    throw new UsageError('--datagram needs --unix <path> (use -u for UDP)');
  if (opts.unix !== undefined && host !== undefined)
    throw new UsageError(`with --unix, give no host or port (got '${safeValue(host)}')`);
  const datagram = opts.udp === true || opts.datagram === true;
  const tls = clientTlsOf(opts, (m) => ctx.out.warn(m));
  if (tls && datagram)
    throw new UsageError('--tls works on stream sockets — not with -u/--datagram');
  if (wantsExec(opts)) checkConnectExec({ ...opts });
  if (opts.zero) return runProbe(ctx, host, ports, { ...opts, tlsOptions: tls }, family);
  if (opts.json) throw new UsageError('--json works with -z only');
  for (const flag of ['concurrency', 'wait', 'all', 'warnDays'] as const) {
    if (opts[flag] !== undefined) throw new UsageError(`--${dashed(flag)} works with -z only`);
  }
  if (ports.length > 1)
    throw new UsageError(`one port expected, got '${safeValue(ports.join(' '))}'`);
  const { target } = await clientTarget(opts.unix, [host, ports[0]], datagram ? 'udp' : 'tcp');
  ctx.out.verbose = opts.verbose === true;
  if (wantsExec(opts)) return runConnectExec(ctx, target, { ...opts, tls }, family);
  if (!opts.recvOnly) checkInput(ctx.io.stdin);
  const pipe = datagram ? datagramPipeTo : streamPipeTo;
  const runOpts = { ...opts, tlsOptions: tls };
  await withTap(ctx, opts, false, (tap) =>
    runInterruptible(
      ctx,
      ({ signal }) => pipe({ ctx, target, opts: runOpts, family, signal, tap }),
      { input: ctx.io.stdin },
    ),
  );
}

/** `warnDays` → `warn-days`. */
function dashed(flag: string): string {
  return flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The options of a run, with the TLS options read from the flags. */
type RunOptions = ConnectOptions & { readonly tlsOptions?: TlsClientOptions };

/** What a pipe of `connect` runs with. */
interface PipeJob {
  readonly ctx: CliContext;
  readonly target: CliTarget;
  readonly opts: RunOptions;
  readonly family: 4 | 6 | undefined;
  readonly signal: AbortSignal;
  readonly tap: Tap | undefined;
}

/**
 * The prompt of an interactive run (stdin and stderr on a terminal, the input read),
 * or undefined. The caller closes it, which gives the terminal back.
 */
async function openPrompt({ io }: CliContext, opts: RunOptions) {
  if (io.stdin.isTTY !== true || io.stderr.isTTY !== true || opts.recvOnly) return undefined;
  const { TerminalPrompt } = await import('../terminal-prompt.js');
  return new TerminalPrompt(io.stdin, io.stderr, {
    dataOnTerminal: io.stdout.isTTY === true,
    // readline keeps the terminal in raw mode: Ctrl-C arrives as a key, not a signal
    onInterrupt: () => process.kill(process.pid, 'SIGINT'),
  });
}

async function datagramPipeTo({ ctx, target, opts, family, signal, tap }: PipeJob) {
  const { io, out } = ctx;
  const [{ datagramPipe }, { CrlfTranslator }] = await Promise.all([
    import('../../clients/datagram-client.js'),
    import('../../clients/stream-client.js'),
  ]);
  const crlf = opts.crlf ? new CrlfTranslator() : undefined;
  const drops = outputDrops(ctx);
  const prompt = await openPrompt(ctx, opts);
  const result = await datagramPipe(target, prompt?.input ?? io.stdin, io.stdout, {
    family,
    localAddress: opts.source,
    localPort: opts.sourcePort,
    keepOpen: opts.keepOpen,
    quitAfterEof: opts.quitAfter,
    recvOnly: opts.recvOnly,
    sendOnly: opts.sendOnly,
    idleTimeout: opts.idleTimeout,
    transform: crlf ? (c) => crlf.push(c) : undefined,
    signal,
    tap,
    onReady: (remote) => out.detail(`sending datagrams to ${remote}`),
    onDrop: () => drops.hit(),
    prompt,
  }).finally(() => {
    prompt?.close();
    drops.flush();
  });
  out.detail(`${plural(result.sent, 'datagram')} sent, ${result.received} received`);
  return EXIT.OK;
}

async function streamPipeTo({ ctx, target, opts, family, signal, tap }: PipeJob) {
  const { io, out } = ctx;
  const { connectPipe } = await import('../../clients/stream-client.js');
  const interactive = io.stdin.isTTY === true && !opts.recvOnly;
  const progress = interactive ? undefined : Progress.for(io, {});
  const prompt = await openPrompt(ctx, opts);
  let cleared = false;
  let started = performance.now();
  const result = await connectPipe(target, prompt?.input ?? io.stdin, io.stdout, {
    family,
    timeout: opts.timeout,
    localAddress: opts.source,
    localPort: opts.sourcePort,
    keepOpen: opts.keepOpen,
    quitAfterEof: opts.quitAfter,
    sendOnly: opts.sendOnly,
    recvOnly: opts.recvOnly,
    crlf: opts.crlf,
    idleTimeout: opts.idleTimeout,
    signal,
    tls: opts.tlsOptions,
    tap,
    prompt,
    onConnect: (s) => {
      started = performance.now();
      out.detail(connectedLine(target, s));
      if (opts.tlsOptions) out.detail(secureLine(s as TLSSocket, opts.tlsOptions));
      progress?.watch(s);
    },
  }).finally(() => {
    cleared = prompt?.close() ?? false;
    progress?.stop();
  });
  // the peer's last line may lack its newline: the shell's prompt goes below it
  if (prompt && !cleared && result.reason === 'peer-closed') io.stderr.write('\n');
  const { bytesSent, bytesReceived, reason } = result;
  const summary = transferSummary(bytesSent, bytesReceived, performance.now() - started);
  out.detail(`${summary}; ${reason.replace('-', ' ')}`);
  return EXIT.OK;
}
