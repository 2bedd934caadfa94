/**
 * `--exec` / `--sh-exec`: inetd and CGI as a handler. Each stream connection
 * gets its own child with the socket on its stdin and stdout (EOF both ways);
 * each datagram gets its own child with the datagram on stdin, then EOF, and
 * what it prints (up to 65,507 bytes) goes back to the sender as one datagram.
 * The child gets `SOCKIT_REMOTE_ADDR`, `SOCKIT_REMOTE_PORT`, `SOCKIT_LOCAL_ADDR`,
 * `SOCKIT_LOCAL_PORT` and `SOCKIT_PROTO` on top of the server's environment. When
 * the connection closes (or the server does), the child gets SIGTERM, then
 * SIGKILL after `killGrace` seconds (net/child-run.ts). Everything it needs is a
 * plain server option, so the handler runs in forking workers too.
 */
import { formatEndpoint, localAddress, type SocketAddress } from '../net/address.js';
import { UsageError } from '../net/errors.js';
import { execEnv, type ExecCommand, type ExecProto } from '../net/exec-command.js';
import {
  ChildRun,
  describeExit,
  linkStream,
  runWithInput,
  type ExitStatus,
} from '../net/child-run.js';
import type { BaseServer } from '../engine/base-server.js';
import { DatagramConnection, StreamRequestHandler } from '../engine/request-handler.js';
import { emitNote } from './notes.js';

/** The reply to a datagram is at most this long (UDP over IPv4); the rest is dropped. */
export const MAX_EXEC_REPLY = 65507;

/** Seconds between SIGTERM and SIGKILL by default. */
export const DEFAULT_KILL_GRACE = 2;

/** Children answering datagrams at once, per server process, by default. */
export const DEFAULT_MAX_CHILDREN = 64;

/** The server options the exec handler reads (all plain data: workers get them too). */
export interface ExecOptions {
  /** The program each request runs (see `execCommand()`, `shellCommand()`). */
  readonly exec?: ExecCommand;
  /** Seconds between SIGTERM and SIGKILL when a child must go (default 2). */
  readonly killGrace?: number;
  /** Datagram children alive at once; a datagram beyond is dropped (default 64). */
  readonly maxChildren?: number;
}

interface Settings {
  readonly command: ExecCommand;
  readonly graceMs: number;
  readonly maxChildren: number;
}

function settingsOf(server: BaseServer<unknown>): Settings {
  const opts = server.options as ExecOptions;
  if (!opts.exec) {
    throw new UsageError('the exec handler needs the server option exec: execCommand("prog args")');
  }
  return {
    command: opts.exec,
    graceMs: (opts.killGrace ?? DEFAULT_KILL_GRACE) * 1000,
    maxChildren: opts.maxChildren ?? DEFAULT_MAX_CHILDREN,
  };
}

/** The children of each server in this process, ended when the server closes. */
const children = new WeakMap<object, Set<ChildRun>>();

function track(server: BaseServer<unknown>, run: ChildRun, graceMs: number): void {
  let set = children.get(server);
  if (!set) {
    const all = new Set<ChildRun>();
    set = all;
    children.set(server, all);
    server.once('close', () => {
      for (const r of all) void r.terminate(graceMs);
    });
  }
  const mine = set;
  mine.add(run);
  void run.exited.catch(() => undefined).finally(() => mine.delete(run));
}

function liveOf(server: BaseServer<unknown>): number {
  return children.get(server)?.size ?? 0;
}

function noteExit(
  server: BaseServer<unknown>,
  peer: SocketAddress,
  run: ChildRun,
  status: ExitStatus,
): void {
  const where = formatEndpoint(peer);
  emitNote(server, {
    level: 'info',
    event: 'child-exit',
    message: `child ${run.pid} for ${where} ${describeExit(status)}`,
    fields: { peer: where, pid: run.pid, code: status.code, signal: status.signal },
  });
}

/** Run the program for one connection or one datagram (see the module comment). */
export class ExecHandler extends StreamRequestHandler {
  override async handle(): Promise<void> {
    const server = this.server as BaseServer<unknown>;
    const settings = settingsOf(server);
    const conn = this.connection;
    const env = execEnv({
      remote: this.clientAddress,
      local: localAddress(conn, server.serverAddress),
      proto: server.transport as ExecProto,
    });
    if (conn instanceof DatagramConnection) {
      await this.#answer(conn, settings, env);
      return;
    }
    const run = new ChildRun(settings.command, env);
    track(server, run, settings.graceMs);
    noteExit(server, this.clientAddress, run, await linkStream(conn, run, settings.graceMs));
  }

  async #answer(
    conn: DatagramConnection,
    { command, graceMs, maxChildren }: Settings,
    env: Record<string, string | undefined>,
  ): Promise<void> {
    const server = this.server as BaseServer<unknown>;
    if (liveOf(server) >= maxChildren) {
      server.emit('dropped', conn.clientAddress, 'exec-limit');
      return;
    }
    const run = new ChildRun(command, env);
    track(server, run, graceMs);
    conn.onAbort(() => void run.terminate(graceMs));
    const answer = await runWithInput(run, conn.data, MAX_EXEC_REPLY);
    if (answer.output.length > 0) conn.appendReply(answer.output);
    if (answer.dropped > 0) {
      const peer = formatEndpoint(conn.clientAddress);
      emitNote(server, {
        level: 'warn',
        event: 'output-cut',
        message: `the reply to ${peer} is cut to ${MAX_EXEC_REPLY} bytes — ${answer.dropped} more bytes of the child's output dropped`,
        fields: { peer, kept: answer.output.length, dropped: answer.dropped },
      });
    }
    noteExit(server, conn.clientAddress, run, answer.status);
  }
}
