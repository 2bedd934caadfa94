/**
 * `sockit serve` in-process: main() with test streams and a test signal source,
 * so the signal handling (first signal drains, second stops at once, listeners
 * removed afterwards) and the help texts are checked without spawning.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { PassThrough } from 'node:stream';
import { once } from 'node:events';
import { Buffer } from 'node:buffer';
import { main } from '../../src/cli/main.js';
import type { SignalSource } from '../../src/cli/context.js';
import { onStopSignals } from '../../src/cli/serve-signals.js';
import { ServeLog } from '../../src/cli/serve-log.js';
import { Output } from '../../src/cli/output.js';
import { exchange } from '../helpers/loopback.js';
import { dial, untilClosed } from './serve-helpers.js';
import { ISO_TS } from '../helpers/cli.js';

type Sig = 'SIGINT' | 'SIGTERM' | 'SIGHUP';

/** A signal source a test fires by hand; counts its listeners. */
class TestSignals implements SignalSource {
  readonly listeners = new Map<Sig, Set<() => void>>([
    ['SIGINT', new Set()],
    ['SIGTERM', new Set()],
    ['SIGHUP', new Set()],
  ]);
  on(signal: Sig, fn: () => void): void {
    this.listeners.get(signal)!.add(fn);
  }
  off(signal: Sig, fn: () => void): void {
    this.listeners.get(signal)!.delete(fn);
  }
  fire(signal: Sig): void {
    for (const fn of [...this.listeners.get(signal)!]) fn();
  }
  get count(): number {
    return this.listeners.get('SIGINT')!.size + this.listeners.get('SIGTERM')!.size;
  }
}

interface Run {
  readonly code: Promise<number>;
  readonly signals: TestSignals;
  stderr(): string;
  stdout(): Buffer;
  waitFor(re: RegExp): Promise<RegExpExecArray>;
}

function sockit(...args: string[]): Run {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let err = '';
  const out: Buffer[] = [];
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  stdout.on('data', (c: Buffer) => out.push(c));
  const signals = new TestSignals();
  const code = main(['node', 'sockit', ...args], { stdin, stdout, stderr, env: {} }, signals);
  running.push(code);
  return {
    code,
    signals,
    stderr: () => err,
    stdout: () => Buffer.concat(out),
    waitFor: (re) =>
      new Promise((resolve, reject) => {
        const check = (): boolean => {
          const m = re.exec(err);
          if (m) {
            stderr.off('data', check);
            resolve(m);
          }
          return m !== null;
        };
        if (check()) return;
        stderr.on('data', check);
        void code.then(() => {
          if (!check()) reject(new Error(`ended before ${re}: ${err}`));
        });
      }),
  };
}

const running: Promise<number>[] = [];
const pending: Run[] = [];
afterEach(async () => {
  for (const r of pending.splice(0)) {
    r.signals.fire('SIGINT');
    r.signals.fire('SIGINT');
  }
  await Promise.allSettled(running.splice(0));
});

async function started(...args: string[]): Promise<Run & { port: number }> {
  const r = sockit(...args);
  pending.push(r);
  const [, port] = await r.waitFor(/listening on \S+:(\d+)\n/);
  return { ...r, port: Number(port) };
}

describe('signals (in-process)', () => {
  test('the first signal drains and exits 0; the listeners are removed', async () => {
    const r = await started('serve', 'tcp', '0');
    expect(r.signals.count).toBe(2);
    expect((await exchange({ port: r.port }, 'hi')).toString()).toBe('hi');
    r.signals.fire('SIGTERM');
    expect(await r.code).toBe(0);
    expect(r.signals.count).toBe(0);
    expect(r.stderr()).toMatch(
      /^listening on tcp:\/\/127\.0\.0\.1:\d+\nstopped: 1 connection, 0 refused, 0 errors, 2 bytes in, 2 bytes out\n$/,
    );
    expect(r.stdout().length).toBe(0);
  });

  test('a second SIGINT cuts the drain short: 130, open clients closed', async () => {
    const r = await started('serve', 'tcp', '0', '--drain-timeout', '1m');
    const sock = await dial({ port: r.port });
    const closed = untilClosed(sock);
    const served = once(sock, 'data');
    sock.write('x');
    await served;
    r.signals.fire('SIGINT');
    await r.waitFor(/stopping: waiting up to 60s for 1 open request/);
    r.signals.fire('SIGINT');
    expect(await r.code).toBe(130);
    await closed;
    expect(r.signals.count).toBe(0);
  });

  test('a second SIGTERM gives 143', async () => {
    const r = await started('serve', 'tcp', '0');
    const sock = await dial({ port: r.port });
    const closed = untilClosed(sock);
    const served = once(sock, 'data');
    sock.write('x');
    await served;
    r.signals.fire('SIGTERM');
    r.signals.fire('SIGTERM');
    expect(await r.code).toBe(143);
    await closed;
  });

  test('a bind failure removes the listeners too', async () => {
    const first = await started('serve', 'tcp', '0');
    const r = sockit('serve', 'tcp', String(first.port));
    expect(await r.code).toBe(1);
    expect(r.signals.count).toBe(0);
    expect(r.stderr()).toMatch(/address in use \(EADDRINUSE\)\n$/);
  });
});

