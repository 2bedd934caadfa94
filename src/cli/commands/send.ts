import { Command } from 'commander';
import { Buffer } from 'node:buffer';
import { Transform, type Readable } from 'node:stream';
import type { CliContext } from '../context.js';
import { ERR, EXIT, NetworkError, UsageError, systemError } from '../../net/errors.js';
import { parseDuration } from '../options.js';
import { formatEndpoint } from '../../net/address.js';
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
import {
  checkInput,
  hexdump,
  payloadFields,
  runInterruptible,
  type InterruptScope,
} from '../client-output.js';
import { addClientTlsOptions, clientTlsOf, type ClientTlsFlags } from '../tls-options.js';

/** Options of `sockit send`. */
interface SendCliOptions extends ClientTlsFlags {
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
  'give up connecting, and stop reading the reply, after this long (default 10s)';

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
    .option('--json', 'print {"sent","received","reply","encoding","rtt_ms"} on one line');
  return addClientTlsOptions(addFamilyOptions(cmd))
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
  const body = async ({ signal }: InterruptScope): Promise<number> => {
    const output = !opts.hex && !opts.json ? io.stdout : undefined;
    const r = await send(target, payload, {
      family,
      timeout,
      replyTimeout: timeout,
      output,
      signal,
      tls,
    });
    printReply(ctx, r, opts);
    if (r.received > 0 || r.ended === 'output-closed') return EXIT.OK;
    throw noReply(target, r.ended, timeout);
  };
  await runInterruptible(ctx, body, { input: fromStdin ? io.stdin : undefined });
}

function printReply(ctx: CliContext, r: SendResult, opts: SendCliOptions): void {
  const { io, out } = ctx;
  if (opts.hex && r.received > 0) io.stdout.write(hexdump(r.reply));
  if (opts.json) {
    const rtt = r.rttMs === undefined ? null : Math.round(r.rttMs * 1000) / 1000;
    const { data, encoding } = payloadFields(r.reply);
    io.stdout.write(
      `${JSON.stringify({ sent: r.sent, received: r.received, reply: data, encoding, rtt_ms: rtt })}\n`,
    );
  }
  const rtt = r.rttMs !== undefined ? `, first reply byte after ${r.rttMs.toFixed(2)} ms` : '';
  out.detail(`${r.sent} bytes sent, ${r.received} received${rtt}`);
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
