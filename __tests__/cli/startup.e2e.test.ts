/**
 * What a quick client command costs at start: `sockit sendto host port x` and
 * `sockit connect -z host port` send or probe on Node's own handles and never load
 * node:net, the stream modules, dgram's cluster and child_process, nor make stdout
 * or stderr; with pending deprecations on (process.binding() would warn) they take
 * the public modules, quietly, with the same result. Neither starts the ESM loader.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN } from '../helpers/cli.js';
import { Teardown } from '../helpers/loopback.js';
import { bindDatagramSocket } from '../../src/net/datagram-socket.js';
import type { InetAddress } from '../../src/net/address.js';
import { freePort } from '../clients/peers.js';

const PRELOAD = fileURLToPath(new URL('../fixtures/module-list.cjs', import.meta.url));
const HEAVY = [
  'net',
  'stream',
  'cluster',
  'child_process',
  'tty',
  'internal/modules/esm/loader',
].map((m) => `NativeModule ${m}`);

const teardown = new Teardown();
afterEach(() => teardown.run());

/** Run the CLI with stdout and stderr on files, as a script's redirection makes them. */
async function runQuiet(args: string[], env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'sockit-startup-'));
  teardown.add(() => rmSync(dir, { recursive: true, force: true }));
  const list = join(dir, 'modules');
  const child = spawn(process.execPath, ['-r', PRELOAD, BIN, ...args], {
    env: { ...process.env, NO_COLOR: '', FORCE_COLOR: '', SOCKIT_MODULE_LIST: list, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const err: Buffer[] = [];
  child.stderr.on('data', (c: Buffer) => err.push(c));
  const [code] = (await once(child, 'close')) as [number | null];
  const modules = readFileSync(list, 'utf8').split('\n').filter(Boolean);
  return { code, stderr: Buffer.concat(err).toString(), modules };
}

describe('start-up of the quick client commands', () => {
  test.each([
    ['on the UDP handle', {}, false],
    ['through dgram under pending deprecations', { NODE_PENDING_DEPRECATION: '1' }, true],
  ])('sendto %s: the datagram arrives', async (_how, env, public_) => {
    const server = await bindDatagramSocket({ family: 'IPv4', address: '127.0.0.1', port: 0 });
    teardown.add(() => server.close());
    const arrived = once(server, 'message') as Promise<[Buffer]>;
    const { port } = server.address as InetAddress;
    const r = await runQuiet(['sendto', '127.0.0.1', String(port), 'x'], env);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect((await arrived)[0].toString()).toBe('x');
    if (public_) expect(r.modules).toContain('NativeModule dgram');
    // nor node:os, which only an errno number needs
    else expect(r.modules.filter((m) => [...HEAVY, 'NativeModule os'].includes(m))).toEqual([]);
  });

  test('connect -z on a closed port: exit 1, nothing heavy loaded', async () => {
    const port = await freePort();
    const r = await runQuiet(['connect', '-z', '127.0.0.1', String(port)]);
    expect(r).toMatchObject({ code: 1, stderr: '' });
    expect(r.modules.filter((m) => HEAVY.includes(m))).toEqual([]);
  });

  test('colour, when asked for, still comes: chalk is loaded on first use', async () => {
    const r = await runQuiet(['sendto', '255.255.255.255', '9', 'x'], { FORCE_COLOR: '1' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      // eslint-disable-next-line no-control-regex -- the colour's escape is what is checked
      /^\x1b\[31msockit: cannot send to udp:\/\/255\.255\.255\.255:9 — send E[A-Z]+ 255\.255\.255\.255:9/,
    );
  });
});
