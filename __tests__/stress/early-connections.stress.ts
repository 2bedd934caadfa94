/**
 * Early connections (issue: "a connection made between bind and the banner is
 * reset"): for each stream transport and mode, 20 fresh starts with a client that
 * tries to connect every millisecond from the moment the server is spawned. The
 * first connection that gets through must be served (its bytes echoed), never reset.
 * TCP needs its port before the server prints it: a port the kernel just handed out
 * (bound to port 0, then released) is used, and a start that loses it to another
 * process (EADDRINUSE) is retried with a fresh one.
 */
import { afterAll, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { tempSocketPath } from '../helpers/loopback.js';
import { start } from '../helpers/cli.js';
import { figure, kill } from './stress-helpers.js';

const STARTS = 20;
const MODES = ['async', 'sequential', 'threading', 'forking'] as const;
const cleanups: (() => void)[] = [];
afterAll(() => cleanups.forEach((c) => c()));

/** A port the kernel considers free right now. */
async function freshPort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as { port: number };
  srv.close();
  await once(srv, 'close');
  return port;
}

type Target = { port: number; host: string } | { path: string };

/** One attempt: connected (the socket), or the connect error's code. */
function tryConnect(target: Target): Promise<Socket | string> {
  return new Promise((resolve) => {
    const s = 'path' in target ? connect(target.path) : connect(target.port, target.host);
    s.once('connect', () => resolve(s));
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });
}

/** Send `text` and read until the peer ends; 'reset' when the connection is reset. */
function echoOf(s: Socket, text: string): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    s.setEncoding('utf8');
    s.on('data', (c: string) => (got += c));
    s.once('error', () => resolve('reset'));
    s.once('end', () => resolve(got));
    s.end(text);
  });
}

type Outcome = 'served' | 'reset' | 'never-connected' | 'bind-lost';

async function oneStart(transport: 'tcp' | 'unix', mode: string, i: number): Promise<Outcome> {
  let target: Target;
  if (transport === 'unix') {
    const tmp = tempSocketPath(`early-${i}.sock`);
    cleanups.push(tmp.cleanup);
    target = { path: tmp.path };
  } else target = { port: await freshPort(), host: '127.0.0.1' };
  const where = 'path' in target ? ['unix', target.path] : ['tcp', String(target.port)];
  const child = start(['serve', ...where, '-m', mode, '-w', '1', '-q'], { keepStdin: true });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (c: string) => (stderr += c));
  try {
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && child.exitCode === null) {
      const got = await tryConnect(target);
      if (typeof got !== 'string') {
        const reply = await echoOf(got, `early ${i}\n`);
        return reply === `early ${i}\n` ? 'served' : 'reset';
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    return /address already in use/i.test(stderr) ? 'bind-lost' : 'never-connected';
  } finally {
    await kill(child);
  }
}

describe('early connections: 20 fresh starts, a client polling connect every 1 ms', () => {
  const cases = (['tcp', 'unix'] as const).flatMap((t) => MODES.map((m) => [t, m] as const));
  test.each(cases)(
    '%s, %s: the first connection that gets through is served',
    async (transport, mode) => {
      const counts: Record<Outcome, number> = {
        served: 0,
        reset: 0,
        'never-connected': 0,
        'bind-lost': 0,
      };
      let starts = 0;
      // a start whose port was taken in between does not count; at most 10 such retries
      for (let tries = 0; starts < STARTS && tries < STARTS + 10; tries++) {
        const outcome = await oneStart(transport, mode, tries);
        counts[outcome] += 1;
        if (outcome !== 'bind-lost') starts += 1;
      }
      figure(`early-connections ${transport} ${mode}`, { starts, ...counts });
      expect(starts).toBe(STARTS);
      expect(counts.reset).toBe(0);
      expect(counts['never-connected']).toBe(0);
      expect(counts.served).toBe(STARTS);
    },
    180_000,
  );
});
