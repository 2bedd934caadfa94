import { Command } from 'commander';
import type { Readable } from 'node:stream';
import type { CliContext } from '../context.js';
import { EXIT, UsageError } from '../../net/errors.js';
import { countArg, ipAddressArg, parseDuration, portArg } from '../options.js';
import { clientTarget, familyOf, familyOptions, type CliTarget } from '../client-args.js';
import { exitIfInterrupted, interruptOn, releaseInput, watchOutput } from '../client-output.js';

/** Options of `sockit connect`, as commander parses them. */
interface ConnectOptions {
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

/** `sockit connect`: the nc-style pipe, and `-z` probes (Python's connect_ex). */
export function makeConnectCommand(ctx: CliContext): Command {
  return new Command('connect')
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
      '--unix <path>',
      'connect to a unix stream socket (with --datagram or -u: unix datagram)',
    )
    .option('-u, --udp', 'use UDP (each chunk of stdin is one datagram)')
    .option('--datagram', 'with --unix: a unix datagram socket')
    .option(
      '-z, --zero',
      "probe: connect and close at once, report open ports (Python's connect_ex)",
    )
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
      'connect timeout (default 10s; with -z: per port, default 3s, 1s for UDP)',
      parseDuration,
    )
    .option(
      '--idle-timeout <duration>',
      'close after this long without traffic either way',
      parseDuration,
    )
    .option('-C, --crlf', 'turn LF into CRLF in what is sent from stdin')
    .option('-s, --source <address>', 'source IP address', ipAddressArg)
    .option('-p, --source-port <port>', 'source port', portArg)
    .addOption(familyOptions()[0]!)
    .addOption(familyOptions()[1]!)
    .option('-v, --verbose', 'report the connection (with -z: one line per port) on stderr')
    .option('--json', 'with -z: one JSON object per port on stdout')
    .option('--concurrency <n>', 'with -z: probes in flight at once (default 512)', countArg(1))
    .option(
      '--wait <duration>',
      'with -z: retry until open or this much time has passed',
      parseDuration,
    )
    .option('--all', 'with -z: succeed only if every port is open (default: at least one)')
    .addHelpText(
      'after',
      `
Examples:
  printf 'hello\\n' | sockit connect 127.0.0.1 9999     send, half-close, print the reply
  sockit connect --unix /tmp/app.sock < request.bin > reply.bin
  sockit connect -z -v 127.0.0.1 20-25,80,http          which ports are open
  sockit connect -z --wait 30s localhost 5432           wait until postgres accepts

Exit status: 0 done (or, with -z, a port is open); 1 refused, timed out, closed;
2 bad usage.`,
    )
    .action(async (host: string | undefined, ports: string[], opts: ConnectOptions) => {
      const family = familyOf(opts);
      if (opts.sendOnly && opts.recvOnly)
        throw new UsageError('--send-only and --recv-only exclude each other');
      if (opts.datagram && opts.unix === undefined)
        throw new UsageError('--datagram needs --unix <path> (use -u for UDP)');
      if (opts.unix !== undefined && host !== undefined)
        throw new UsageError(`with --unix, give no host or port (got '${host}')`);
      if (opts.zero) {
        await runProbe(ctx, host, ports, opts, family);
        return;
      }
      if (opts.json) throw new UsageError('--json works with -z only');
      for (const flag of ['concurrency', 'wait', 'all'] as const) {
        if (opts[flag] !== undefined) throw new UsageError(`--${flag} works with -z only`);
      }
      if (ports.length > 1) throw new UsageError(`one port expected, got '${ports.join(' ')}'`);
      const datagram = opts.udp === true || opts.datagram === true;
      const { target } = await clientTarget(opts.unix, [host, ports[0]], datagram ? 'udp' : 'tcp');
      await runPipe(ctx, target, datagram, opts, family);
    });
}

