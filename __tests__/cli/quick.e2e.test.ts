/**
 * The quick runs (`connect -z`, `sendto host port message`: dist/bundle/quick-*.cjs)
 * print, send and exit exactly as the commander program does for the same argv:
 * each case runs both ways and compares stdout bytes, stderr and the exit code.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN } from '../helpers/cli.js';
import { Teardown } from '../helpers/loopback.js';
import { bindDatagramSocket } from '../../src/net/datagram-socket.js';
import type { InetAddress } from '../../src/net/address.js';
import { closedUdpPort, freePort } from '../clients/peers.js';

const FULL = fileURLToPath(new URL('../fixtures/full-cli.mjs', import.meta.url));
const BUNDLE_LIST = fileURLToPath(new URL('../fixtures/bundle-list.cjs', import.meta.url));

const teardown = new Teardown();
afterEach(() => teardown.run());

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a script with `args`, stdin closed; also which dist/bundle/ files it read. */
async function node(script: string, args: string[]): Promise<Outcome & { bundles: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'sockit-quick-'));
  teardown.add(() => rmSync(dir, { recursive: true, force: true }));
  const list = join(dir, 'bundles');
  const child = spawn(process.execPath, ['-r', BUNDLE_LIST, script, ...args], {
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '', SOCKIT_BUNDLE_LIST: list },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  const [code] = (await once(child, 'close')) as [number | null];
  // a --json event's time is the one thing two runs may not share
  const stdout = Buffer.concat(out)
    .toString('latin1')
    .replace(/"ts":"[^"]*"/g, '"ts":"…"');
  const bundles = readFileSync(list, 'utf8').split('\n').filter(Boolean);
  return {
    code,
    stdout,
    stderr: Buffer.concat(err).toString(),
    bundles,
  };
}

/** Run `args` through the launcher and through the commander program; both outcomes. */
async function bothWays(
  args: string[],
): Promise<{ quick: Outcome; full: Outcome; bundles: string[] }> {
  const { bundles, ...quick } = await node(BIN, args);
  const { bundles: _, ...full } = await node(FULL, args);
  return { quick, full, bundles };
}

async function listen(port = 0): Promise<Server> {
  const server = createServer((s) => s.destroy());
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  teardown.add(() => new Promise<void>((done) => server.close(() => done())));
  return server;
}

const portOf = (server: Server): number => (server.address() as InetAddress).port;

/** Two listening servers on consecutive ports (bounded tries). */
async function consecutive(): Promise<number> {
  for (let tries = 0; tries < 20; tries += 1) {
    const first = await listen();
    const port = portOf(first);
    try {
      await listen(port + 1);
      return port;
    } catch {
      // taken: try elsewhere
    }
  }
  throw new Error('no two consecutive free ports in 20 tries');
}

describe('connect -z: the quick run and the commander program agree', () => {
  test.each([
    [['-z']],
    [['-zv']],
    [['-vz']],
    [['-z', '-v']],
    [['--zero', '--json']],
    [['-z', '-4']],
  ])('%j on an open and a refused port', async (flags) => {
    const open = portOf(await listen());
    const refused = await freePort();
    for (const port of [open, refused]) {
      const { quick, full, bundles } = await bothWays([
        'connect',
        ...flags,
        '127.0.0.1',
        String(port),
      ]);
      expect(bundles).toEqual(['quick-connect.cjs', 'quick-connect.cjs.cache']);
      expect(quick).toEqual(full);
      expect(quick.code).toBe(port === open ? 0 : 1);
    }
  });

  test('-zv over a port range and a list, in port order', async () => {
    const low = await consecutive();
    const refused = await freePort();
    const { quick, full, bundles } = await bothWays([
      'connect',
      '-zv',
      '127.0.0.1',
      `${low}-${low + 1}`,
      String(refused),
    ]);
    expect(bundles[0]).toBe('quick-connect.cjs');
    expect(quick).toEqual(full);
    const lines = [low, low + 1, refused]
      .sort((a, b) => a - b)
      .map((p) => `127.0.0.1 ${p} ${p === refused ? 'closed ECONNREFUSED' : 'open'}\n`);
    expect(quick).toEqual({ code: 0, stdout: '', stderr: lines.join('') });
  });

  test.each([
    [['-z', '-n', '127.0.0.1', '9']],
    [['-z', '127.0.0.1']],
    [['-z', '-4', '-6', '127.0.0.1', '9']],
    [['-z', '127.0.0.1', '0']],
    [['-z', 'bad host', '9']],
  ])('%j: the same one line and exit 2', async (args) => {
    const { quick, full } = await bothWays(['connect', ...args]);
    expect(quick).toEqual(full);
    expect(quick.code).toBe(2);
    expect(quick.stderr).toMatch(/^sockit: [^\n]+\n$/);
  });
});

describe('sendto host port message: the quick run and the commander program agree', () => {
  test.each([[[]], [['-n']], [['-v']]])('%j: the bytes arrive exact', async (flags) => {
    const server = await bindDatagramSocket({ family: 'IPv4', address: '127.0.0.1', port: 0 });
    teardown.add(() => server.close());
    const { port } = server.address as InetAddress;
    const received: Buffer[] = [];
    server.on('message', (data: Buffer) => received.push(Buffer.from(data)));
    const message = ['h\u00e9llo', 'w\u00f6rld \u2603'];
    const args = ['sendto', ...flags, '127.0.0.1', String(port), ...message];
    const { quick, full, bundles } = await bothWays(args);
    expect(bundles[0]).toBe('quick-sendto.cjs');
    expect(quick).toEqual(full);
    expect(quick.code).toBe(0);
    const nl = flags.includes('-n') ? '\n' : '';
    const one = message.map((m) => Buffer.from(`${m}${nl}`));
    // both runs' datagrams, two each, in order
    for (let tries = 0; received.length < 4 && tries < 100; tries += 1) {
      await once(server, 'message');
    }
    expect(received).toEqual([...one, ...one]);
  });

  test('to a closed port: the same outcome', async () => {
    const port = await closedUdpPort();
    const { quick, full } = await bothWays(['sendto', '-v', '127.0.0.1', String(port), 'x']);
    expect(quick).toEqual(full);
  });
});
