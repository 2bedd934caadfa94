import { Command } from 'commander';
import { Buffer } from 'node:buffer';
import { Transform, type Readable } from 'node:stream';
import type { CliContext } from '../context.js';
import { ERR, EXIT, NetworkError, UsageError, systemError } from '../../net/errors.js';
import { parseDuration } from '../options.js';
import { formatEndpoint, remoteAddress, type SocketAddress } from '../../net/address.js';
import type { SendResult } from '../../clients/stream-client.js';
import {
  addFamilyOptions,
  clientTarget,
  familyOf,
  messageCommand,
  withPositionals,
  type CliTarget,
  type Positionals,
} from '../client-args.js';
import { checkInput, hexdump, runInterruptible, type InterruptScope } from '../client-output.js';
import { addClientTlsOptions, clientTlsOf, type ClientTlsFlags } from '../tls-options.js';
import { eventLine, jsonPeer, payloadFields } from '../events.js';
import { addTapOptions, withTap, type TapCliOptions } from '../tap-options.js';
import type { Tap } from '../../net/tap.js';
import { Progress, transferSummary } from '../progress.js';

/** Options of `sockit send`. */
interface SendCliOptions extends ClientTlsFlags, TapCliOptions {
  unix?: string;
  newline?: boolean;
  timeout?: number;
  hex?: boolean;
  json?: boolean;
  ipv4?: boolean;
  ipv6?: boolean;
  verbose?: boolean;
}

function appendNewline(): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      cb(null, chunk);
    },
    flush(cb) {
      cb(null, Buffer.from('\n'));
    },
  });
}

const TIMEOUT_HELP =
  'give up connecting, and stop reading the reply, after this long (default 10s; the addresses of a name race 250 ms apart, Happy Eyeballs)';

const SEND_HELP = `
Examples:
  sockit send 127.0.0.1 9999 hello -n              prints the reply to "hello\\n"
  sockit send --unix /tmp/app.sock --json ping
  printf 'GET / HTTP/1.0\\r\\n\\r\\n' | sockit send example.com 80
  printf 'GET / HTTP/1.0\\r\\n\\r\\n' | sockit send --tls example.com 443   verified TLS

Exit status: 0 a reply came; 1 refused, timed out or no reply; 2 bad usage.`;

/** `sockit send`: one request, one reply, then exit. */
export function makeSendCommand(ctx: CliContext): Command {
  const cmd = messageCommand('send', {
    description: 'send one request (the message, or stdin), half-close, print the whole reply',
    message: 'words joined by spaces (default: read stdin to its end)',
    unix: 'send over a unix stream socket',
    helpAfter: SEND_HELP,
  })
    .option('-n, --newline', 'append a newline to the message')
    .option('-w, --timeout <duration>', TIMEOUT_HELP, parseDuration)
    .option('--hex', 'print the reply as a hex dump')
    .option('--json', 'print one "reply" event: peer, sent, received, data, encoding, rttMs');
  return addClientTlsOptions(addTapOptions(addFamilyOptions(cmd)))
    .option('-v, --verbose', 'report the exchange on stderr')
    .action(withPositionals((args, opts: SendCliOptions) => runSend(ctx, args, opts)));
}

async function runSend(ctx: CliContext, positional: Positionals, opts: SendCliOptions) {
  const { io, out } = ctx;
  out.verbose = opts.verbose === true;
  if (opts.hex && opts.json) throw new UsageError('--hex and --json exclude each other');
  const family = familyOf(opts);
  const tls = clientTlsOf(opts, (m) => out.warn(m));
  const { target, rest } = await clientTarget(opts.unix, positional);
  const { send, DEFAULT_REPLY_TIMEOUT } = await import('../../clients/stream-client.js');
  const fromStdin = rest.length === 0;
  if (fromStdin) checkInput(io.stdin);
  const payload: Uint8Array | Readable = fromStdin
    ? opts.newline
      ? io.stdin.pipe(appendNewline())
      : io.stdin
    : Buffer.from(`${rest.join(' ')}${opts.newline ? '\n' : ''}`);
  const timeout = opts.timeout ?? DEFAULT_REPLY_TIMEOUT;
  const body = async ({ signal }: InterruptScope, tap: Tap | undefined): Promise<number> => {
    const output = !opts.hex && !opts.json ? io.stdout : undefined;
    let peer: SocketAddress | undefined;
    const progress = Progress.for(io, { json: opts.json });
    const r = await send(target, payload, {
      family,
      timeout,
      replyTimeout: timeout,
      output,
      signal,
      tls,
      tap,
      onConnect: (socket) => {
        peer = remoteAddress(socket, 'path' in target ? target.path : '');
        progress?.watch(socket);
      },
    })
      .catch(heldTooLong)
      .finally(() => progress?.stop());
    printReply(ctx, r, opts, peer);
    if (r.received > 0 || r.ended === 'output-closed') return EXIT.OK;
    throw noReply(target, r.ended, timeout);
  };
  const input = fromStdin ? io.stdin : undefined;
  await withTap(ctx, opts, false, (tap) =>
    runInterruptible(ctx, (scope) => body(scope, tap), { input }),
  );
}

function printReply(
  ctx: CliContext,
  r: SendResult,
  opts: SendCliOptions,
  peer: SocketAddress | undefined,
): void {
  const { io, out } = ctx;
  if (opts.hex && r.received > 0) io.stdout.write(hexdump(r.reply));
  if (opts.json) {
    const rttMs = r.rttMs === undefined ? null : Math.round(r.rttMs * 1000) / 1000;
    const fields = { sent: r.sent, received: r.received, ...payloadFields(r.reply), rttMs };
    io.stdout.write(eventLine('reply', { ...(peer ? { peer: jsonPeer(peer) } : {}), ...fields }));
  }
  const rtt = r.rttMs !== undefined ? `, first reply byte after ${r.rttMs.toFixed(2)} ms` : '';
  out.detail(`${transferSummary(r.sent, r.received, r.totalMs)}${rtt}`);
}

/** --hex and --json hold the reply: past the cap, say how to get it whole. */
function heldTooLong(err: unknown): never {
  if (err instanceof NetworkError && err.code === ERR.REPLY_TOO_LARGE) {
    throw new NetworkError(
      `${err.message} — --hex and --json hold the reply; without them it streams to stdout (or save it with -o <file>)`,
      err,
      ERR.REPLY_TOO_LARGE,
    );
  }
  throw err;
}

function noReply(target: CliTarget, ended: SendResult['ended'], timeout: number): NetworkError {
  const cause = systemError(ended === 'timeout' ? 'ETIMEDOUT' : 'ENODATA', 'no reply');
  return new NetworkError(
    ended === 'timeout'
      ? `no reply from ${formatEndpoint(target)} within ${timeout}s`
      : `no reply from ${formatEndpoint(target)} — the peer closed the connection without answering`,
    cause,
    ERR.NO_REPLY,
  );
}
