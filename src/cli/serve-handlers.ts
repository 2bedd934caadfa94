/**
 * The built-in handlers that need more than their name, on every server command
 * (`serve tcp|udp|unix`, `listen`): `stdio` (the terminal), `exec` (a program),
 * `broker` and `chat` (state shared across connections). Their options, the
 * checks made before anything binds (a program that cannot run, a mode that
 * cannot share state: one line, exit 2), the server options they read, and what
 * they say on stderr.
 */
import { MODES } from '../engine/modes.js';
import type { BaseServer } from '../engine/base-server.js';
import { EXIT, UsageError } from '../net/errors.js';
import { checkProgram, execCommand, shellCommand, type ExecCommand } from '../net/exec-command.js';
import { HANDLER_ALIASES, HANDLER_INFO, type HandlerInfo } from '../handlers/names.js';
import { HANDLER_NOTE, type HandlerNote } from '../handlers/notes.js';
import type { StdioPort } from '../handlers/stdio.js';
import type { ReplyOptions } from '../handlers/reply-shape.js';
import type { CliContext } from './context.js';
import { BROKER_BUFFER, KILL_GRACE } from './handler-options.js';
import { writeEvent, type ServeLog } from './serve-log.js';
import type { ServeOptions } from './serve-run.js';

/** What a handler adds to a serve run. */
export interface HandlerSetup {
  /** Server options the handler reads. */
  readonly options: Readonly<Record<string, unknown>>;
  /** Print what the handler says (its notes). */
  attach(server: BaseServer<unknown>, log: ServeLog): void;
  /**
   * The run is over: programs still ending get their grace, the terminal is let go,
   * and a single connection that was reset fails the run.
   */
  done(ctx: CliContext, log: ServeLog): Promise<void>;
}

function infoOf(name: string): HandlerInfo | undefined {
  const real = HANDLER_ALIASES[name] ?? name;
  return HANDLER_INFO.find((h) => h.name === real);
}

/** The combinations a handler cannot run in: one line each, exit 2. */
function checkHandler(info: HandlerInfo | undefined, opts: ServeOptions, datagram: boolean): void {
  const name = opts.handler;
  const program = opts.exec !== undefined || opts.shExec !== undefined;
  if (opts.exec !== undefined && opts.shExec !== undefined) {
    throw new UsageError('--exec and --sh-exec exclude each other');
  }
  if (program && !info?.program) {
    throw new UsageError(`--exec and --sh-exec run a program instead of -e ${name} — leave -e out`);
  }
  if (info?.program && !program) {
    throw new UsageError('-e exec needs the program: --exec <program> or --sh-exec <command>');
  }
  if (info?.sharedState && !MODES[opts.mode].sharedState) {
    throw new UsageError(
      `-e ${info.name} keeps state shared across connections — it runs in --mode async or sequential, not ${opts.mode}`,
    );
  }
  if (info?.program && MODES[opts.mode].threads) {
    throw new UsageError(
      `--exec runs each program in a child process already — --mode ${opts.mode} is refused; use async (default), sequential or forking`,
    );
  }
  if (info?.streamOnly && datagram) {
    throw new UsageError(
      `-e ${info.name} relays stream connections — use tcp or unix, not datagrams`,
    );
  }
}

/** The reply options asked for, as server options; refused for handlers that do not take them. */
function replyOptionsOf(info: HandlerInfo | undefined, opts: ServeOptions): ReplyOptions {
  const replyOnce = opts.firstRead ? 'read' : opts.firstLine ? 'line' : undefined;
  if (replyOnce === undefined && !opts.strip) return {};
  if (!info?.shapesReply) {
    const flag = opts.firstRead ? '--first-read' : opts.firstLine ? '--first-line' : '--strip';
    throw new UsageError(
      `${flag} shapes the replies of echo, upper-case, lower and threaded-echo — not of -e ${opts.handler}`,
    );
  }
  return { ...(replyOnce && { replyOnce }), ...(opts.strip && { strip: true }) };
}

/** A bind address only this machine can reach (the default 127.0.0.1 included). */
function loopbackOnly(host: string | undefined): boolean {
  if (host === undefined || host === 'localhost' || host === '::1') return true;
  return /^(?:::ffff:)?127\./.test(host);
}

/** A program on an address the network can reach: say so once, unless --allow limits it. */
function warnExposed(log: ServeLog, opts: ServeOptions): void {
  if (loopbackOnly(opts.host) || (opts.allow?.length ?? 0) > 0) return;
  log.warn(
    `--exec on ${opts.host} hands the program to anyone who can reach the port — keep it on 127.0.0.1 or a unix socket, or limit it with --allow`,
  );
}

function printNote(ctx: CliContext, json: boolean, note: HandlerNote): void {
  if (json) writeEvent(ctx.out, note.event, { message: note.message, ...note.fields });
  else if (note.level === 'warn') ctx.out.warn(note.message);
  else ctx.out.detail(note.message);
}

/**
 * Check the handler `opts` names against the transport and mode, check its
 * program, and build what it needs. Every problem is a UsageError of one line.
 */
export async function setupHandler(
  ctx: CliContext,
  opts: ServeOptions,
  datagram: boolean,
  log: ServeLog,
): Promise<HandlerSetup> {
  const info = infoOf(opts.handler);
  checkHandler(info, opts, datagram);
  const options: Record<string, unknown> = { ...replyOptionsOf(info, opts) };
  let port: StdioPort | undefined;
  if (info?.program) {
    const command: ExecCommand =
      opts.exec !== undefined ? execCommand(opts.exec) : shellCommand(opts.shExec!);
    await checkProgram(command, ctx.io.env);
    warnExposed(log, opts);
    Object.assign(options, { exec: command, killGrace: opts.killGrace ?? KILL_GRACE });
    // a stream server caps its connections, hence its programs; a datagram server its programs
    if (datagram && opts.maxConns !== undefined) options.maxChildren = opts.maxConns;
  } else if (info?.name === 'stdio') {
    const [{ StdioPort }, { checkInput }] = await Promise.all([
      import('../handlers/stdio.js'),
      import('./client-output.js'),
    ]);
    checkInput(ctx.io.stdin);
    const { stdin: input, stdout: output } = ctx.io;
    port = new StdioPort({ input, output, lines: opts.lines === true });
    options.stdio = port;
  } else if (info?.streamOnly) {
    options.brokerBuffer = opts.brokerBuffer ?? BROKER_BUFFER;
  }
  if (opts.lines && !(port && datagram)) {
    log.warn('--lines applies to -e stdio on udp and unix --datagram only');
  }
  return {
    options,
    attach(server) {
      server.on(HANDLER_NOTE, (note: HandlerNote) => printNote(ctx, opts.json === true, note));
      if (port && datagram) {
        ctx.out.detail('stdin goes to the most recent sender, once a first datagram has arrived');
      }
    },
    async done(c, log) {
      if (info?.program) {
        const { childrenGone } = await import('../net/child-run.js');
        await childrenGone(((opts.killGrace ?? KILL_GRACE) + 1) * 1000);
      }
      port?.release();
      if (port && port.resets > 0 && opts.once && c.exitCode === EXIT.OK) {
        log.error('the connection was reset by the peer (ECONNRESET)', { reason: 'reset' });
        c.exitCode = EXIT.FAILURE;
      }
    },
  };
}
