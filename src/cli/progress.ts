/**
 * Progress of a long transfer: a live line on stderr with the bytes each way, the
 * rate and the elapsed time, redrawn a few times a second once more than
 * {@link PROGRESS_AFTER} bytes have moved. Only on a terminal: never when stderr is
 * a file or a pipe, never with `--quiet` or `--json`. It reads the socket's own
 * counters on a timer, so it costs nothing per chunk. Also the `-v` summary line.
 */
import { plural, type CliIO } from './output.js';

/** Bytes moved (either way) before the line appears: a short exchange shows nothing. */
export const PROGRESS_AFTER = 4 * 1024 * 1024;
/** How often the line is redrawn. */
const REDRAW_MS = 250;

/** Where the counts come from (a socket's `bytesWritten` / `bytesRead`). */
export interface ByteCounts {
  readonly bytesWritten: number;
  readonly bytesRead: number;
}

function mib(n: number): string {
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}

function clock(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** The `-v` line after a transfer: `sent N bytes, received M bytes in T s (R MB/s)`. */
export function transferSummary(sent: number, received: number, ms: number): string {
  const seconds = ms / 1000;
  const rate = seconds > 0 ? (sent + received) / 1e6 / seconds : 0;
  return `sent ${plural(sent, 'byte')}, received ${plural(received, 'byte')} in ${seconds.toFixed(2)} s (${rate.toFixed(2)} MB/s)`;
}

/** A live progress line; see the module comment. */
export class Progress {
  readonly #stderr: CliIO['stderr'];
  readonly #started = performance.now();
  #counts: ByteCounts | undefined;
  #timer: NodeJS.Timeout | undefined;
  #shown = false;
  /** Total bytes and the time of the sample the rate is measured from. */
  #sample = { bytes: 0, at: 0 };
  #rate = 0;

  /** A progress line on `io.stderr`, or nothing when it must not show (see the module comment). */
  static for(io: CliIO, opts: { quiet?: boolean; json?: boolean }): Progress | undefined {
    if (io.stderr.isTTY !== true || opts.quiet || opts.json) return undefined;
    return new Progress(io.stderr);
  }

  private constructor(stderr: CliIO['stderr']) {
    this.#stderr = stderr;
    this.#sample.at = this.#started;
  }

  /** Follow these counters (a connected socket) until {@link stop}. */
  watch(counts: ByteCounts): void {
    this.#counts = counts;
    this.#timer ??= setInterval(this.#tick, REDRAW_MS);
    this.#timer.unref();
  }

  /** Stop and clear the line. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#shown) this.#stderr.write('\r\x1b[K');
    this.#shown = false;
  }

  readonly #tick = (): void => {
    const counts = this.#counts;
    if (!counts) return;
    const { bytesWritten: sent, bytesRead: received } = counts;
    const total = sent + received;
    if (!this.#shown && total < PROGRESS_AFTER) return;
    const now = performance.now();
    if (now - this.#sample.at >= 1000 || this.#rate === 0) {
      this.#rate = ((total - this.#sample.bytes) / 1e6 / (now - this.#sample.at)) * 1000;
      this.#sample = { bytes: total, at: now };
    }
    const line = `sent ${mib(sent)}, received ${mib(received)}, ${this.#rate.toFixed(1)} MB/s, ${clock(now - this.#started)}`;
    const columns = (this.#stderr as { columns?: number }).columns ?? 0;
    const fitted = columns > 1 ? line.slice(0, columns - 1) : line;
    this.#stderr.write(`\r${fitted}\x1b[K`);
    this.#shown = true;
  };
}
