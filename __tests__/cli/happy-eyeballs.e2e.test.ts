/**
 * Happy Eyeballs on every command that dials a name: a name whose first address is
 * blackholed (a listener whose accept queue is full, so the kernel drops the SYNs)
 * and whose second one is live costs about the 250 ms attempt delay, not the
 * connect timeout. Names resolve through a preload that plays /etc/hosts
 * (fixtures/hosts-preload.mjs); the blackhole is a Python listener that never
 * accepts (fixtures/blackhole.py).
 */
import { afterEach, expect, test } from '@jest/globals';
import { fileURLToPath } from 'node:url';
import { run } from '../helpers/cli.js';
import { testIf } from '../helpers/skip.js';
import { PYTHON, killPeers, startPeer } from '../interop/interop-helpers.js';
import { echo, upstream, type Upstream } from './forward-helpers.js';
import { dial, serve, untilClosed, useServeTeardown } from './serve-helpers.js';

const PRELOAD = new URL('../fixtures/hosts-preload.mjs', import.meta.url);
const BLACKHOLE = fileURLToPath(new URL('../fixtures/blackhole.py', import.meta.url));
const NO_PYTHON = PYTHON ? undefined : 'python3 is not installed (it plays the blackhole)';
const t = testIf(NO_PYTHON, import.meta.url);

/** The connect timeout the commands get: every assertion is "well under" it. */
const TIMEOUT_S = 10;
/** Well under the timeout, with room for a loaded machine's start-up of node and sockit. */
const WELL_UNDER = TIMEOUT_S * 1000 * 0.6;

const { defer } = useServeTeardown();
afterEach(() => killPeers());

/** The environment that makes `hosts` resolve (name → addresses, in resolver order). */
function resolving(hosts: Record<string, string[]>): Record<string, string> {
  const preload = `--import ${JSON.stringify(PRELOAD.href)}`;
  return {
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} ${preload}`.trim(),
    SOCKIT_TEST_HOSTS: JSON.stringify(hosts),
  };
}

/** A live echo server on 127.0.0.1 and a blackhole on 127.0.0.2, same port. */
async function liveAndBlackholed(): Promise<Upstream> {
  const live = await upstream(echo);
  defer(() => live.close());
  await startPeer('python3', [BLACKHOLE, String(live.port), '127.0.0.2'], {
    keepStdin: true,
    ready: /blackholed/,
  });
  return live;
}

const TWO = { 'two.test': ['127.0.0.2', '127.0.0.1'] };

t('connect: the blackholed first address costs the attempt delay, not the timeout', async () => {
  const live = await liveAndBlackholed();
  const began = performance.now();
  const r = await run(['connect', '-w', String(TIMEOUT_S), 'two.test', String(live.port)], {
    input: 'over the live one\n',
    env: resolving(TWO),
  });
  const took = performance.now() - began;
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout.toString()).toBe('over the live one\n');
  expect(took).toBeLessThan(WELL_UNDER);
});

t('send and connect -z: the same race', async () => {
  const live = await liveAndBlackholed();
  const env = resolving(TWO);
  const port = String(live.port);
  let began = performance.now();
  const sent = await run(['send', '-w', String(TIMEOUT_S), 'two.test', port, 'ping'], { env });
  expect(performance.now() - began).toBeLessThan(WELL_UNDER);
  expect(sent.code).toBe(0);
  expect(sent.stdout.toString()).toBe('ping');
  began = performance.now();
  const z = await run(['connect', '-z', '--json', '-w', String(TIMEOUT_S), 'two.test', port], {
    env,
  });
  expect(performance.now() - began).toBeLessThan(WELL_UNDER);
  expect(z.code).toBe(0);
  const event = JSON.parse(z.stdout.toString()) as { peer: { address: string }; state: string };
  expect(event.state).toBe('open');
  expect(event.peer.address).toBe('127.0.0.1');
});

t('serve --forward tcp://name: the upstream is dialed the same way', async () => {
  const live = await liveAndBlackholed();
  const target = `tcp://two.test:${live.port}`;
  const args = ['serve', 'tcp', '0', '--forward', target, '--connect-timeout', String(TIMEOUT_S)];
  const s = await serve(args, resolving(TWO));
  const began = performance.now();
  const client = await dial({ port: s.port });
  const reply = untilClosed(client);
  client.end('relayed');
  expect((await reply).toString()).toBe('relayed');
  expect(performance.now() - began).toBeLessThan(WELL_UNDER);
});

t('-w bounds the whole race: two blackholed addresses time out once, not twice', async () => {
  const live = await upstream(echo);
  defer(() => live.close());
  const port = String(live.port);
  await startPeer('python3', [BLACKHOLE, port, '127.0.0.2', '127.0.0.3'], {
    keepStdin: true,
    ready: /blackholed/,
  });
  const env = resolving({ 'dark.test': ['127.0.0.2', '127.0.0.3'] });
  const began = performance.now();
  const r = await run(['connect', '-w', '3', 'dark.test', port], { env });
  const took = performance.now() - began;
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/ETIMEDOUT/);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(took).toBeGreaterThanOrEqual(2900);
  // one after the other, the two would take 6 s
  expect(took).toBeLessThan(6000);
});

t('-4 and -6 still pin the family', async () => {
  const live = await upstream(echo); // 127.0.0.1 only
  defer(() => live.close());
  const env = resolving({ 'dual.test': ['::1', '127.0.0.1'] });
  const port = String(live.port);
  const v4 = await run(['connect', '-4', 'dual.test', port], { input: 'four\n', env });
  expect(v4.code).toBe(0);
  expect(v4.stdout.toString()).toBe('four\n');
  const v6 = await run(['connect', '-6', 'dual.test', port], { input: 'six\n', env });
  expect(v6.code).toBe(1);
  expect(v6.stderr).toContain('::1');
  expect(v6.stderr).not.toContain('127.0.0.1');
});

test('--help says the addresses race and the timeout covers them all', async () => {
  for (const args of [
    ['connect', '--help'],
    ['send', '--help'],
    ['serve', 'tcp', '--help'],
  ]) {
    const r = await run(args);
    expect(r.code).toBe(0);
    expect(r.stdout.toString().replace(/\s+/g, ' ')).toMatch(
      /race 250 ms apart.{0,3}Happy Eyeballs/,
    );
  }
});
