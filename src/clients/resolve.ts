/**
 * Name resolution and errno helpers shared by the clients: every address a
 * host resolves to (in the resolver's order), and Python-style errno numbers.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { constants } from 'node:os';
import { getSystemErrorName } from 'node:util';
import { NetworkError, UsageError, errnoName } from '../engine/errors.js';
import { unbracket } from '../engine/address.js';

/** A TCP/UDP endpoint given by host name or IP literal. */
export interface HostTarget {
  readonly host: string;
  readonly port: number;
}

/** A unix socket endpoint. */
export interface PathTarget {
  readonly path: string;
}

/** Where a client connects or sends to. */
export type Target = HostTarget | PathTarget;

/** IP version filter (`-4` / `-6`). */
export type IpFamily = 4 | 6;

/** One resolved address. */
export interface ResolvedAddress {
  readonly address: string;
  readonly family: IpFamily;
}

/** A resolver: every address of `host` (default: the system's, {@link resolveHost}). */
export type Resolver = (host: string, family?: IpFamily) => Promise<ResolvedAddress[]>;

/** Whether a target is a unix path. */
export function isPathTarget(target: Target): target is PathTarget {
  return 'path' in target;
}

/** `host:port` (IPv6 bracketed) or the path, for messages. */
export function describeTarget(target: Target): string {
  if (isPathTarget(target)) return target.path;
  return isIP(target.host) === 6
    ? `[${target.host}]:${target.port}`
    : `${target.host}:${target.port}`;
}

/**
 * Every address `host` resolves to, in the resolver's order (`localhost` gives
 * ::1 and 127.0.0.1), filtered by `family`. An IP literal is returned as is.
 * Throws a NetworkError when the name does not resolve, and a UsageError when
 * an IP literal contradicts `family`.
 */
export async function resolveHost(
  host: string,
  family?: IpFamily,
  resolver?: Resolver,
): Promise<ResolvedAddress[]> {
  const literal = unbracket(host);
  if (resolver && !isIP(literal)) {
    const list = await resolver(literal, family);
    const out = list.filter((a) => family === undefined || a.family === family);
    if (out.length === 0) {
      const err = Object.assign(new Error('no address'), { code: 'ENOTFOUND' });
      throw new NetworkError(`cannot resolve '${literal}' — ENOTFOUND`, err, 'SOCKIT_ERR_RESOLVE');
    }
    return out;
  }
  const v = isIP(literal);
  if (v === 4 || v === 6) {
    if (family !== undefined && family !== v) {
      throw new UsageError(`address ${literal} is not IPv${family}`);
    }
    return [{ address: literal, family: v }];
  }
  try {
    const all = await lookup(literal, { all: true, family: family ?? 0, verbatim: true });
    const out: ResolvedAddress[] = [];
    const seen = new Set<string>();
    for (const a of all) {
      if (seen.has(a.address)) continue;
      seen.add(a.address);
      out.push({ address: a.address, family: a.family === 6 ? 6 : 4 });
    }
    if (out.length === 0) throw Object.assign(new Error('no address'), { code: 'ENOTFOUND' });
    return out;
  } catch (err) {
    const code = errnoName(err) ?? 'ENOTFOUND';
    throw new NetworkError(
      `cannot resolve '${literal}'${family ? ` (IPv${family})` : ''} — ${code}`,
      err,
      'SOCKIT_ERR_RESOLVE',
    );
  }
}

/**
 * The message of anything thrown, on one line. Unlike `instanceof Error`, this
 * also reads errors made in another realm (a vm context, a test runner).
 */
export function messageOf(err: unknown): string {
  const text =
    typeof err === 'object' && err !== null && 'message' in err
      ? String((err as { message: unknown }).message)
      : String(err);
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/**
 * The errno name of a system error (`ECONNREFUSED`), also when a native addon
 * reports it as a negative number (`code: -2` → `ENOENT`).
 */
export function errorCode(err: unknown): string | undefined {
  const named = errnoName(err);
  if (named) return named;
  if (typeof err !== 'object' || err === null) return undefined;
  const n = (err as { code?: unknown; errno?: unknown }).code ?? (err as { errno?: unknown }).errno;
  if (typeof n === 'number' && n < 0) {
    try {
      return getSystemErrorName(n);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** The positive errno number of an errno name (`ECONNREFUSED` → 111), 0 for `'0'`. */
export function errnoNumber(name: string): number {
  if (name === '0' || name === 'OK') return 0;
  const n = (constants.errno as Record<string, number | undefined>)[name];
  return n ?? -1;
}
