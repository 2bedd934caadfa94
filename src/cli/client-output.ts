/**
 * Output helpers for the client commands: hex dumps, JSON records of payloads,
 * hex input, and the one way a client command runs: interruptible by SIGINT and
 * SIGTERM, with an EPIPE on stdout as a normal end.
 */
import { Buffer } from 'node:buffer';
import { fstatSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { EXIT, UsageError } from '../net/errors.js';
import type { SocketAddress } from '../net/address.js';
import type { CliContext } from './context.js';
import { datagramEvent } from './events.js';
import { rowsSize, writeRows } from '../net/hex-rows.js';
import { Throttle } from './throttle.js';
import { plural } from './output.js';
import { OUTPUT_BACKLOG } from '../net/limits.js';

/**
 * Print a datagram on stdout: a JSON line (`--json`), a hex line (`--hex`), or its
 * bytes as they are; with `lineEnd`, bytes that do not end in a newline get one.
 */
export function printDatagram(
  ctx: CliContext,
  d: { readonly data: Buffer; readonly from: SocketAddress },
  format: { readonly json?: boolean; readonly hex?: boolean },
  lineEnd = false,
): boolean {
  const stdout = ctx.io.stdout;
  // a stdout that does not drain cannot make UDP wait: past the backlog, drop (counted)
  if (stdout.writableLength >= OUTPUT_BACKLOG) return false;
  if (format.json) stdout.write(datagramEvent(d.data, d.from));
  else if (format.hex) stdout.write(hexLine(d.data));
  else {
    stdout.write(d.data);
    if (lineEnd && d.data[d.data.length - 1] !== 0x0a) stdout.write('\n');
  }
  return true;
}

/** Datagrams dropped for a stdout that does not keep up: one throttled warning. */
export function outputDrops(ctx: CliContext): Throttle {
  return new Throttle((count, first) =>
    ctx.out.warn(
      `dropped ${plural(count, 'datagram')}${first ? '' : ' more'} — stdout is not keeping up (${OUTPUT_BACKLOG / 1048576} MiB waiting)`,
    ),
  );
}

/** The canonical hex dump (`hexdump -C`, without its `*` for repeated rows): offset, 16 bytes in hex, printable ASCII. */
export function hexdump(data: Uint8Array): string {
  const rows = Buffer.allocUnsafe(rowsSize(data.length, 0));
  const end = writeRows(rows, 0, NO_PREFIX, data, 0);
  return `${rows.toString('latin1', 0, end)}${data.length.toString(16).padStart(8, '0')}\n`;
}

const NO_PREFIX = Buffer.alloc(0);

/** One line of lowercase hex for a datagram (the form `sendto --hex-input` takes). */
export function hexLine(data: Uint8Array): string {
  return `${Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('hex')}\n`;
}

/**
 * Bytes from hex text (`68656c6c6f`, `68 65 6c`, `0x68,0x65`, `68:65`): groups of
 * whole bytes, each group optionally prefixed `0x`, separated by spaces, commas or
 * colons. Blank text is no bytes. Throws a UsageError otherwise.
 */
export function parseHex(text: string): Buffer {
  const trimmed = text.trim();
  if (trimmed === '') return Buffer.alloc(0);
  const groups = trimmed.split(/\s*[,:]\s*|\s+/);
  if (!groups.every((g) => /^(?:0x)?(?:[0-9a-f]{2})+$/i.test(g))) {
    const shown = trimmed.length > 40 ? `${trimmed.slice(0, 40)}…` : trimmed;
    throw new UsageError(`invalid hex input '${shown}' — expected pairs of hex digits`);
  }
  return Buffer.from(groups.map((g) => g.replace(/^0x/i, '')).join(''), 'hex');
}

/** Read a stream to its end. */
export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks);
}

/** What the body of an interruptible command gets. */
export interface InterruptScope {
  /** Aborts on SIGINT/SIGTERM, and (with `watchStdout`) when stdout's reader goes away. */
  readonly signal: AbortSignal;
  /** Whether stdout's reader went away (EPIPE, `| head -1`); false unless `watchStdout`. */
  readonly outputClosed: () => boolean;
}

/**
 * Refuse a stdin that is a directory (`sockit send host 80 < /etc`): it would read as
 * nothing at all, silently. Bad input: exit 2.
 */
export function checkInput(input: Readable): void {
  const fd = (input as { fd?: unknown }).fd;
  if (typeof fd !== 'number') return;
  let dir = false;
  try {
    dir = fstatSync(fd).isDirectory();
  } catch {
    return; // nothing to say: reading will tell
  }
  if (dir) throw new UsageError('stdin is a directory — give a file or a pipe');
}

/** Options of {@link runInterruptible}. */
export interface InterruptibleOptions {
  /** Watch stdout for a write error: the reader went away, so the command stops quietly. */
  watchStdout?: boolean;
  /** Stdin to release (pause, destroy) when the command is done. */
  input?: Readable;
}

/**
 * Run a client command's work so that SIGINT/SIGTERM stop it: `body` gets an
 * AbortSignal and resolves with the exit code. A signal that fired decides the
 * exit code instead (130 / 143), also when the work failed because of it (while
 * connecting or binding); any other failure is rethrown. Afterwards the signal
 * handlers are gone, a late EPIPE on stdout is harmless and `input` is released.
 */
export async function runInterruptible(
  ctx: CliContext,
  body: (scope: InterruptScope) => Promise<number>,
  opts: InterruptibleOptions = {},
): Promise<void> {
  const controller = new AbortController();
  let interrupted: number | undefined;
  const onInt = (): void => {
    interrupted ??= EXIT.SIGINT;
    controller.abort();
  };
  const onTerm = (): void => {
    interrupted ??= EXIT.SIGTERM;
    controller.abort();
  };
  let closed = false;
  const onOutputError = (): void => {
    closed = true;
    controller.abort();
  };
  ctx.signals.on('SIGINT', onInt);
  ctx.signals.on('SIGTERM', onTerm);
  if (opts.watchStdout) ctx.io.stdout.on('error', onOutputError);
  try {
    const code = await body({ signal: controller.signal, outputClosed: () => closed });
    ctx.exitCode = interrupted ?? code;
  } catch (err) {
    if (interrupted === undefined) throw err;
    ctx.exitCode = interrupted;
  } finally {
    ctx.signals.off('SIGINT', onInt);
    ctx.signals.off('SIGTERM', onTerm);
    if (opts.watchStdout) {
      ctx.io.stdout.off('error', onOutputError);
      // a late EPIPE after we are done must not crash the process
      ctx.io.stdout.on('error', () => undefined);
    }
    if (opts.input) releaseInput(opts.input);
  }
}

/** Stop reading stdin so the process can exit while its writer is still open. */
export function releaseInput(input: Readable): void {
  input.pause();
  if (typeof (input as { destroy?: unknown }).destroy === 'function') input.destroy();
}
