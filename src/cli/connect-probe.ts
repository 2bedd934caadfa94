/**
 * `sockit connect -z`: probe which ports are open (Python's connect_ex), and report
 * them. Free of commander: the quick run of a probe (quick-main.ts) calls it too.
 */
import type { CliContext } from './context.js';
import { EXIT, UsageError } from '../net/errors.js';
import type { TlsClientOptions } from '../net/tls.js';
import { safeLine, safeValue } from '../net/terminal.js';
import { checkedHost } from './client-target.js';
import { runInterruptible, type InterruptScope } from './client-output.js';
import { eventLine } from './events.js';
import { ProbeReport } from './probe-report.js';
import { wantsTap, type TapCliOptions } from './tap-options.js';
import { expiringSoon } from './tls-report.js';

/** The options of `connect` a probe reads, as commander parses them. */
export interface ProbeOptions extends TapCliOptions {
  readonly unix?: string;
  readonly udp?: boolean;
  readonly keepOpen?: boolean;
  readonly quitAfter?: number;
  readonly sendOnly?: boolean;
  readonly recvOnly?: boolean;
  readonly crlf?: boolean;
  readonly timeout?: number;
  readonly source?: string;
  readonly sourcePort?: number;
  readonly verbose?: boolean;
  readonly json?: boolean;
  readonly concurrency?: number;
  readonly wait?: number;
  readonly all?: boolean;
  readonly warnDays?: number;
  readonly tlsOptions?: TlsClientOptions;
}

/** `connect -z host ports…` (or `-z --unix path`): sets `ctx.exitCode`. */
export async function runProbe(
  ctx: CliContext,
  host: string | undefined,
  portArgs: string[],
  opts: ProbeOptions,
  family: 4 | 6 | undefined,
): Promise<void> {
  if (opts.keepOpen || opts.sendOnly || opts.recvOnly || opts.crlf || opts.quitAfter !== undefined)
    throw new UsageError('-z takes no pipe options (-k, -q, -C, --send-only, --recv-only)');
  if (wantsTap(opts)) throw new UsageError('-z moves no data: -x and -o have nothing to log');
  if (opts.unix !== undefined) return runUnixProbe(ctx, opts.unix, opts);
  if (host === undefined) throw new UsageError('missing <host> for -z');
  if (portArgs.length === 0)
    throw new UsageError(`missing <ports> after host '${safeValue(host)}'`);
  const hostName = checkedHost(host);
  const [{ probe }, { parsePortSpec }] = await Promise.all([
    import('../clients/probe.js'),
    import('../clients/ports.js'),
  ]);
  const udp = opts.udp === true;
  const ports = parsePortSpec(portArgs.join(','), { proto: udp ? 'udp' : 'tcp' });
  const body = async (scope: InterruptScope): Promise<number> => {
    const report = new ProbeReport(ctx, hostName, opts, scope);
    await report.showSpinner(ctx.out, ports.length, opts.wait !== undefined);
    try {
      const results = await probe(hostName, ports, {
        udp,
        family,
        timeout: opts.timeout,
        localAddress: opts.source,
        localPort: opts.sourcePort,
        // bounded by the open-file limit in probe(), and only for more than one port
        concurrency: opts.concurrency,
        wait: opts.wait,
        all: opts.all,
        signal: scope.signal,
        tls: opts.tlsOptions,
        onProgress: report.progress,
        onResult: report.result,
      });
      report.end();
      const good = results.filter((r) => (udp ? r.state !== 'closed' : r.open)).length;
      const success = opts.all ? good === ports.length : good > 0;
      const expiring = opts.warnDays === undefined ? [] : expiringSoon(results, opts.warnDays);
      for (const line of expiring) ctx.out.error(line);
      if (expiring.length > 0) return EXIT.FAILURE;
      return scope.outputClosed() || success ? EXIT.OK : EXIT.FAILURE;
    } finally {
      report.stopSpinner();
    }
  };
  // stdout carries only --json lines: without them it is never made (start-up time)
  await runInterruptible(ctx, body, { watchStdout: opts.json === true });
}

async function runUnixProbe(ctx: CliContext, path: string, opts: ProbeOptions): Promise<void> {
  const { probeUnix } = await import('../clients/probe.js');
  await runInterruptible(ctx, async ({ signal }) => {
    const { timeout, wait, tlsOptions: tls } = opts;
    const r = await probeUnix(path, { timeout, wait, signal, tls });
    if (opts.verbose)
      ctx.io.stderr.write(
        `${safeLine(`unix://${path} ${r.open ? 'open' : `closed ${r.errno}`}`)}\n`,
      );
    if (opts.json) {
      const { open, state, errno, errnum } = r;
      ctx.io.stdout.write(eventLine('probe', { peer: { path }, open, state, errno, errnum }));
    }
    return r.open ? EXIT.OK : EXIT.FAILURE;
  });
}
