import { Command } from 'commander';
import { Buffer } from 'node:buffer';
import type { CliContext } from '../context.js';
import { ERR, EXIT, NetworkError, UsageError } from '../../net/errors.js';
import { formatEndpoint } from '../../net/address.js';
import { countArg, ipAddressArg, parseDuration, portArg } from '../options.js';
import { clientTarget, familyOf, familyOptions } from '../client-args.js';
import {
  datagramJson,
  exitIfInterrupted,
  hexLine,
  interruptOn,
  watchOutput,
  millisArg,
  parseHex,
  readAll,
  releaseInput,
} from '../client-output.js';

/** Options of `sockit sendto`. */
interface SendtoCliOptions {
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

/** `sockit sendto`: send datagrams, optionally wait for replies. */
export function makeSendtoCommand(ctx: CliContext): Command {
  return new Command('sendto')
    .description('send UDP (or unix) datagrams: one per message, per stdin line, or all of stdin')
    .usage('[options] <host> <port> [message...]  |  --unix <path> [message...]')
    .argument('[host]', 'host name or IP address')
    .argument('[port]', 'port or service name')
    .argument('[message...]', 'one datagram each (default: stdin, one datagram or one per line)')
    .option('--unix <path>', 'send to a unix datagram socket')
    .option('--lines', 'one datagram per line of stdin')
    .option('-n, --newline', 'append a newline to each datagram')
    .option('-c, --count <n>', 'send everything n times', countArg(1))
    .option('-i, --interval <ms>', 'pause between datagrams (100, 250ms, 1s)', millisArg)
    .option('--hex-input', 'messages (or stdin) are hex: 68656c6c6f or "68 65 6c"')
    .option('--broadcast', 'allow a broadcast destination')
    .option(
      '--wait <duration>',
      'print replies that come within this long (stops early once each datagram got one)',
      parseDuration,
    )
    .option('--hex', 'print replies as one hex line each')
    .option('--json', 'print replies as {"from","port","bytes","data","encoding"} lines')
    .option('-s, --source <address>', 'source IP address', ipAddressArg)
    .option('-p, --source-port <port>', 'source port', portArg)
    .addOption(familyOptions()[0]!)
    .addOption(familyOptions()[1]!)
    .option('-v, --verbose', 'report what was sent and who replied on stderr')
    .addHelpText(
      'after',
      `
Examples:
  sockit sendto 127.0.0.1 9999 ping --wait 1       one datagram, print the reply
  printf 'a\\nb\\n' | sockit sendto --lines 127.0.0.1 9999
  sockit sendto --hex-input 127.0.0.1 9999 00ff10
  sockit sendto --unix /tmp/dgram.sock hello --wait 1

Exit status: 0 sent (with --wait: a reply came); 1 network error or no reply; 2 bad usage.`,
    )
    .action(
      async (
        host: string | undefined,
        port: string | undefined,
        message: string[],
        opts: SendtoCliOptions,
      ) => {
        const { io, out } = ctx;
        out.verbose = opts.verbose === true;
        if (opts.hex && opts.json) throw new UsageError('--hex and --json exclude each other');
        const family = familyOf(opts);
        const { target, rest } = await clientTarget(opts.unix, [host, port, ...message], 'udp');
        if (opts.lines && rest.length > 0)
          throw new UsageError('--lines reads stdin: give no message arguments');
        const nl = opts.newline ? Buffer.from('\n') : Buffer.alloc(0);
        let payloads: Buffer[];
        if (rest.length > 0) {
          payloads = rest.map((m) =>
            Buffer.concat([opts.hexInput ? parseHex(m) : Buffer.from(m), nl]),
          );
        } else {
          const data = await readAll(io.stdin);
          releaseInput(io.stdin);
          if (opts.lines) {
            payloads = splitLines(data).map((l) =>
              Buffer.concat([opts.hexInput ? parseHex(l.toString('latin1')) : l, nl]),
            );
          } else {
            payloads = [
              Buffer.concat([opts.hexInput ? parseHex(data.toString('latin1')) : data, nl]),
            ];
          }
        }
        const { sendto } = await import('../../clients/datagram-client.js');
        const interrupt = interruptOn(ctx);
        const output = watchOutput(io.stdout, () => interrupt.abort());
        try {
          const r = await sendto(target, payloads, {
            family,
            localAddress: opts.source,
            localPort: opts.sourcePort,
            count: opts.count,
            interval: opts.interval,
            broadcast: opts.broadcast,
            wait: opts.wait,
            signal: interrupt.signal,
            onReply: (d) => {
              out.detail(`reply from ${formatEndpoint(d.from)}: ${d.data.length} bytes`);
              if (output.closed()) return;
              if (opts.json) io.stdout.write(datagramJson(d.data, d.from));
              else if (opts.hex) io.stdout.write(hexLine(d.data));
              else {
                io.stdout.write(d.data);
                if (d.data[d.data.length - 1] !== 0x0a) io.stdout.write('\n');
              }
            },
          });
          out.detail(`${r.sent} datagrams sent (${r.bytes} bytes), ${r.replies} replies`);
          if (interrupt.exitCode() !== undefined) {
            ctx.exitCode = interrupt.exitCode()!;
            return;
          }
          if (opts.wait !== undefined && r.replies === 0 && !output.closed()) {
            const cause = Object.assign(new Error('no reply'), { code: 'ETIMEDOUT' });
            throw new NetworkError(`no reply within ${opts.wait}s`, cause, ERR.NO_REPLY);
          }
          ctx.exitCode = EXIT.OK;
        } catch (err) {
          exitIfInterrupted(err, interrupt, ctx);
        } finally {
          interrupt.dispose();
          output.dispose();
        }
      },
    );
}
