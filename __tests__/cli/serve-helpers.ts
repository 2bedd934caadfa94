/** Helpers for the `sockit serve` black-box tests: running servers, stderr waits, clients. */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { Buffer } from 'node:buffer';
import { afterEach } from '@jest/globals';
import { startServer } from '../helpers/cli.js';
import { tempSocketPath } from '../helpers/loopback.js';

/** A running `sockit serve` child. */
export interface Served {
  readonly child: ChildProcessWithoutNullStreams;
  readonly url: string;
  readonly port: number;
  readonly stderr: () => string;
  /** Everything the child wrote on stdout so far (must stay empty). */
  readonly stdout: () => Buffer;
  /** Resolves with the exit code (or the signal name) once the child has exited. */
  readonly exited: Promise<number | string>;
  /** Wait until stderr matches `re` (fails if the child exits first). */
  waitFor(re: RegExp): Promise<RegExpExecArray>;
}

/** Servers started by a test file, killed in `afterEach` with `stopAll()`. */
const running = new Set<ChildProcessWithoutNullStreams>();

/** Start `sockit …args` and wait for its banner (text, or the JSON `listening` event). */
export async function serve(args: string[], env?: Record<string, string>): Promise<Served> {
  const json = args.includes('--json');
  const started = json ? await startJson(args) : await startServer(args, env ? { env } : {});
  const { child } = started;
  running.add(child);
  const out: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  const exited = new Promise<number | string>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve(child.exitCode ?? String(child.signalCode));
      return;
    }
    child.once('close', (code, signal) => {
      running.delete(child);
      resolve(code ?? String(signal));
    });
  });
  return {
    ...started,
    stdout: () => Buffer.concat(out),
    exited,
    waitFor: (re) => waitForText(child, started.stderr, re),
  };
}

async function startJson(args: string[]): Promise<{
  child: ChildProcessWithoutNullStreams;
  url: string;
  port: number;
  stderr: () => string;
}> {
  // startServer() looks for the text banner; with --json the banner is an event
  const { start } = await import('../helpers/cli.js');
  const child = start(args, { keepStdin: true });
  let text = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (c: string) => (text += c));
  const stderr = (): string => text;
  const [, url] = await waitForText(
    child,
    stderr,
    /"event":"listening","ts":"[^"]+","url":"([^"]+)"/,
  );
  return { child, url: url!, port: Number(/:(\d+)$/.exec(url!)?.[1] ?? 0), stderr };
}

/** Resolve when `text()` matches `re`, re-checking on every stderr chunk. */
export function waitForText(
  child: ChildProcessWithoutNullStreams,
  text: () => string,
  re: RegExp,
): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const m = re.exec(text());
      if (m) {
        cleanup();
        resolve(m);
      }
    };
    const onClose = (): void => {
      cleanup();
      const m = re.exec(text());
      if (m) resolve(m);
      else reject(new Error(`exited before stderr matched ${re}: ${text()}`));
    };
    const cleanup = (): void => {
      child.stderr.off('data', check);
      child.off('close', onClose);
    };
    // registered after the accumulating listener, so text() already holds the chunk
    child.stderr.on('data', check);
    child.once('close', onClose);
    check();
  });
}

/** Kill every server still running (SIGKILL: tests that stop gracefully wait themselves). */
export async function stopAll(): Promise<void> {
  const closing = [...running].map(async (child) => {
    if (child.exitCode === null && child.signalCode === null) {
      const closed = once(child, 'close');
      child.kill('SIGKILL');
      await closed;
    }
    running.delete(child);
  });
  await Promise.all(closing);
}

/** Stop a server with a signal and return its exit code. */
export async function stop(
  s: Served,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<number | string> {
  s.child.kill(signal);
  return s.exited;
}

/** A connected TCP or unix client. */
export async function dial(
  target: { port: number; host?: string } | { path: string },
): Promise<Socket> {
  const socket =
    'path' in target ? connect(target.path) : connect(target.port, target.host ?? '127.0.0.1');
  await once(socket, 'connect');
  return socket;
}

/** Read from `socket` until at least `n` bytes have arrived. */
export async function readBytes(socket: Socket, n: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  for await (const c of socket) {
    chunks.push(c as Buffer);
    got += (c as Buffer).length;
    if (got >= n) break;
  }
  return Buffer.concat(chunks);
}

/** Wait for a stream client to be closed by the server; resolves with the bytes it got. */
export function untilClosed(socket: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => undefined);
  return new Promise((resolve) => socket.once('close', () => resolve(Buffer.concat(chunks))));
}

/** A UDP client socket bound to an ephemeral port. */
export async function udpClient(type: 'udp4' | 'udp6' = 'udp4'): Promise<UdpSocket> {
  const socket = createSocket(type);
  socket.bind(0, type === 'udp4' ? '127.0.0.1' : '::1');
  await once(socket, 'listening');
  return socket;
}

/** Send one datagram and wait for one reply. */
export async function udpAsk(
  socket: UdpSocket,
  port: number,
  data: Uint8Array | string,
  host = '127.0.0.1',
): Promise<Buffer> {
  const reply = once(socket, 'message');
  socket.send(data, port, host);
  const [msg] = (await reply) as [Buffer];
  return msg;
}

/** The NDJSON events a `--json` server wrote on stderr. */
export function jsonEvents(stderr: string): Record<string, unknown>[] {
  return stderr
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/**
 * The per-test teardown every serve suite needs, registered once: servers started
 * with `serve()` are stopped and everything passed to `defer()` is closed, in
 * reverse order, after each test. `tmp()` and `udp()` register their own cleanup.
 */
export function useServeTeardown(): {
  defer: (fn: () => unknown) => void;
  tmp: () => { dir: string; path: string };
  udp: (type?: 'udp4' | 'udp6') => Promise<UdpSocket>;
} {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    await stopAll();
    for (const fn of cleanups.splice(0).reverse()) await fn();
  });
  const defer = (fn: () => unknown): void => void cleanups.push(fn);
  return {
    defer,
    tmp() {
      const t = tempSocketPath();
      defer(t.cleanup);
      return t;
    },
    async udp(type = 'udp4') {
      const s = await udpClient(type);
      defer(() => s.close());
      return s;
    },
  };
}
