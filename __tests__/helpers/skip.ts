/**
 * Tests that need something this machine, user or installation may lack (the optional
 * unix-dgram addon, root, another user, a shell) skip themselves and say why: one
 * stderr line per file and reason, as `skipped in <file>: <reason>`.
 */
import { describe, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const said = new Set<string>();

function say(missing: string, where: string): void {
  const file = relative(ROOT, fileURLToPath(where));
  if (said.has(`${file}\n${missing}`)) return;
  said.add(`${file}\n${missing}`);
  process.stderr.write(`skipped in ${file}: ${missing}\n`);
}

/**
 * `test`, or when `missing` says what is missing, `test.skip` after printing it.
 * `where` is the test file's `import.meta.url`.
 */
export function testIf(missing: string | undefined, where: string): typeof test.skip {
  if (missing === undefined) return test;
  say(missing, where);
  return test.skip;
}

/** `describe`, or `describe.skip` after printing what is missing (see {@link testIf}). */
export function describeIf(missing: string | undefined, where: string): typeof describe.skip {
  if (missing === undefined) return describe;
  say(missing, where);
  return describe.skip;
}

function addonMissing(): string | undefined {
  try {
    createRequire(import.meta.url)('unix-dgram');
    return undefined;
  } catch (err) {
    const first = String((err as Error).message).split('\n')[0];
    return `the optional unix-dgram addon does not load here (${first}); unix datagram tests need it`;
  }
}

/** Why unix datagram tests cannot run here, or undefined when the addon loads. */
export const NO_UNIX_DGRAM = addonMissing();

/** Why a case on `transport` cannot run here: the unix datagram ones need the addon. */
export function unixDgramMissing(transport: string): string | undefined {
  return transport === 'unix-dgram' ? NO_UNIX_DGRAM : undefined;
}

type Args<T> = T extends readonly unknown[] ? [...T] : [T];
type Each<T> = (title: string, fn: (...args: Args<T>) => unknown, timeout?: number) => void;
type EachOf = (rows: readonly unknown[]) => (title: string, fn: never, timeout?: number) => void;

function eachSplit<T>(
  cases: readonly T[],
  missing: (c: T) => string | undefined,
  where: string,
  [run, skip]: [EachOf, EachOf],
): Each<T> {
  return (title, fn, timeout) => {
    const ready = cases.filter((c) => missing(c) === undefined);
    const lacking = cases.filter((c) => missing(c) !== undefined);
    if (ready.length > 0) run(ready)(title, fn as never, timeout);
    for (const reason of new Set(lacking.map(missing))) say(reason!, where);
    if (lacking.length > 0) skip(lacking)(title, fn as never, timeout);
  };
}

/**
 * `test.each(cases)`, with the cases for which `missing(case)` says what is missing
 * skipped (and that printed, see {@link testIf}).
 */
export function eachIf<T>(
  cases: readonly T[],
  missing: (c: T) => string | undefined,
  where: string,
): Each<T> {
  return eachSplit(cases, missing, where, [test.each as EachOf, test.skip.each as EachOf]);
}

/** `describe.each(cases)`, skipping the cases that miss something (see {@link eachIf}). */
export function describeEachIf<T>(
  cases: readonly T[],
  missing: (c: T) => string | undefined,
  where: string,
): Each<T> {
  return eachSplit(cases, missing, where, [describe.each as EachOf, describe.skip.each as EachOf]);
}

/** The `nobody` user and group, for tests that need an unprivileged process. */
export const NOBODY = { uid: 65534, gid: 65534 } as const;

/**
 * Why the CLI cannot run as {@link NOBODY} here, or undefined when it can: that takes
 * root, and a clone whose parent directories let other users through (a root clone
 * under `mktemp -d` or in /root does not).
 */
export function cliAsNobodyMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'running the CLI as nobody (uid 65534) needs root';
  const bin = fileURLToPath(new URL('../../bin/sockit.js', import.meta.url));
  const probe = spawnSync(process.execPath, [bin, 'serve', 'tcp', '--help'], {
    ...NOBODY,
    stdio: 'ignore',
  });
  if (probe.status === 0) return undefined;
  return `uid 65534 cannot load the CLI from ${ROOT} (a parent directory is closed to other users)`;
}

/** Why binding port 80 is not a privilege here (Linux's ip_unprivileged_port_start), or undefined. */
export function lowPortsOpenToAll(): string | undefined {
  let start = 1024;
  try {
    start = Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8'));
  } catch {
    // not Linux, or no such knob: ports below 1024 are privileged
  }
  return start > 80
    ? undefined
    : `port 80 is open to every user here (net.ipv4.ip_unprivileged_port_start = ${start})`;
}
