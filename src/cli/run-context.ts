/**
 * What every run of the CLI sets up around its command, without commander: the
 * process's streams and signals as a {@link CliContext}, and one line and an exit
 * code for any failure. main.ts (the commander program) and quick-main.ts (the
 * quick probe and send) share it, so that both print and exit alike.
 */
import { EXIT, SockitError, errnoName, oneLine } from '../net/errors.js';
import { escapeControls } from '../net/terminal.js';
import { Output, mayBeTerminal, type CliIO } from './output.js';
import type { CliContext, SignalSource } from './context.js';

/**
 * The process's own streams, each made on first use: Node builds one (a file stream,
 * a socket or a TTY, with the stream modules each needs) when it is first touched,
 * and many runs (`sendto … x`, `connect -z`) never print. `onStdout` gets stdout
 * when it is made.
 */
function processIO(onStdout: (stdout: CliIO['stdout']) => void): CliIO {
  let stdout: CliIO['stdout'] | undefined;
  return {
    get stdin() {
      return process.stdin;
    },
    get stdout() {
      if (stdout === undefined) {
        stdout = process.stdout;
        onStdout(stdout);
      }
      return stdout;
    },
    get stderr() {
      return process.stderr;
    },
    stderrIsTTY: () => mayBeTerminal(2) && process.stderr.isTTY === true,
    env: process.env,
  };
}

/** The process's SIGINT, SIGTERM and SIGHUP. */
export function processSignals(): SignalSource {
  return {
    on: (sig, fn) => process.on(sig, fn),
    off: (sig, fn) => process.off(sig, fn),
  };
}

/**
 * The context of one run: on `given` IO (a test's), or the process's. A closed
 * stdout (`sockit … | head -1`) is a normal end, never a stack trace; the listener
 * stays because the failed write may be reported after the command returns.
 */
export function runContext(given: CliIO | undefined, signals: SignalSource): CliContext {
  const watchStdout = (stdout: CliIO['stdout']): void => {
    stdout.on('error', (err) => {
      if (errnoName(err) !== 'EPIPE') out.error(`cannot write to stdout — ${oneLine(err)}`);
    });
  };
  const io = given ?? processIO(watchStdout);
  const out = new Output(io);
  if (given) watchStdout(given.stdout);
  return { io, out, exitCode: EXIT.OK, signals };
}

/** Whether failures print their stack (`--debug`, or `sockit` in NODE_DEBUG). */
export function wantsDebug(argv: readonly string[], io: CliIO): boolean {
  return argv.includes('--debug') || /\bsockit\b/.test(io.env.NODE_DEBUG ?? '');
}

/** One line for a failure that is not commander's, and its exit code. */
export function reportFailure(err: unknown, out: Output, debug = false): number {
  if (err instanceof SockitError) {
    out.error(err.message, { code: err.code });
    if (debug) printStack(out, err);
    return err.exitCode;
  }
  const code = errnoName(err);
  if (code && /^E[A-Z]+$/.test(code)) {
    out.error(oneLine(err), { code });
    if (debug) printStack(out, err);
    return EXIT.FAILURE;
  }
  out.error(`internal error — ${oneLine(err)}${debug ? '' : ' (run with --debug for details)'}`);
  if (debug) printStack(out, err);
  return EXIT.FAILURE;
}

/** `--debug`: the stack, each line with its controls escaped (a message may quote a peer). */
function printStack(out: Output, err: unknown): void {
  if (!(err instanceof Error) || !err.stack) return;
  out.io.stderr.write(`${err.stack.split('\n').map(escapeControls).join('\n')}\n`);
}
