/**
 * Access lists for `verifyRequest()`: IPv4 and IPv6 CIDRs, IPv4-mapped IPv6
 * addresses matched as IPv4, deny wins over allow.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { UsageError } from './errors.js';
import { unbracket } from './address.js';
import { safeValue } from './terminal.js';

/** A parsed CIDR. */
export interface Cidr {
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

/** Parse `10.0.0.0/8`, `::1`, `fe80::/10`; a bare address is a /32 or /128. Throws UsageError. */
export function parseCidr(text: string): Cidr {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  const host = unbracket(slash < 0 ? trimmed : trimmed.slice(0, slash));
  const bits = slash < 0 ? undefined : trimmed.slice(slash + 1);
  const shown = safeValue(text);
  const family = isIPv4(host) ? 'ipv4' : isIPv6(host) ? 'ipv6' : undefined;
  if (!family) throw new UsageError(`invalid CIDR '${shown}' — not an IPv4 or IPv6 address`);
  const max = family === 'ipv4' ? 32 : 128;
  if (bits !== undefined && !/^\d{1,3}$/.test(bits)) {
    throw new UsageError(`invalid CIDR '${shown}' — prefix length must be a number 0-${max}`);
  }
  const prefix = bits === undefined ? max : Number(bits);
  if (prefix > max)
    throw new UsageError(`invalid CIDR '${shown}' — prefix length must be 0-${max}`);
  const mapped = family === 'ipv6' ? mappedIPv4(host) : undefined;
  if (mapped && prefix >= 96) return { address: mapped, prefix: prefix - 96, family: 'ipv4' };
  return { address: host, prefix, family };
}

/** `::ffff:1.2.3.4` → `1.2.3.4`; anything else → undefined. */
export function mappedIPv4(address: string): string | undefined {
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return m && isIPv4(m[1]!) ? m[1] : undefined;
}

/** Allow and deny rules: an address passes if no deny rule matches and, when allow rules exist, one does. */
export class AccessList {
  readonly #allow = new BlockList();
  readonly #deny = new BlockList();
  readonly #hasAllow: boolean;
  /** The allow rules as given (forked workers rebuild the list from them). */
  readonly allow: readonly string[];
  /** The deny rules as given. */
  readonly deny: readonly string[];

  constructor(allow: readonly string[] = [], deny: readonly string[] = []) {
    this.allow = [...allow];
    this.deny = [...deny];
    for (const c of allow.map(parseCidr)) this.#allow.addSubnet(c.address, c.prefix, c.family);
    for (const c of deny.map(parseCidr)) this.#deny.addSubnet(c.address, c.prefix, c.family);
    this.#hasAllow = allow.length > 0;
  }

  /** Does this peer address pass? */
  check(address: string): boolean {
    const v4 = mappedIPv4(address) ?? (isIPv4(address) ? address : undefined);
    const [addr, fam] = v4 ? [v4, 'ipv4' as const] : [address, 'ipv6' as const];
    if (!v4 && !isIPv6(address)) return false;
    if (this.#deny.check(addr, fam)) return false;
    return !this.#hasAllow || this.#allow.check(addr, fam);
  }
}

/** An access list, or its rules as plain data (what crosses to a worker). */
export type AccessListLike =
  AccessList | { readonly allow?: readonly string[]; readonly deny?: readonly string[] };

/** The access list for an option given as a list or as its rules. */
export function toAccessList(value: AccessListLike | undefined): AccessList | undefined {
  if (value === undefined || value instanceof AccessList) return value;
  return new AccessList(value.allow, value.deny);
}
