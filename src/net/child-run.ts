/**
 * A program running for one connection or one datagram, and its end. Every
 * child gets its own process group (`detached`), so that the terminal's Ctrl-C
 * reaches sockit alone (sockit decides, as for its worker processes) and so that
 * what the child started goes with it: the end is SIGTERM to the group, then
 * SIGKILL after a grace, and when the child itself exits, whatever it left behind
 * in its group is killed. Node reaps every child (no zombie); a child still alive
 * when this process exits is killed on the way out.
 *
 * {@link linkStream} wires a child to a connection (socket → stdin, stdout →
 * socket, EOF passed both ways, backpressure both ways); {@link runWithInput}
 * gives a child one datagram and collects what it answers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Buffer } from 'node:buffer';
import type { Duplex, Readable, Writable } from 'node:stream';
import { constants } from 'node:os';
import type { ExecCommand } from './exec-command.js';
import { errnoName } from './errors.js';
import { settledWithin } from './timing.js';

/** How a child ended: its exit code, or the signal that ended it. */
export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** The status as a shell reports it: the exit code, or 128 + the signal's number. */
export function exitCodeOf(status: ExitStatus): number {
  if (status.code !== null) return status.code;
  const n = status.signal ? constants.signals[status.signal] : undefined;
  return n === undefined ? 1 : 128 + n;
}

/** `exited with code 0`, `killed by SIGTERM`. */
export function describeExit(status: ExitStatus): string {
  return status.code !== null ? `exited with code ${status.code}` : `killed by ${status.signal}`;
}

/** Children alive right now, killed when this process exits. */
const live = new Set<ChildRun>();
let exitHook = false;

function killAllNow(): void {
  for (const run of live) run.signal('SIGKILL');
}

/** Children of this process that are still running. */
export function liveChildren(): number {
  return live.size;
}

/**
 * Resolves once every child of this process has exited, or after `timeoutMs`
 * (whatever is left then is killed when the process exits).
 */
export async function childrenGone(timeoutMs: number): Promise<void> {
  if (live.size > 0)
    await settledWithin(
      [...live].map((run) => run.exited),
      timeoutMs,
    );
}

function noop(): void {}

/** A child process with its own process group; see the module comment. */
export class ChildRun {
  /** The child: `stdin` and `stdout` are pipes, `stderr` is sockit's own. */
  readonly child: ChildProcess & { readonly stdin: Writable; readonly stdout: Readable };
  /** Settles once the child has exited (rejects when it could not start). */
  readonly exited: Promise<ExitStatus>;
  #status: ExitStatus | undefined;
  #killTimer: NodeJS.Timeout | undefined;

