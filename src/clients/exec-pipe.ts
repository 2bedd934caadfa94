/**
 * `sockit connect --exec`: connect, then wire a program to the connection
 * instead of stdin and stdout (ncat's client `-e`). The program gets the same
 * `SOCKIT_*` environment and the same EOF rules as on a server (the wiring is
 * the ground floor's, net/child-run.ts); when the connection closes or the
 * caller aborts, it gets SIGTERM, then SIGKILL after the grace.
 */
import type { Socket } from 'node:net';
import { inetAddress, isPathTarget, type SocketAddress, type Target } from '../net/address.js';
import { ChildRun, linkStream, type ExitStatus } from '../net/child-run.js';
import { execEnv, type ExecCommand } from '../net/exec-command.js';
import { openConnection, type OpenOptions } from './stream-client.js';

/** Options of {@link connectExec}. */
export interface ConnectExecOptions extends OpenOptions {
  /** Seconds between SIGTERM and SIGKILL when the program must go (default 2). */
  killGrace?: number;
  /** Called once connected (for a `-v` line). */
  onConnect?: (socket: Socket) => void;
}

function addressOf(address: string | undefined, port: number | undefined, family?: string) {
  return inetAddress(address ?? '', port ?? 0, family);
}

/** Where the connection goes and comes from, as the program's environment says. */
function peersOf(socket: Socket, target: Target): { remote: SocketAddress; local: SocketAddress } {
  if (isPathTarget(target)) {
    return { remote: { family: 'unix', path: target.path }, local: { family: 'unix', path: '' } };
  }
  return {
    remote: addressOf(socket.remoteAddress, socket.remotePort, socket.remoteFamily),
    local: addressOf(socket.localAddress, socket.localPort, socket.localFamily),
  };
}

function noop(): void {}

/**
 * Connect to `target` and run `command` on the connection: the peer's bytes on
 * its stdin, its stdout to the peer. Resolves with its exit status once it has
 * exited and its output was sent; rejects with a NetworkError when the
 * connection cannot be made.
 */
export async function connectExec(
  target: Target,
  command: ExecCommand,
  opts: ConnectExecOptions = {},
): Promise<ExitStatus> {
  const socket = await openConnection(target, opts);
  opts.onConnect?.(socket);
  socket.on('error', noop); // a reset closes the connection: the program then goes
  const { remote, local } = peersOf(socket, target);
  const proto = isPathTarget(target) ? 'unix' : 'tcp';
  const run = new ChildRun(command, execEnv({ remote, local, proto }));
  const abort = (): void => void socket.destroy();
  opts.signal?.addEventListener('abort', abort, { once: true });
  try {
    const status = await linkStream(socket, run, (opts.killGrace ?? 2) * 1000);
    if (!socket.writableFinished && !socket.destroyed) {
      await new Promise((resolve) => socket.once('finish', resolve).once('close', resolve));
    }
    return status;
  } finally {
    opts.signal?.removeEventListener('abort', abort);
    socket.destroy();
  }
}
