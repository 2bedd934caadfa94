/**
 * The traffic tap's options, written once for every command: `-x, --hex-dump
 * <file|->`, `-o, --output <file>` and `--append-output`. {@link withTap} opens the
 * files, runs the command with the tap and closes it afterwards — also after a
 * failure or a signal — so that both logs are complete when sockit exits.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import { ERR, NetworkError, UsageError, errorCode, oneLine } from '../net/errors.js';
import { safeValue } from '../net/terminal.js';
import type { Tap } from '../net/tap.js';
import type { CliContext } from './context.js';

/** The tap's options as commander parses them. */
export interface TapCliOptions {
  hexDump?: string;
  output?: string;
  appendOutput?: boolean;
}

/** Add `-x/--hex-dump`, `-o/--output` and `--append-output` to a command. */
export function addTapOptions(cmd: Command): Command {
  return cmd
    .option(
      '-x, --hex-dump <file|->',
      'log both directions as a hex dump (< received, > sent) to a file, or - for stderr',
    )
    .option('-o, --output <file>', 'log the raw bytes of both directions to a file')
    .option('--append-output', 'append to the -o and -x files instead of replacing them');
}

/** Whether the options ask for a tap. */
export function wantsTap(opts: TapCliOptions): boolean {
  return opts.hexDump !== undefined || opts.output !== undefined;
}

async function openFile(path: string, append: boolean, flag: string): Promise<WriteStream> {
  const file = createWriteStream(path, { flags: append ? 'a' : 'w', highWaterMark: 1 << 20 });
  try {
    await once(file, 'open');
  } catch (err) {
    const code = errorCode(err);
    throw new NetworkError(
      `cannot write ${flag} '${safeValue(path)}' — ${code ?? oneLine(err)}`,
      err,
      ERR.OUTPUT,
    );
  }
  return file;
}

/**
 * Open the tap the options ask for (undefined when none). `numbered`: a server,
 * whose hex lines carry connection numbers.
 */
export async function openTap(
  ctx: CliContext,
  opts: TapCliOptions,
  numbered: boolean,
): Promise<Tap | undefined> {
  if (!wantsTap(opts)) return undefined;
  if (opts.output === '-') {
    throw new UsageError('-o needs a file — stdout carries the data (use -x - for a hex dump)');
  }
  const append = opts.appendOutput === true;
  const files: Writable[] = [];
  let hexDump: Writable | undefined;
  if (opts.hexDump === '-') hexDump = ctx.io.stderr;
  else if (opts.hexDump !== undefined)
    files.push((hexDump = await openFile(opts.hexDump, append, '-x')));
  const output = opts.output === undefined ? undefined : await openFile(opts.output, append, '-o');
  if (output) files.push(output);
  const { Tap } = await import('../net/tap.js');
  return new Tap({ hexDump, output, numbered, endOnClose: files });
}

/** Close the tap: write what is left, end the files, say what could not be logged. */
export async function closeTap(ctx: CliContext, tap: Tap | undefined): Promise<void> {
  if (!tap) return;
  await tap.close();
  if (tap.error) ctx.out.warn(`the traffic log is incomplete — ${oneLine(tap.error)}`);
  if (tap.dropped > 0) {
    const n = tap.dropped;
    ctx.out.warn(
      `${n} datagram ${n === 1 ? 'record was' : 'records were'} not logged — the log fell behind`,
      { reason: 'tap', dropped: n },
    );
  }
}

/** Run `body` with the tap the options ask for, and close it afterwards, whatever happens. */
export async function withTap<T>(
  ctx: CliContext,
  opts: TapCliOptions,
  numbered: boolean,
  body: (tap: Tap | undefined) => Promise<T>,
): Promise<T> {
  const tap = await openTap(ctx, opts, numbered);
  try {
    return await body(tap);
  } finally {
    await closeTap(ctx, tap);
  }
}
