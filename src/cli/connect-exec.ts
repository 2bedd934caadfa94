/**
 * `sockit connect --exec <program>` / `--sh-exec <command>`: the options, the
 * checks (a program that cannot run is one line and exit 2, before connecting)
 * and the run, whose exit status is the program's. With `--tls` the program
 * talks over the verified TLS connection (it sees plaintext).
 */
import type { Command } from 'commander';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { TlsClientOptions } from '../net/tls.js';
import type { Target } from '../net/address.js';
import { UsageError } from '../net/errors.js';
import { checkProgram, execCommand, shellCommand } from '../net/exec-command.js';
import type { CliContext } from './context.js';
import { parseDuration } from './options.js';
import { runInterruptible } from './client-output.js';
import { secureLine } from './tls-report.js';

/** The exec options of `connect`, as commander parses them. */
export interface ConnectExecFlags {
  exec?: string;
  shExec?: string;
  killGrace?: number;
}

/** `--exec`, `--sh-exec`, `--kill-grace` on `connect`. */
export function addConnectExecOptions(cmd: Command): Command {
  return cmd
    .option('--exec <program>', 'wire "program [args]" to the connection instead of stdin/stdout')
    .option('--sh-exec <command>', 'the same with /bin/sh -c command')
    .option(
      '--kill-grace <s>',
      'with --exec: SIGTERM, then SIGKILL after s (default 2s)',
      parseDuration,
    );
}

/** Does this command line ask for a program? */
export function wantsExec(opts: ConnectExecFlags): boolean {
  return opts.exec !== undefined || opts.shExec !== undefined;
}

/** The options that make no sense with a program, refused in one line. */
export function checkConnectExec(opts: ConnectExecFlags & Record<string, unknown>): void {
  if (opts.exec !== undefined && opts.shExec !== undefined) {
    throw new UsageError('--exec and --sh-exec exclude each other');
  }
  if (opts.udp || opts.datagram || opts.zero) {
    throw new UsageError(
      '--exec and --sh-exec work on stream connections (tcp, unix), not with -u or -z',
    );
  }
  for (const [key, flag] of [
    ['keepOpen', '-k'],
    ['quitAfter', '-q'],
    ['sendOnly', '--send-only'],
    ['recvOnly', '--recv-only'],
    ['crlf', '-C'],
    ['idleTimeout', '--idle-timeout'],
  ] as const) {
    if (opts[key] !== undefined)
      throw new UsageError(`${flag} works on stdin and stdout — not with --exec`);
  }
}

/** The `-v` line of a connection made: `connected to 127.0.0.1:9999 from port 51234`. */
export function connectedLine(target: Target, s: Socket): string {
  if ('path' in target) return `connected to unix://${target.path}`;
  const remote = s.remoteFamily === 'IPv6' ? `[${s.remoteAddress}]` : s.remoteAddress;
  return `connected to ${remote}:${s.remotePort} from port ${s.localPort}`;
}

/** Connect and run the program; the exit code is its status (1 when the connection fails). */
export async function runConnectExec(
  ctx: CliContext,
  target: Target,
  opts: ConnectExecFlags & {
    timeout?: number;
    source?: string;
    sourcePort?: number;
    tls?: TlsClientOptions;
  },
  family: 4 | 6 | undefined,
): Promise<void> {
  const command = opts.exec !== undefined ? execCommand(opts.exec) : shellCommand(opts.shExec!);
  await checkProgram(command, ctx.io.env);
  const [{ connectExec }, { exitCodeOf, describeExit }] = await Promise.all([
    import('../clients/exec-pipe.js'),
    import('../net/child-run.js'),
  ]);
  await runInterruptible(ctx, async ({ signal }) => {
    const status = await connectExec(target, command, {
      family,
      timeout: opts.timeout,
      localAddress: opts.source,
      localPort: opts.sourcePort,
      killGrace: opts.killGrace,
      signal,
      tls: opts.tls,
      onConnect: (s) => {
        ctx.out.detail(connectedLine(target, s));
        if (opts.tls) ctx.out.detail(secureLine(s as TLSSocket, opts.tls));
      },
    });
    ctx.out.detail(`${command.display}: ${describeExit(status)}`);
    return exitCodeOf(status);
  });
}
