/**
 * The table-driven bad-usage tests: each table row is an argv that must give exit 2,
 * exactly one stderr line starting with `sockit: `, empty stdout, no stack trace,
 * and no side effect (no socket file in the temp dir, no connection to the TCP
 * witness, no datagram to the UDP witness, nothing on the default port). One test per
 * subcommand; its rows run in parallel.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../helpers/cli.js';
import { testIf } from '../helpers/skip.js';
import {
  WITNESS_HOST,
  DEFAULT_PORT,
  DEFAULT_PORT_FREE,
  expectDefaultPortUntouched,
  mapLimit,
  tcpWitness,
  udpWitness,
  usageProblems,
} from './usage-helpers.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/handlers/', import.meta.url));

/** A unix socket file name too long for sun_path, whatever the temp dir. */
export const LONG = 'x'.repeat(120);

/**
 * Define the tests for `table` (subcommand → rows). In rows, `DIR` is a fresh temp
 * dir, `TCP`/`UDP` are the witness ports, `FIX` the handler fixtures directory, and
 * `127.0.0.1` the witnesses' address.
 */
export function defineUsageTable(table: Record<string, string[][]>): void {
  let dir: string;
  let tcp: Awaited<ReturnType<typeof tcpWitness>>;
  let udp: Awaited<ReturnType<typeof udpWitness>>;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sk-'));
    tcp = await tcpWitness();
    udp = await udpWitness();
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await tcp.close();
    udp.close();
  });

  const expand = (args: readonly string[]): string[] =>
    args.map((a) =>
      a === '127.0.0.1'
        ? WITNESS_HOST
        : a
            .replace('DIR', dir)
            .replace('TCP', String(tcp.port))
            .replace('UDP', String(udp.port))
            .replace('FIX', FIXTURES),
    );

  describe('bad usage: exit 2, one line, nothing else', () => {
    test.each(Object.keys(table))('%s', async (name) => {
      const argvs = table[name]!.map(expand);
      const results = await mapLimit(argvs, 4, (args) => run(args));
      const problems = argvs.flatMap((args, i) => usageProblems(args, results[i]!));
      expect(problems).toEqual([]);
      expect(readdirSync(dir)).toEqual([]); // no socket file, no directory
      expect(tcp.connections()).toBe(0);
      expect(udp.datagrams()).toBe(0);
    });

    testIf(
      DEFAULT_PORT_FREE ? undefined : `port ${DEFAULT_PORT} was taken before the tests started`,
      import.meta.url,
    )('nothing was left listening on the default port', async () => {
      await expectDefaultPortUntouched();
    });
  });
}