async function runPipe(
  ctx: CliContext,
  target: CliTarget,
  datagram: boolean,
  opts: ConnectOptions,
  family: 4 | 6 | undefined,
): Promise<void> {
  const { io, out } = ctx;
  out.verbose = opts.verbose === true;
  const input = io.stdin as Readable & { isTTY?: boolean };
  const interrupt = interruptOn(ctx);
  try {
    if (datagram) {
      const { datagramPipe, CrlfTranslator } = await loadClients();
      const crlf = opts.crlf ? new CrlfTranslator() : undefined;
      const result = await datagramPipe(target, input, io.stdout, {
        family,
        localAddress: opts.source,
        localPort: opts.sourcePort,
        keepOpen: opts.keepOpen,
        quitAfterEof: opts.quitAfter,
        recvOnly: opts.recvOnly,
        sendOnly: opts.sendOnly,
        idleTimeout: opts.idleTimeout,
        transform: crlf ? (c) => crlf.push(c) : undefined,
        signal: interrupt.signal,
        onReady: (remote) => out.detail(`sending datagrams to ${remote}`),
      });
      out.detail(`${result.sent} datagrams sent, ${result.received} received`);
      ctx.exitCode = interrupt.exitCode() ?? EXIT.OK;
      return;
    }
    const { connectPipe } = await loadClients();
    const interactive = input.isTTY === true && !opts.recvOnly;
    const result = await connectPipe(target, input, io.stdout, {
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
      signal: interrupt.signal,
      prompt: interactive ? { stream: io.stderr, text: '> ' } : undefined,
      onConnect: (s) =>
        out.detail(
          'path' in target
            ? `connected to unix://${target.path}`
            : `connected to ${s.remoteFamily === 'IPv6' ? `[${s.remoteAddress}]` : s.remoteAddress}:${s.remotePort} from port ${s.localPort}`,
        ),
    });
    if (interactive && result.reason === 'peer-closed') io.stderr.write('\n');
    out.detail(
      `${result.bytesSent} bytes sent, ${result.bytesReceived} received (${result.reason.replace('-', ' ')})`,
    );
    ctx.exitCode = interrupt.exitCode() ?? EXIT.OK;
  } catch (err) {
    exitIfInterrupted(err, interrupt, ctx);
  } finally {
    interrupt.dispose();
    releaseInput(input);
  }
}

