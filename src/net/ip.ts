/**
 * IP literals, told apart as node:net's `isIP` does and with the same answers,
 * without loading node:net: that module brings the whole stream stack (about thirty
 * modules) into every start, and a `sendto` or a port scan needs none of it.
 */

// Node's own patterns (lib/internal/net.js), so that every answer matches node:net's
const V4_SEG = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])';
const V4_STR = `(?:${V4_SEG}\\.){3}${V4_SEG}`;
const V6_SEG = '(?:[0-9a-fA-F]{1,4})';
const V6_STR = [
  `(?:${V6_SEG}:){7}(?:${V6_SEG}|:)`,
  `(?:${V6_SEG}:){6}(?:${V4_STR}|:${V6_SEG}|:)`,
  `(?:${V6_SEG}:){5}(?::${V4_STR}|(?::${V6_SEG}){1,2}|:)`,
  `(?:${V6_SEG}:){4}(?:(?::${V6_SEG}){0,1}:${V4_STR}|(?::${V6_SEG}){1,3}|:)`,
  `(?:${V6_SEG}:){3}(?:(?::${V6_SEG}){0,2}:${V4_STR}|(?::${V6_SEG}){1,4}|:)`,
  `(?:${V6_SEG}:){2}(?:(?::${V6_SEG}){0,3}:${V4_STR}|(?::${V6_SEG}){1,5}|:)`,
  `(?:${V6_SEG}:){1}(?:(?::${V6_SEG}){0,4}:${V4_STR}|(?::${V6_SEG}){1,6}|:)`,
  `(?::(?:(?::${V6_SEG}){0,5}:${V4_STR}|(?::${V6_SEG}){1,7}|:))`,
].join('|');

let v6: RegExp | undefined;

/**
 * Whether `s` is a dotted-quad IPv4 address (`127.0.0.1`; no leading zeros, each part
 * 0-255), as node:net's `isIPv4`. Checked by hand: V8 compiles a regular expression on
 * its first use, which costs more than a start-up check of one address.
 */
export function isIPv4(s: string): boolean {
  const n = s.length;
  if (n < 7 || n > 15) return false;
  let parts = 0;
  let i = 0;
  while (i <= n) {
    const start = i;
    let value = 0;
    while (i < n && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) {
      value = value * 10 + (s.charCodeAt(i) - 48);
      i += 1;
    }
    const len = i - start;
    if (len === 0 || len > 3 || value > 255 || (len > 1 && s.charCodeAt(start) === 48))
      return false;
    parts += 1;
    if (i === n) return parts === 4;
    if (s.charCodeAt(i) !== 46 || parts === 4) return false;
    i += 1;
  }
  return false;
}

/** Whether `s` is an IPv6 address (with an optional `%zone`), as node:net's `isIPv6`. */
export function isIPv6(s: string): boolean {
  // every IPv6 literal has a colon: names and IPv4 addresses never pay for the pattern
  if (!s.includes(':')) return false;
  v6 ??= new RegExp(`^(?:${V6_STR})(?:%[0-9a-zA-Z-.:]{1,})?$`);
  return v6.test(s);
}

/** 4 for an IPv4 address, 6 for an IPv6 address, 0 otherwise: node:net's `isIP`. */
export function isIP(s: string): 0 | 4 | 6 {
  return isIPv4(s) ? 4 : isIPv6(s) ? 6 : 0;
}
