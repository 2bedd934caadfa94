/**
 * `--forward <url>` on the server commands: its options, the checks made before
 * anything binds (one line, exit 2), the server option the forward handler reads,
 * and its lines on stderr (a failure always; every relay with `-v`; `--json` events).
 */
import { Option, type Command } from 'commander';
import type { BaseServer } from '../engine/base-server.js';
import { MODES, type ConcurrencyMode } from '../engine/modes.js';
import { formatEndpoint } from '../net/address.js';
import { checkForwardTransport, parseDialTarget } from '../net/dial.js';
import { UsageError } from '../net/errors.js';
import type { ForwardOptions, ForwardRecord } from '../handlers/forward.js';
import { parseDuration } from './options.js';
import { plural, type Output } from './output.js';
import { jsonPeer } from './events.js';
import { writeEvent } from './serve-log.js';
import { Throttle } from './throttle.js';
import { addUpstreamTlsOptions, upstreamTlsOf, type UpstreamTlsFlags } from './tls-options.js';

/** The forwarding options as commander parses them. */
export interface ForwardCliOptions extends UpstreamTlsFlags {
  forward?: string;
  connectTimeout?: number;
  sessionTimeout?: number;
}

/** What {@link forwardServerOptions} reads of a serve run's options. */
interface ForwardRun extends ForwardCliOptions {
  readonly handler: string;
  readonly mode: ConcurrencyMode;
  readonly maxConns?: number;
}

/**
 * `--forward`, `--connect-timeout`, `--session-timeout` (`--max-conns` caps the
 * sessions on udp), and on stream servers the verification of a `tls://` upstream.
 */
export function addForwardOptions(cmd: Command, stream: boolean): Command {
  cmd
    .addOption(
      new Option(
        '--forward <url>',
        'relay to tcp://host:port, tls://host:port, unix:///path, udp://host:port or unix-dgram:///path',
      ).implies({ handler: 'forward' }),
    )
    .option(
      '--connect-timeout <s>',
      'with --forward: give up on the upstream after s (default 10s; its addresses race 250 ms apart, Happy Eyeballs)',
      parseDuration,
    )
    .option(
      '--session-timeout <s>',
      'with --forward on datagrams: end a silent sender session after s (default 60s)',
      parseDuration,
    );
  return stream ? addUpstreamTlsOptions(cmd) : cmd;
}

/**
 * The server options of a forwarding run (none when it does not forward). Every
 * combination that cannot work is a UsageError of one line.
 */
export function forwardServerOptions(
  opts: ForwardRun,
  datagram: boolean,
  warn: (message: string) => void,
): { forward?: ForwardOptions } {
  const named = opts.handler === 'forward';
  if (opts.forward === undefined) {
    if (named) throw new UsageError('-e forward needs the target: --forward <url>');
    upstreamTlsOf(opts, false, warn);
    if (opts.connectTimeout !== undefined || opts.sessionTimeout !== undefined) {
      warn('--connect-timeout and --session-timeout apply to --forward only');
    }
    return {};
  }
  if (!named) {
    throw new UsageError(`--forward relays instead of -e ${opts.handler} — leave -e out`);
  }
  const target = parseDialTarget(opts.forward);
  checkForwardTransport(target, datagram);
  const tls = upstreamTlsOf(opts, target.kind === 'tls', warn);
  if (datagram && MODES[opts.mode].pooled) {
    throw new UsageError(
      `datagram forwarding keeps one upstream socket per sender in one process — use --mode async or sequential, not ${opts.mode}`,
    );
  }
  if (!datagram && opts.sessionTimeout !== undefined) {
    warn('--session-timeout applies to datagram forwarding only');
  }
  return {
    forward: {
      target: opts.forward,
      ...(tls ? { tls } : {}),
      ...(opts.connectTimeout === undefined ? {} : { connectTimeout: opts.connectTimeout }),
      ...(opts.sessionTimeout === undefined ? {} : { sessionTimeout: opts.sessionTimeout }),
      ...(datagram && opts.maxConns !== undefined ? { maxSessions: opts.maxConns } : {}),
    },
  };
}

/**
 * Make the TLS client of a `tls://` forward once before anything binds, so that a
 * bad `--pin` or `--ca` is one line and exit 2 at start, not a failure per connection.
 */
export async function checkForwardTls(forward: ForwardOptions | undefined): Promise<void> {
  if (forward?.tls === undefined) return;
  const { tlsClientFor } = await import('../net/tls.js');
  tlsClientFor(forward.tls);
}

function ms(durationMs: number): number {
  return Math.round(durationMs * 10) / 10;
}

/** Print what the forward handler reports: failures always, every relay with -v or --json. */
export function attachForwardLog(
  server: BaseServer<unknown>,
  out: Output,
  report: { readonly json: boolean; readonly verbose: boolean; readonly datagram: boolean },
): void {
  const after = report.datagram ? 'session ended' : 'client reset';
  const failures = new Throttle((count, first, line) => {
    out.error(first ? line : `${count} more upstream failures, the latest: ${line}`);
  });
  server.on('close', () => failures.flush());
  server.on('forward', (r: ForwardRecord) => {
    if (report.json) {
      writeEvent(out, 'forward', {
        peer: jsonPeer(r.client),
        upstream: r.upstream,
        ...(r.upstreamAddress ? { upstreamAddress: jsonPeer(r.upstreamAddress) } : {}),
        bytesUp: r.bytesUp,
        bytesDown: r.bytesDown,
        durationMs: ms(r.durationMs),
        reason: r.reason,
        ...(r.code ? { code: r.code } : {}),
        ...(r.message ? { message: r.message } : {}),
        ...(r.tlsFailure ? { tlsFailure: r.tlsFailure } : {}),
      });
      return;
    }
    if (r.reason === 'upstream-failed') {
      // a TLS refusal's line names the reason and the fix; an errno name says it all
      const why = r.tlsFailure ? r.message : (r.code ?? r.message ?? 'error');
      failures.hit(`forward ${formatEndpoint(r.client)} → ${r.upstream} failed: ${why}, ${after}`);
      return;
    }
    if (!report.verbose) return;
    const via = r.upstreamAddress ? ` (${formatEndpoint(r.upstreamAddress)})` : '';
    const code = r.code ? ` ${r.code}` : '';
    out.detail(
      `forward ${formatEndpoint(r.client)} → ${r.upstream}${via}: ${plural(r.bytesUp, 'byte')} up, ${plural(r.bytesDown, 'byte')} down, ${ms(r.durationMs)} ms, ${r.reason}${code}`,
    );
  });
}