async function runProbe(
  ctx: CliContext,
  host: string | undefined,
  portArgs: string[],
  opts: ConnectOptions,
  family: 4 | 6 | undefined,
): Promise<void> {
  const { io, out } = ctx;
  if (opts.keepOpen || opts.sendOnly || opts.recvOnly || opts.crlf || opts.quitAfter !== undefined)
    throw new UsageError('-z takes no pipe options (-k, -q, -C, --send-only, --recv-only)');
  if (opts.unix !== undefined) {
    await runUnixProbe(ctx, opts.unix, opts);
    return;
  }
  if (host === undefined) throw new UsageError('missing <host> for -z');
  if (portArgs.length === 0) throw new UsageError(`missing <ports> after host '${host}'`);
  const { checkedHost } = await import('../client-args.js');
  const hostName = checkedHost(host);
  const { probe, parsePortSpec, boundedConcurrency } = await import('../../clients/probe.js').then(
    async (m) => ({ ...m, ...(await import('../../clients/ports.js')) }),
  );
  const udp = opts.udp === true;
  const ports = parsePortSpec(portArgs.join(','), { proto: udp ? 'udp' : 'tcp' });
  const interrupt = interruptOn(ctx);
  const output = watchOutput(io.stdout, () => interrupt.abort());
  // ora loops forever on a terminal that reports 0 columns (script(1), some CI ptys)
  const columns = (io.stderr as { columns?: number }).columns;
  const showSpinner =
    opts.verbose !== true &&
    (ports.length > 1 || opts.wait !== undefined) &&
    (columns === undefined || columns > 0);
  const spinner = showSpinner
    ? await out.spinner(`probing ${hostName}: 0/${ports.length} ports`)
    : { text() {}, stop() {} };
  let lastSpin = 0;
  // results come in bursts of hundreds: write each burst with one call, not one per port
  const lines = {
    out: [] as string[],
    err: [] as string[],
    scheduled: false,
    flush(): void {
      this.scheduled = false;
      if (this.err.length > 0) io.stderr.write(this.err.splice(0).join(''));
      if (this.out.length > 0 && !output.closed()) io.stdout.write(this.out.splice(0).join(''));
      this.out.length = 0;
    },
    schedule(): void {
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => this.flush());
    },
  };
  try {
    const results = await probe(hostName, ports, {
      udp,
      family,
      timeout: opts.timeout,
      localAddress: opts.source,
      localPort: opts.sourcePort,
      concurrency: boundedConcurrency(opts.concurrency),
      wait: opts.wait,
      all: opts.all,
      signal: interrupt.signal,
      onProgress: (done, total, open) => {
        const now = Date.now();
        if (now - lastSpin < 80 && done < total) return;
        lastSpin = now;
        spinner.text(`probing ${hostName}: ${done}/${total} ports, ${open} open`);
      },
      onResult: (r) => {
        if (opts.verbose) {
          const why = r.state === 'open' || r.errno === '0' ? '' : ` ${r.errno}`;
          const self = r.selfConnect ? ' (self-connect)' : '';
          lines.err.push(`${hostName} ${r.port} ${r.state}${why}${self}\n`);
        }
        if (opts.json && !output.closed()) {
          lines.out.push(
            `${JSON.stringify({
              host: r.host,
              address: r.address,
              port: r.port,
              proto: r.proto,
              open: r.open,
              state: r.state,
              errno: r.errno,
              errnum: r.errnum,
              ...(r.selfConnect ? { self_connect: true } : {}),
            })}\n`,
          );
        }
        lines.schedule();
      },
    });
    spinner.stop();
    lines.flush();
    const ok = (r: (typeof results)[number]): boolean => (udp ? r.state !== 'closed' : r.open);
    const good = results.filter(ok).length;
    const success = opts.all ? good === ports.length : good > 0;
    ctx.exitCode = interrupt.exitCode() ?? (output.closed() || success ? EXIT.OK : EXIT.FAILURE);
  } catch (err) {
    exitIfInterrupted(err, interrupt, ctx);
  } finally {
    spinner.stop();
    interrupt.dispose();
    output.dispose();
  }
}

async function runUnixProbe(ctx: CliContext, path: string, opts: ConnectOptions): Promise<void> {
  const { openConnection } = await loadClients();
  const { errnoNumber } = await import('../../net/errors.js');
  const interrupt = interruptOn(ctx);
  const deadline = opts.wait !== undefined ? Date.now() + opts.wait * 1000 : undefined;
  let code = '0';
  try {
    for (;;) {
      try {
        const s = await openConnection(
          { path },
          { timeout: opts.timeout ?? 3, signal: interrupt.signal },
        );
        s.destroy();
        code = '0';
      } catch (err) {
        code = (err as { errno?: string }).errno ?? 'EIO';
      }
      if (
        code === '0' ||
        deadline === undefined ||
        Date.now() >= deadline ||
        interrupt.signal.aborted
      )
        break;
      await new Promise((r) => setTimeout(r, Math.min(100, Math.max(0, deadline - Date.now()))));
    }
    const open = code === '0';
    if (opts.verbose) ctx.io.stderr.write(`unix://${path} ${open ? 'open' : `closed ${code}`}\n`);
    if (opts.json) {
      ctx.io.stdout.write(
        `${JSON.stringify({ path, open, state: open ? 'open' : 'closed', errno: code, errnum: errnoNumber(code) })}\n`,
      );
    }
    ctx.exitCode = interrupt.exitCode() ?? (open ? EXIT.OK : EXIT.FAILURE);
  } catch (err) {
    exitIfInterrupted(err, interrupt, ctx);
  } finally {
    interrupt.dispose();
  }
}

async function loadClients(): Promise<
  typeof import('../../clients/stream-client.js') &
    typeof import('../../clients/datagram-client.js')
> {
  const [stream, dgram] = await Promise.all([
    import('../../clients/stream-client.js'),
    import('../../clients/datagram-client.js'),
  ]);
  return { ...stream, ...dgram };
}
