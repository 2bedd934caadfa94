/**
 * The commander-free half of the client commands' arguments: targets (`host port`
 * or `--unix path`), ports given as numbers or service names, and `-4`/`-6`.
 * Everything here throws a UsageError (exit 2) on bad input. The quick runs
 * (src/cli/quick-main.ts) use it without loading commander at all.
 */
import { UsageError } from '../net/errors.js';
import { checkUnixPath, unbracket } from '../net/address.js';
import { isIP } from '../net/ip.js';
import { safeValue } from '../net/terminal.js';

/** A target as the commands see it. */
export type CliTarget = { host: string; port: number } | { path: string };

/** `-4` / `-6` as an IP family. */
export function familyOf(opts: { ipv4?: boolean; ipv6?: boolean }): 4 | 6 | undefined {
  if (opts.ipv4 && opts.ipv6) throw new UsageError('-4 and -6 exclude each other');
  return opts.ipv4 ? 4 : opts.ipv6 ? 6 : undefined;
}

/**
 * What is wrong with a host name or IP literal (brackets taken off), or undefined:
 * the one check behind commander's `hostArg` and {@link checkedHost}.
 */
export function hostProblem(host: string): string | undefined {
  if (host === '') return 'empty host';
  if (isIP(host)) return undefined;
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  if (/[\s\u0000-\u001f\u007f-\u009f]/.test(host)) {
    return 'a host has no spaces or control characters';
  }
  if (host.length > 253) return 'longer than a host name can be (253)';
  return undefined;
}

/** A host checked with the shared parser, as a UsageError. */
export function checkedHost(value: string): string {
  const host = unbracket(value);
  const problem = hostProblem(host);
  if (problem !== undefined) {
    throw new UsageError(`invalid host '${safeValue(value)}' — ${problem}`);
  }
  return host;
}

/**
 * A destination port 1-65535, or a service name (`http` → 80, from
 * /etc/services or a built-in table). The lookup module is only loaded for a name.
 */
export async function destinationPort(
  value: string,
  proto: 'tcp' | 'udp' = 'tcp',
): Promise<number> {
  const text = value.trim();
  if (/^\d+$/.test(text)) {
    const port = Number(text);
    if (port < 1 || port > 65535) {
      throw new UsageError(`invalid port '${safeValue(value)}' — out of range 1-65535`);
    }
    return port;
  }
  const { lookupService } = await import('../clients/ports.js');
  const port = lookupService(text, proto);
  if (port === undefined || port === 0) {
    throw new UsageError(
      `invalid port '${safeValue(value)}' — not a number or a known ${proto} service`,
    );
  }
  return port;
}

/**
 * The target of a client command: `--unix <path>`, or `<host> <port>`.
 * `rest` gets the positional arguments left over (messages).
 */
export async function clientTarget(
  unix: string | undefined,
  positional: readonly (string | undefined)[],
  proto: 'tcp' | 'udp' = 'tcp',
): Promise<{ target: CliTarget; rest: string[] }> {
  const args = positional.filter((a): a is string => a !== undefined);
  if (unix !== undefined) {
    try {
      return { target: { path: checkUnixPath(unix) }, rest: args };
    } catch (err) {
      throw err instanceof UsageError ? err : new UsageError(String(err));
    }
  }
  const [host, port, ...rest] = args;
  if (host === undefined) throw new UsageError('missing <host> (or --unix <path>)');
  if (port === undefined) throw new UsageError(`missing <port> after host '${safeValue(host)}'`);
  return { target: { host: checkedHost(host), port: await destinationPort(port, proto) }, rest };
}
