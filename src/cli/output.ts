/**
 * The only place that decides colour and spinners, and the only module that
 * imports chalk and ora (lazily: commands that print no colour never load them).
 * Payload goes to `stdout`; every diagnostic goes to `stderr`.
 */
import { fstatSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { MAX_LINE, clip, safeLine } from '../net/terminal.js';
import { eventLine } from './events.js';

/** `1 datagram`, `2 datagrams`, `1 reply`, `3 replies`: a count with its noun, singular or plural. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** A spinner on stderr, or a silent stand-in. */
export interface Spinner {
  text(text: string): void;
  stop(): void;
}

/** Streams and environment a command runs with (the process's, or test doubles). */
export interface CliIO {
  readonly stdin: Readable & { isTTY?: boolean };
  readonly stdout: Writable & { isTTY?: boolean };
  readonly stderr: Writable & { isTTY?: boolean };
  readonly env: Readonly<Record<string, string | undefined>>;
  /**
   * Whether stderr is a terminal, answered without making `stderr` when that can be
   * known otherwise (the process's streams: see {@link mayBeTerminal}); by default
   * `stderr.isTTY` answers.
   */
  readonly stderrIsTTY?: () => boolean;
}

/**
 * False when file descriptor `fd` is surely not a terminal: a file, a pipe, a socket,
 * or a memory device such as /dev/null (major 1 on Linux), as fstat tells. Node makes
 * process.stderr (and loads the stream modules for it) when it is first touched:
 * a run that prints nothing and only asks whether to colour need not pay for that.
 */
export function mayBeTerminal(fd: number): boolean {
  try {
    const st = fstatSync(fd);
    if (!st.isCharacterDevice()) return false;
    return !(process.platform === 'linux' && ((st.rdev >>> 8) & 0xfff) === 1);
  } catch {
    return true; // unknown: let the stream tell
  }
}

type Paint = (text: string) => string;
const plain: Paint = (t) => t;

/**
 * Colour on stderr: off when NO_COLOR is set and non-empty or `--no-color` was
 * given; on when FORCE_COLOR is set (and not 0); otherwise on only for a TTY.
 */
export function useColor(io: CliIO, noColorFlag = false): boolean {
  if (noColorFlag) return false;
  const force = io.env.FORCE_COLOR;
  if (force !== undefined && force !== '' && force !== '0' && force !== 'false') return true;
  if (io.env.NO_COLOR !== undefined && io.env.NO_COLOR !== '') return false;
  if (force === '0' || force === 'false') return false;
  return io.stderrIsTTY ? io.stderrIsTTY() : io.stderr.isTTY === true;
}

/** Diagnostics for one command: one line each, to stderr, coloured when allowed. */
export class Output {
  readonly io: CliIO;
  /** Whether stderr gets colour. */
  color: boolean;
  /** Suppress informational lines (errors still print). */
  quiet = false;
  /** Print `--verbose` lines. */
  verbose = false;
  /** Errors and warnings are `error`/`warning` events (`serve --json`: stderr is the event stream). */
  json = false;
  #chalk: { red: Paint; yellow: Paint; dim: Paint; green: Paint; bold: Paint } | undefined;

  constructor(io: CliIO) {
    this.io = io;
    this.color = useColor(io);
  }

  /** Load chalk when colour is on (call once before printing coloured lines). */
  async prepareColor(): Promise<void> {
    if (!this.color || this.#chalk) return;
    const { Chalk } = await import('chalk');
    const c = new Chalk({ level: 1 });
    this.#chalk = { red: c.red, yellow: c.yellow, dim: c.dim, green: c.green, bold: c.bold };
  }

  #paint(style: 'red' | 'yellow' | 'dim' | 'green' | 'bold'): Paint {
    return this.color && this.#chalk ? this.#chalk[style] : plain;
  }

  // Every line goes through safeLine(): it may quote a peer's path, a host name, a
  // worker's output; none of it may reach the terminal as a control sequence.

  /** An informational line (the banner, a summary); dropped with --quiet. */
  info(line: string): void {
    if (!this.quiet) this.io.stderr.write(`${safeLine(line)}\n`);
  }

  /** A line that prints even with --quiet (the listening banner). */
  always(line: string): void {
    this.io.stderr.write(`${safeLine(line)}\n`);
  }

  /** A --verbose line. */
  detail(line: string): void {
    if (this.verbose && !this.quiet)
      this.io.stderr.write(`${this.#paint('dim')(safeLine(line))}\n`);
  }

  /** A warning line, `sockit: warning: …`, or a `warning` event with `fields`. */
  warn(message: string, fields: Record<string, unknown> = {}): void {
    if (this.json)
      this.io.stderr.write(eventLine('warning', { message: clip(message, MAX_LINE), ...fields }));
    else
      this.io.stderr.write(`${this.#paint('yellow')(`sockit: warning: ${safeLine(message)}`)}\n`);
  }

  /** The one-line error, `sockit: …`, or an `error` event with `fields`. */
  error(message: string, fields: Record<string, unknown> = {}): void {
    if (this.json)
      this.io.stderr.write(eventLine('error', { message: clip(message, MAX_LINE), ...fields }));
    else this.io.stderr.write(`${this.#paint('red')(`sockit: ${safeLine(message)}`)}\n`);
  }

  /** A spinner on a TTY stderr (never with --quiet); silent otherwise. Never reads stdin. */
  async spinner(text: string): Promise<Spinner> {
    const columns = (this.io.stderr as { columns?: number }).columns ?? 0;
    // ora loops forever on a terminal that reports 0 columns (script(1), some CI ptys)
    if (this.quiet || this.io.stderr.isTTY !== true || this.io.env.CI || columns < 1) {
      return { text() {}, stop() {} };
    }
    const { default: ora } = await import('ora');
    const s = ora({
      text,
      stream: this.io.stderr as NodeJS.WritableStream,
      discardStdin: false,
      color: 'cyan',
      isEnabled: this.color,
    }).start();
    return {
      text(t: string) {
        s.text = t;
      },
      stop() {
        s.stop();
      },
    };
  }
}
