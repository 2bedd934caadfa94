/**
 * Name resolution for every layer: every address a host resolves to, in the
 * resolver's order, for clients; the address a server binds to.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from './ip.js';
import { ERR, NetworkError, UsageError, errnoName, systemError } from './errors.js';
import { unbracket } from './address.js';
import { safeValue } from './terminal.js';

/** IP version filter (`-4` / `-6`). */
export type IpFamily = 4 | 6;

/** One resolved address. */
export interface ResolvedAddress {
  readonly address: string;
  readonly family: IpFamily;
}

/** A resolver: every address of `host` (default: the system's, {@link resolveHost}). */
export type Resolver = (host: string, family?: IpFamily) => Promise<ResolvedAddress[]>;

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
      const err = systemError('ENOTFOUND', 'no address');
      throw new NetworkError(
        `cannot resolve '${safeValue(literal)}' — ENOTFOUND`,
        err,
        ERR.RESOLVE,
      );
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
    if (out.length === 0) throw systemError('ENOTFOUND', 'no address');
    return out;
  } catch (err) {
    const code = errnoName(err) ?? 'ENOTFOUND';
    throw new NetworkError(
      `cannot resolve '${literal}'${family ? ` (IPv${family})` : ''} — ${code}`,
      err,
      ERR.RESOLVE,
    );
  }
}

/**
 * The address a server binds to: an IP literal as is, a host name resolved once
 * (its first address), so that the banner and the UDP socket family are right.
 * A name that does not resolve is bad input (exit 2).
 */
export async function resolveBindHost(host: string): Promise<string> {
  try {
    return (await resolveHost(host))[0]!.address;
  } catch (err) {
    if (!(err instanceof NetworkError)) throw err;
    throw new UsageError(
      `bad host '${host}' — it does not resolve (${err.errno ?? 'ENOTFOUND'})`,
      ERR.BAD_HOST,
    );
  }
}
