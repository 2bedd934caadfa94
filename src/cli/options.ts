/**
 * Argument parsers shared by the subcommands. Each throws commander's
 * InvalidArgumentError, which the CLI reports as one line with exit 2.
 */
import { InvalidArgumentError } from 'commander';
import { isIP } from '../net/ip.js';
import { parsePort, unbracket } from '../net/address.js';
import { SockitError } from '../net/errors.js';
import { hostProblem } from './client-target.js';

function wrap<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    // \u2014, not the dash itself: esbuild leaves a regex as written, and one non-ASCII
    // character makes V8 hold the whole start-up bundle as a two-byte string
    if (err instanceof SockitError)
      throw new InvalidArgumentError(err.message.replace(/^invalid \S+ '[^']*' \u2014 /, ''));
    throw err;
  }
}

/** A port 0-65535. */
export function portArg(value: string): number {
  return wrap(() => parsePort(value));
}

/** A whole number ≥ min (and ≤ max, which defaults to the largest exact integer). */
export function countArg(min = 1, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  const expected =
    max === Number.MAX_SAFE_INTEGER
      ? `expected a whole number ≥ ${min}`
      : `expected a whole number ${min}-${max}`;
  return (value) => {
    const n = Number(value.trim());
    if (!/^\d+$/.test(value.trim()) || n < min) throw new InvalidArgumentError(expected);
    if (n > max) {
      throw new InvalidArgumentError(
        max === Number.MAX_SAFE_INTEGER ? 'number too large' : expected,
      );
    }
    return n;
  };
}

/**
 * A duration in seconds: `5`, `1.5`, `250ms`, `2s`, `1m`. Returns seconds.
 */
export function parseDuration(value: string): number {
  const m = /^(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h)?$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError('expected a duration such as 5, 1.5, 250ms, 2s or 1m');
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const seconds = unit === 'ms' ? n / 1000 : unit === 'm' ? n * 60 : unit === 'h' ? n * 3600 : n;
  if (!Number.isFinite(seconds) || seconds > 2_000_000)
    throw new InvalidArgumentError('duration out of range');
  return seconds;
}

/** nc's `-i`: a duration in seconds (`1`, `0.5`, `250ms`, `2s`), returned in milliseconds. */
export function intervalArg(value: string): number {
  return parseDuration(value) * 1000;
}

/**
 * A host as getaddrinfo takes it: an IP literal (IPv6 may be bracketed), a name, an
 * /etc/hosts alias. Only what no resolver could take is refused here: the empty
 * string, whitespace, control characters, and more than a DNS name's 253 characters.
 * Returns it unbracketed.
 */
export function hostArg(value: string): string {
  const host = unbracket(value);
  const problem = hostProblem(host);
  if (problem !== undefined) throw new InvalidArgumentError(problem);
  return host;
}

/** An IP address literal (a source address: never a name). */
export function ipAddressArg(value: string): string {
  if (!isIP(value)) throw new InvalidArgumentError('not an IP address');
  return value;
}

/** Collect repeated option values (`--allow a --allow b` or `--allow a b`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