describe('onStopSignals', () => {
  test('first, then again for every later signal; the remover is idempotent', () => {
    const signals = new TestSignals();
    const seen: string[] = [];
    const remove = onStopSignals(
      signals,
      (s) => seen.push(`first ${s}`),
      (s) => seen.push(`again ${s}`),
    );
    signals.fire('SIGTERM');
    signals.fire('SIGINT');
    signals.fire('SIGTERM');
    expect(seen).toEqual(['first SIGTERM', 'again SIGINT', 'again SIGTERM']);
    remove();
    remove();
    expect(signals.count).toBe(0);
  });
});

describe('ServeLog', () => {
  function log(opts: { json?: boolean; quiet?: boolean; datagram?: boolean }) {
    const stderr = new PassThrough();
    let text = '';
    stderr.on('data', (c: Buffer) => (text += c.toString()));
    const out = new Output({
      stdin: new PassThrough(),
      stdout: new PassThrough(),
      stderr,
      env: { NO_COLOR: '1' },
    });
    out.quiet = opts.quiet ?? false;
    const l = new ServeLog(out, {
      json: opts.json ?? false,
      verbose: false,
      handlerName: 'echo',
      datagram: opts.datagram ?? false,
    });
    return { l, text: () => text };
  }
  const stats = { requests: 3, rejected: 1, errors: 0, bytesIn: 10, bytesOut: 20 };

  test('summary in text, in JSON, and not at all with --quiet', () => {
    const text = log({ datagram: true });
    text.l.summary(stats, 'SIGINT');
    expect(text.text()).toBe(
      'stopped: 3 datagrams, 1 refused, 0 errors, 10 bytes in, 20 bytes out\n',
    );
    const json = log({ json: true });
    json.l.summary(stats, 'SIGTERM');
    expect(JSON.parse(json.text())).toEqual({
      event: 'summary',
      ts: expect.stringMatching(ISO_TS),
      signal: 'SIGTERM',
      ...stats,
    });
    const quiet = log({ quiet: true });
    quiet.l.summary(stats, 'SIGINT');
    expect(quiet.text()).toBe('');
  });

  test('the banner prints even with --quiet; in JSON it is the listening event', () => {
    const quiet = log({ quiet: true });
    quiet.l.listening('udp://[::1]:53', {});
    expect(quiet.text()).toBe('listening on udp://[::1]:53\n');
    const json = log({ json: true });
    json.l.listening('tcp://127.0.0.1:1', { mode: 'async' });
    expect(JSON.parse(json.text())).toEqual({
      event: 'listening',
      ts: expect.stringMatching(ISO_TS),
      url: 'tcp://127.0.0.1:1',
      mode: 'async',
    });
  });
});

describe('help', () => {
  test.each([
    [['serve'], /sockit serve tcp 9999 -e upper/],
    [['serve', 'tcp'], /sockit serve tcp 9999 -e threaded-echo -m threading/],
    [['serve', 'udp'], /sockit serve udp 9999 -e upper/],
    [['serve', 'unix'], /sockit serve unix \/tmp\/dg\.sock --datagram/],
  ])('sockit %j --help shows examples', async (args, example) => {
    const r = sockit(...args, '--help');
    expect(await r.code).toBe(0);
    const text = r.stdout().toString();
    expect(text).toMatch(/Examples:/);
    expect(text).toMatch(example);
    if (args.length > 1) expect(text).toMatch(/Handlers \(-e\):\n {2}echo/);
  });
});
