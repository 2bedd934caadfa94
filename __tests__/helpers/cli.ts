/** Spawn the built CLI (dist/) and capture stdout bytes, stderr text and the exit code. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Buffer } from 'node:buffer';
import { once } from 'node:events';

export const BIN = fileURLToPath(new URL('../../bin/sockit.js', import.meta.url));

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

export interface RunOptions {
  input?: Uint8Array | string;
  env?: Record<string, string>;
  /** Keep stdin open (do not end it). */
  keepStdin?: boolean;
}

/** Start `sockit args…` with NO_COLOR=1. */
export function start(args: string[], opts: RunOptions = {}): ChildProcessWithoutNullStreams {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '', ...opts.env },
    stdio: 'pipe',
  });
  child.stdin.on('error', () => undefined);
  if (opts.input !== undefined) child.stdin.write(opts.input);
  if (!opts.keepStdin) child.stdin.end();
  return child;
}

/** Wait for a started CLI to exit and collect its output. */
export async function finish(child: ChildProcessWithoutNullStreams): Promise<RunResult> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  return { code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() };
}

/** Run `sockit args…` to completion. */
export function run(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return finish(start(args, opts));
}

/**
 * Start a server command and wait for its `listening on …` banner on stderr.
 * Returns the child, the banner URL, and the port (for tcp/udp).
 */
export async function startServer(
  args: string[],
  opts: RunOptions = {},
): Promise<{
  child: ChildProcessWithoutNullStreams;
  url: string;
  port: number;
  stderr: () => string;
}> {
  const child = start(args, { keepStdin: true, ...opts });
  let text = '';
  child.stderr.setEncoding('utf8');
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (c: string): void => {
      text += c;
      const m = /listening on (\S+)/.exec(text);
      if (m) {
        child.stderr.off('data', onData);
        resolve(m[1]!);
      }
    };
    child.stderr.on('data', onData);
    child.once('close', (code) =>
      reject(new Error(`server exited (${code}) before listening: ${text}`)),
    );
  });
  child.stderr.on('data', (c: string) => (text += c));
  const port = Number(/:(\d+)$/.exec(url)?.[1] ?? 0);
  return { child, url, port, stderr: () => text };
}

/** The `ts` of a JSON event: ISO 8601 with milliseconds, UTC. */
export const ISO_TS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
