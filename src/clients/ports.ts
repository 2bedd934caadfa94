/**
 * Port specifications for probes: `22`, `20-25`, `22,80,8000-8100`, service
 * names (`http`, `ssh`) looked up in /etc/services, with a small built-in
 * table when that file is missing.
 */
import { readFileSync } from 'node:fs';
import { UsageError } from '../net/errors.js';
import { safeValue } from '../net/terminal.js';

/** Transport a service name is looked up for. */
export type ServiceProto = 'tcp' | 'udp';

/** Well-known services, used when /etc/services is absent or lacks the name. */
export const BUILTIN_SERVICES: Readonly<Record<string, number>> = {
  echo: 7,
  discard: 9,
  daytime: 13,
  chargen: 19,
  'ftp-data': 20,
  ftp: 21,
  ssh: 22,
  telnet: 23,
  smtp: 25,
  domain: 53,
  dns: 53,
  gopher: 70,
  finger: 79,
  http: 80,
  www: 80,
  kerberos: 88,
  pop3: 110,
  sunrpc: 111,
  ntp: 123,
  imap: 143,
  imap2: 143,
  snmp: 161,
  ldap: 389,
  https: 443,
  submissions: 465,
  syslog: 514,
  submission: 587,
  ldaps: 636,
  imaps: 993,
  pop3s: 995,
  socks: 1080,
  'ms-sql-s': 1433,
  mqtt: 1883,
  nfs: 2049,
  mysql: 3306,
  rdp: 3389,
  postgresql: 5432,
  postgres: 5432,
  amqp: 5672,
  x11: 6000,
  redis: 6379,
  'http-alt': 8080,
  memcache: 11211,
  mongodb: 27017,
};

const cache = new Map<ServiceProto, Map<string, number>>();

/** Parse /etc/services text into name → port for one protocol (aliases included). */
export function parseServicesFile(text: string, proto: ServiceProto): Map<string, number> {
  const table = new Map<string, number>();
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') continue;
    const [name, portProto, ...aliases] = line.split(/\s+/);
    const m = /^(\d+)\/(\w+)$/.exec(portProto ?? '');
    if (!name || !m || m[2] !== proto) continue;
    const port = Number(m[1]);
    for (const n of [name, ...aliases]) {
      const key = n.toLowerCase();
      if (!table.has(key)) table.set(key, port);
    }
  }
  return table;
}

function systemServices(proto: ServiceProto): Map<string, number> {
  let table = cache.get(proto);
  if (!table) {
    try {
      table = parseServicesFile(readFileSync('/etc/services', 'utf8'), proto);
    } catch {
      table = new Map();
    }
    cache.set(proto, table);
  }
  return table;
}

/** The port of a service name (`http` → 80), or undefined when unknown. */
export function lookupService(name: string, proto: ServiceProto = 'tcp'): number | undefined {
  const key = name.trim().toLowerCase();
  // own properties only: 'constructor' or '__proto__' are not services
  return (
    systemServices(proto).get(key) ??
    (Object.hasOwn(BUILTIN_SERVICES, key) ? BUILTIN_SERVICES[key] : undefined)
  );
}

/** Options for {@link parsePortSpec}. */
export interface PortSpecOptions {
  /** Protocol for service-name lookups (default tcp). */
  proto?: ServiceProto;
  /** Accept port 0 (default false: nothing can be probed on port 0). */
  allowZero?: boolean;
}

function onePort(text: string, spec: string, opts: PortSpecOptions): number {
  const min = opts.allowZero ? 0 : 1;
  if (/^\d+$/.test(text)) {
    const port = Number(text);
    if (port > 65535 || port < min) {
      throw new UsageError(
        `invalid port spec '${safeValue(spec)}' — ${safeValue(text)} is out of range ${min}-65535`,
      );
    }
    return port;
  }
  const port = lookupService(text, opts.proto);
  if (port === undefined) {
    throw new UsageError(
      `invalid port spec '${safeValue(spec)}' — '${safeValue(text)}' is neither a port number nor a known ${opts.proto ?? 'tcp'} service`,
    );
  }
  return port;
}

/**
 * Parse a port list such as `22`, `20-25`, `22,80,8000-8100` or `http,ssh`.
 * Returns the ports in ascending order without duplicates. Throws a
 * {@link UsageError} for an empty item, a reversed range (`25-20`), a port
 * above 65535, port 0 (unless `allowZero`), or an unknown service name.
 */
export function parsePortSpec(spec: string, opts: PortSpecOptions = {}): number[] {
  const seen: number[] = [];
  const items = spec.split(',').map((s) => s.trim());
  for (const item of items) {
    if (item === '') throw new UsageError(`invalid port spec '${safeValue(spec)}' — empty item`);
    // a service name may contain '-' (ms-sql-s), so try the whole item as a name first
    const named = /^\d/.test(item) ? undefined : lookupService(item, opts.proto);
    if (named !== undefined) {
      if (named === 0 && !opts.allowZero)
        throw new UsageError(`invalid port spec '${safeValue(spec)}' — port 0`);
      seen.push(named);
      continue;
    }
    const range = /^([^-]+)-([^-]+)$/.exec(item);
    if (range) {
      const lo = onePort(range[1]!.trim(), spec, opts);
      const hi = onePort(range[2]!.trim(), spec, opts);
      if (lo > hi) {
        throw new UsageError(
          `invalid port spec '${safeValue(spec)}' — range ${safeValue(item)} is reversed`,
        );
      }
      for (let p = lo; p <= hi; p += 1) seen.push(p);
      continue;
    }
    seen.push(onePort(item, spec, opts));
  }
  return ascendingOnce(seen);
}

/**
 * `ports` in ascending order without duplicates: as they are when already so (a
 * range such as `1-65535`, where a set and a sort would cost the scan ~30 ms).
 */
export function ascendingOnce(ports: readonly number[]): number[] {
  for (let i = 1; i < ports.length; i += 1) {
    if (ports[i]! <= ports[i - 1]!) return [...new Set(ports)].sort((a, b) => a - b);
  }
  return ports.slice();
}
