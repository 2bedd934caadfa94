/**
 * What `sockit sendto` does once its arguments are parsed: send the datagrams,
 * optionally wait for replies. Free of commander: the quick run of a plain
 * `sendto host port message…` (quick-main.ts) calls it too.
 */
import { Buffer } from 'node:buffer';
import { plural } from './output.js';
import type { CliContext } from './context.js';
import { ERR, EXIT, NetworkError, UsageError, systemError } from '../net/errors.js';
import { formatEndpoint } from '../net/address.js';
import { safeValue } from '../net/terminal.js';
import { clientTarget, familyOf } from './client-target.js';
import {
  checkInput,
  parseHex,
  outputDrops,
  printDatagram,
  readAll,
  releaseInput,
  runInterruptible,
  type InterruptScope,
} from './client-output.js';
import { withTap, type TapCliOptions } from './tap-options.js';
import type { Tap } from '../net/tap.js';

/** Options of `sockit sendto`. */
export interface SendtoCliOptions extends TapCliOptions {
  unix?: string;
  lines?: boolean;
  newline?: boolean;
  count?: number;
  interval?: number;
  hexInput?: boolean;
  broadcast?: boolean;
  wait?: number;
  hex?: boolean;
  json?: boolean;
  source?: string;
  sourcePort?: number;
  ipv4?: boolean;
  ipv6?: boolean;
  verbose?: boolean;
}

/** Split stdin into lines (LF, a CR before it kept out), without the empty tail after a final LF. */
function splitLines(data: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  let start = 0;
  for (let i = data.indexOf(0x0a); i !== -1; i = data.indexOf(0x0a, start)) {
    const end = i > start && data[i - 1] === 0x0d ? i - 1 : i;
    lines.push(data.subarray(start, end));
    start = i + 1;
  }
  if (start < data.length) lines.push(data.subarray(start));
  return lines;
}

/** The datagrams to send: one per message, per stdin line (`--lines`), or all of stdin. */
async function payloadsOf(
  ctx: CliContext,
  rest: readonly string[],
  opts: SendtoCliOptions,
): Promise<Buffer[]> {
  const nl = opts.newline ? Buffer.from('\n') : Buffer.alloc(0);
  if (rest.length > 0) {
    return rest.map((m) => Buffer.concat([opts.hexInput ? parseHex(m) : Buffer.from(m), nl]));
  }
  checkInput(ctx.io.stdin);
  const data = await readAll(ctx.io.stdin);
  releaseInput(ctx.io.stdin);
  const fromHex = (b: Buffer): Buffer => (opts.hexInput ? parseHex(b.toString('latin1')) : b);
  const pieces = opts.lines ? splitLines(data) : [data];
  return pieces.map((p) => Buffer.concat([fromHex(p), nl]));
}

/** `sendto host port message…` (or `--unix path`), with commander's options: sets `ctx.exitCode`. */
export async function runSendto(
  ctx: CliContext,
  positional: readonly (string | undefined)[],
  opts: SendtoCliOptions,
): Promise<void> {
  const { out } = ctx;
  out.verbose = opts.verbose === true;
  if (opts.hex && opts.json) throw new UsageError('--hex and --json exclude each other');
  const family = familyOf(opts);
  const { target, rest } = await clientTarget(opts.unix, positional, 'udp');
  if (opts.lines && rest.length > 0)
    throw new UsageError('--lines reads stdin: give no message arguments');
  const payloads = await payloadsOf(ctx, rest, opts);
  const { sendto } = await import('../clients/datagram-client.js');
  const waiting = opts.wait !== undefined && opts.wait > 0;
  // replies byte for byte; on a terminal only, a reply without a final newline gets one
  // (stdout is not touched when no reply is read: making it costs start-up time)
  const lineEnd = waiting && (ctx.io.stdout as { isTTY?: boolean }).isTTY === true;
  const body = async (scope: InterruptScope, tap: Tap | undefined): Promise<number> => {
    const drops = outputDrops(ctx);
    const r = await sendto(target, payloads, {
      tap,
      family,
      localAddress: opts.source,
      localPort: opts.sourcePort,
      count: opts.count,
      interval: opts.interval,
      broadcast: opts.broadcast,
      wait: opts.wait,
      signal: scope.signal,
      onReply: (d) => {
        out.detail(
          `reply from ${safeValue(formatEndpoint(d.from))}: ${plural(d.data.length, 'byte')}`,
        );
        if (!scope.outputClosed() && !printDatagram(ctx, d, opts, lineEnd)) drops.hit();
      },
    }).finally(() => drops.flush());
    const replies = waiting ? `, ${plural(r.replies, 'reply', 'replies')}` : '';
    out.detail(`${plural(r.sent, 'datagram')} sent (${plural(r.bytes, 'byte')})${replies}`);
    if (opts.wait !== undefined && r.replies === 0 && !scope.outputClosed()) {
      const cause = systemError('ETIMEDOUT', 'no reply');
      throw new NetworkError(`no reply within ${opts.wait}s`, cause, ERR.NO_REPLY);
    }
    return EXIT.OK;
  };
  await withTap(ctx, opts, false, (tap) =>
    runInterruptible(ctx, (scope) => body(scope, tap), { watchStdout: waiting }),
  );
}
