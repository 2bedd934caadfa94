/**
 * Forwarding with socat and nc at either end: as the client of `sockit serve
 * --forward`, and as the upstream it forwards to.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { join } from 'node:path';
import { serve, stopAll, untilClosed, dial } from '../cli/serve-helpers.js';
import { echo, upstream, type Upstream } from '../cli/forward-helpers.js';
import { tempSocketPath } from '../helpers/loopback.js';
import { NC, SOCAT, killPeers, runPeer, startPeer } from './interop-helpers.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  await killPeers();
  await stopAll();
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function echoUpstream(): Promise<Upstream> {
  const u = await upstream(echo);
  cleanups.push(() => u.close());
  return u;
}

function tmpDir(): string {
  const t = tempSocketPath();
  cleanups.push(t.cleanup);
  return t.dir;
}

(SOCAT ? describe : describe.skip)('socat at either end', () => {
  test('socat as the client: tcp → sockit → tcp echo', async () => {
    const u = await echoUpstream();
    const s = await serve(['serve', 'tcp', '0', '--forward', u.url]);
    const r = await runPeer(
      'socat',
      ['-t', '5', '-', `TCP:127.0.0.1:${s.port}`],
      'through socat\n',
    );
    expect(r.stdout.toString()).toBe('through socat\n');
  });

  test('socat as the client of a unix relay to tcp', async () => {
    const u = await echoUpstream();
    const path = join(tmpDir(), 'relay.sock');
    await serve(['serve', 'unix', path, '--forward', u.url]);
    const r = await runPeer('socat', ['-t', '5', '-', `UNIX-CONNECT:${path}`], 'unix to tcp\n');
    expect(r.stdout.toString()).toBe('unix to tcp\n');
  });

  test('socat as the upstream: sockit exposes its unix socket on tcp', async () => {
    const path = join(tmpDir(), 'socat.sock');
    await startPeer('socat', ['-d', '-d', `UNIX-LISTEN:${path},fork`, 'EXEC:tr a-z A-Z'], {
      ready: /listening on/,
    });
    const s = await serve(['serve', 'tcp', '0', '--forward', `unix://${path}`]);
    const c = await dial({ port: s.port });
    const got = untilClosed(c);
    c.end('shout\n');
    expect((await got).toString()).toBe('SHOUT\n');
  });
});

(NC ? describe : describe.skip)('nc at either end', () => {
  test('nc as the client: half-closes on EOF and gets the echo', async () => {
    const u = await echoUpstream();
    const s = await serve(['serve', 'tcp', '0', '--forward', u.url]);
    const r = await runPeer('nc', ['-N', '127.0.0.1', String(s.port)], 'through nc\n');
    expect(r.stdout.toString()).toBe('through nc\n');
  });

  test('nc as the upstream: both directions and both ends of stream pass', async () => {
    const path = join(tmpDir(), 'nc.sock');
    const nc = await startPeer('nc', ['-lvNU', path], {
      input: 'from nc\n',
      ready: /Listening on/,
    });
    const s = await serve(['serve', 'tcp', '0', '--forward', `unix://${path}`]);
    const c = await dial({ port: s.port });
    const got = untilClosed(c);
    c.end('to nc\n');
    expect((await got).toString()).toBe('from nc\n');
    expect(await nc.exited).toBe(0);
    expect(nc.stdout().toString()).toBe('to nc\n');
  });
});