  constructor(command: ExecCommand, env: Readonly<Record<string, string | undefined>>) {
    const child = spawn(command.file, [...command.args], {
      stdio: ['pipe', 'pipe', 'inherit'],
      detached: true,
      env,
    });
    this.child = child as ChildRun['child'];
    live.add(this);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', killAllNow);
    }
    this.exited = new Promise<ExitStatus>((resolve, reject) => {
      child.once('exit', (code, signal) => {
        this.#status = { code, signal };
        clearTimeout(this.#killTimer);
        this.signal('SIGKILL'); // what the child left behind in its group goes with it
        live.delete(this);
        resolve(this.#status);
      });
      child.once('error', (err) => {
        if (child.pid !== undefined) return; // a late error of a running child: 'exit' decides
        live.delete(this);
        reject(err);
      });
    });
    this.exited.catch(noop); // whoever awaits it sees the failure; nobody else must
    child.stdin!.on('error', noop); // EPIPE: the child does not read; the link sees it
  }

  /** The child's process id (undefined when it could not start). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The status once it has exited. */
  get status(): ExitStatus | undefined {
    return this.#status;
  }

  /** Send `signal` to the child's process group (nothing once the group is gone). */
  signal(signal: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch (err) {
      if (errnoName(err) !== 'ESRCH' && this.#status === undefined) this.child.kill(signal);
    }
  }

  /**
   * End the child: SIGTERM to its group now, SIGKILL after `graceMs` if it is still
   * there. Idempotent; resolves with how it ended.
   */
  terminate(graceMs: number): Promise<ExitStatus> {
    if (this.#status === undefined && this.#killTimer === undefined && this.pid !== undefined) {
      this.signal('SIGTERM');
      this.#killTimer = setTimeout(() => this.signal('SIGKILL'), Math.max(0, graceMs));
    }
    return this.exited;
  }
}

/** A child wired to a connection: state in fields, one way to end. */
class StreamLink {
  readonly #socket: Duplex;
  readonly #run: ChildRun;
  readonly #graceMs: number;
  readonly #done: Promise<ExitStatus>;
  #resolve!: (status: ExitStatus) => void;
  #reject!: (err: unknown) => void;
  #closeTimer: NodeJS.Timeout | undefined;
  #endTimer: NodeJS.Timeout | undefined;

  constructor(socket: Duplex, run: ChildRun, graceMs: number) {
    this.#socket = socket;
    this.#run = run;
    this.#graceMs = graceMs;
    this.#done = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  start(): Promise<ExitStatus> {
    const { stdin, stdout } = this.#run.child;
    const socket = this.#socket;
    stdin.on('error', this.#onStdinError);
    socket.pipe(stdin); // socket EOF ends the child's stdin; backpressure both ways
    stdout.pipe(socket); // the child's stdout EOF half-closes the socket
    socket.once('close', this.#onSocketClose);
    this.#run.child.once('close', this.#onChildClose);
    this.#run.exited.then(this.#onExit, this.#onFail);
    if (socket.destroyed) this.#onSocketClose();
    return this.#done;
  }

  /** The child stopped reading: what the peer still sends is discarded. */
  readonly #onStdinError = (): void => {
    this.#socket.unpipe(this.#run.child.stdin);
    this.#socket.resume();
  };

  /**
   * The connection is gone: the child goes too, and what it still writes is
   * discarded. After a clean close (both sides ended) it has its EOF and has closed
   * its output, so it gets the grace to exit by itself before the SIGTERM.
   */
  readonly #onSocketClose = (hadError?: boolean): void => {
    const stdout = this.#run.child.stdout;
    const socket = this.#socket;
    stdout.unpipe(socket);
    stdout.resume();
    const clean = hadError !== true && socket.readableEnded && socket.writableFinished;
    if (!clean) void this.#run.terminate(this.#graceMs);
    else this.#endTimer = setTimeout(() => void this.#run.terminate(this.#graceMs), this.#graceMs);
  };

  readonly #onExit = (): void => {
    this.#socket.unpipe(this.#run.child.stdin);
    // Its output ends when the last holder of the pipe is gone; one that escaped the
    // process group must not keep the connection open past the grace.
    this.#closeTimer = setTimeout(() => {
      this.#run.child.stdout.destroy();
      this.#run.child.stdin.destroy();
    }, this.#graceMs);
  };

  readonly #onFail = (err: unknown): void => {
    this.#socket.unpipe(this.#run.child.stdin);
    this.#socket.destroy();
    this.#reject(err);
  };

  /** Exited, and every byte of its output was handed to the socket (then ended). */
  readonly #onChildClose = (): void => {
    clearTimeout(this.#closeTimer);
    clearTimeout(this.#endTimer);
    this.#socket.off('close', this.#onSocketClose);
    const status = this.#run.status;
    if (status) this.#resolve(status);
  };
}

/**
 * Wire `run`'s child to a connection: the peer's bytes go to its stdin and its
 * stdout goes to the peer, with backpressure both ways; the peer's EOF ends its
 * stdin and its stdout's EOF half-closes the connection. When the connection
 * closes, the child is ended ({@link ChildRun.terminate} with `graceMs`).
 * Resolves with its exit status once it has exited and its output is written.
 */
export function linkStream(socket: Duplex, run: ChildRun, graceMs: number): Promise<ExitStatus> {
  return new StreamLink(socket, run, graceMs).start();
}

/** What a child answered to one datagram. */
export interface DatagramAnswer {
  /** Its output, at most the limit asked for. */
  readonly output: Buffer;
  /** Bytes of output beyond the limit, discarded. */
  readonly dropped: number;
  readonly status: ExitStatus;
}

/**
 * Give a child one datagram on its stdin, then EOF, and collect its stdout up to
 * `limit` bytes (the rest is read and counted, never held). Resolves once it has
 * exited and its output has ended.
 */
export function runWithInput(run: ChildRun, input: Buffer, limit: number): Promise<DatagramAnswer> {
  const { stdin, stdout } = run.child;
  const chunks: Buffer[] = [];
  let kept = 0;
  let dropped = 0;
  stdout.on('data', (chunk: Buffer) => {
    const room = Math.max(0, limit - kept);
    if (room < chunk.length) dropped += chunk.length - room;
    if (room > 0) {
      const part = room < chunk.length ? chunk.subarray(0, room) : chunk;
      chunks.push(part);
      kept += part.length;
    }
  });
  stdin.end(input);
  const closed = new Promise<void>((resolve) => run.child.once('close', () => resolve()));
  return Promise.all([run.exited, closed]).then(([status]) => ({
    output: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks),
    dropped,
    status,
  }));
}
