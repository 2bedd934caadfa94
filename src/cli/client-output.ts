/**
 * Output helpers for the client commands: hex dumps, JSON records of payloads,
 * hex input, an AbortSignal tied to SIGINT/SIGTERM, and EPIPE-tolerant stdout.
 */
import { Buffer, isUtf8 } from 'node:buffer';
import type { Readable, Writable } from 'node:stream';
import { InvalidArgumentError } from 'commander';
import { EXIT, UsageError } from '../net/errors.js';
import type { SocketAddress } from '../net/address.js';
import type { CliContext } from './context.js';

/** A payload as JSON fields: UTF-8 text when valid, else base64. */
export function payloadFields(data: Uint8Array): { data: string; encoding: 'utf8' | 'base64' } {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return isUtf8(buf)
    ? { data: buf.toString('utf8'), encoding: 'utf8' }
    : { data: buf.toString('base64'), encoding: 'base64' };
}

/** One datagram as an NDJSON line: `{"from","port","bytes","data","encoding"}`. */
export function datagramJson(data: Uint8Array, from: SocketAddress): string {
  const sender =
    from.family === 'unix'
      ? { from: from.path, port: null }
      : { from: from.address, port: from.port };
  return `${JSON.stringify({ ...sender, bytes: data.length, ...payloadFields(data) })}\n`;
}

/** The canonical hex dump (`hexdump -C`): offset, 16 bytes in hex, printable ASCII. */
export function hexdump(data: Uint8Array): string {
  const lines: string[] = [];
  for (let off = 0; off < data.length; off += 16) {
    const row = data.subarray(off, Math.min(off + 16, data.length));
    let hex = '';
    let text = '';
    for (let i = 0; i < 16; i += 1) {
      const b = row[i];
      hex += b === undefined ? '   ' : `${b.toString(16).padStart(2, '0')} `;
      if (i === 7) hex += ' ';
      if (b !== undefined) text += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.';
    }
    lines.push(`${off.toString(16).padStart(8, '0')}  ${hex} |${text}|`);
  }
  lines.push(data.length.toString(16).padStart(8, '0'));
  return `${lines.join('\n')}\n`;
}

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

/** A duration in milliseconds: `100` (ms), `250ms`, `1.5s`, `1m`. */
export function millisArg(value: string): number {
  const m = /^(\d+(?:\.\d+)?|\.\d+)(ms|s|m)?$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError('expected milliseconds such as 100, 250ms, 1.5s or 1m');
  const n = Number(m[1]);
  const ms = m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n;
  if (!Number.isFinite(ms) || ms > 86_400_000) throw new InvalidArgumentError('out of range');
  return ms;
}

/** Read a stream to its end. */
export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks);
}

/** An AbortSignal fired by SIGINT/SIGTERM while a command runs. */
export interface Interrupt {
  readonly signal: AbortSignal;
  /** The exit code for the signal that fired (130 / 143), or undefined. */
  exitCode(): number | undefined;
  /** Abort for another reason (e.g. the output closed). */
  abort(): void;
  /** Stop listening for signals. */
  dispose(): void;
}

/**
 * In a client command's `catch`: a failure caused by SIGINT/SIGTERM (while
 * connecting or binding) ends with the signal's exit code; anything else is rethrown.
 */
export function exitIfInterrupted(err: unknown, interrupt: Interrupt, ctx: CliContext): void {
  const interrupted = interrupt.exitCode();
  if (interrupted === undefined) throw err;
  ctx.exitCode = interrupted;
}

/** Tie an AbortController to the context's SIGINT/SIGTERM. */
export function interruptOn(ctx: CliContext): Interrupt {
  const controller = new AbortController();
  let code: number | undefined;
  const onInt = (): void => {
    code ??= EXIT.SIGINT;
    controller.abort();
  };
  const onTerm = (): void => {
    code ??= EXIT.SIGTERM;
    controller.abort();
  };
  ctx.signals.on('SIGINT', onInt);
  ctx.signals.on('SIGTERM', onTerm);
  return {
    signal: controller.signal,
    exitCode: () => code,
    abort: () => controller.abort(),
    dispose: () => {
      ctx.signals.off('SIGINT', onInt);
      ctx.signals.off('SIGTERM', onTerm);
    },
  };
}

/**
 * Watch `out` for a write error: the reader went away (EPIPE, `| head -1`), so
 * `onClosed` runs and `closed()` turns true; main() reports anything but EPIPE.
 * `dispose()` removes the watch and keeps a late error harmless.
 */
export function watchOutput(
  out: Writable,
  onClosed: () => void,
): { closed: () => boolean; dispose: () => void } {
  let closed = false;
  const onError = (): void => {
    closed = true;
    onClosed();
  };
  out.on('error', onError);
  return {
    closed: () => closed,
    dispose: () => {
      out.off('error', onError);
      // a late EPIPE after we are done must not crash the process
      out.on('error', () => undefined);
    },
  };
}

/** Stop reading stdin so the process can exit while its writer is still open. */
export function releaseInput(input: Readable): void {
  input.pause();
  if (typeof (input as { destroy?: unknown }).destroy === 'function') input.destroy();
}
