/**
 * Foreign programs for the interop tests: which of nc (OpenBSD), ncat, socat and
 * python3 are here, a way to start one as a server and wait for its own "ready"
 * line, and a way to run one as a client with bounded time. Everything started is
 * killed by `killPeers()` (call it in afterEach).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Buffer } from 'node:buffer';

/** Is `cmd` on PATH? */
export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** OpenBSD netcat (the flags used here: -N, -U, -W, -l without -p). */
export const NC =
  hasCommand('nc') && /OpenBSD/.test(spawnSync('nc', ['-h']).stderr?.toString() ?? '');
export const NCAT = hasCommand('ncat');
export const SOCAT = hasCommand('socat');
export const PYTHON = hasCommand('python3');

const peers = new Set<ChildProcess>();

/** Kill every peer still running and wait for it to go. */
export async function killPeers(): Promise<void> {
  await Promise.all(
    [...peers].map(async (child) => {
      if (child.exitCode === null && child.signalCode === null) {
        const closed = once(child, 'close');
        child.kill('SIGKILL');
        await closed;
      }
      peers.delete(child);
    }),
  );
}

/** A running foreign program. */
export interface Peer {
  readonly child: ChildProcess;
  /** Everything it wrote on stdout so far. */
  stdout(): Buffer;
  /** Everything it wrote on stderr so far. */
  stderr(): string;
  /** Resolves when stdout holds at least `n` bytes (rejects if it exits first). */
  stdoutAtLeast(n: number): Promise<Buffer>;
  /** Resolves with the exit code (or signal name) once it has exited. */
  readonly exited: Promise<number | string>;
}

/**
 * Start `bin args…` with `input` on stdin (ended unless `keepStdin`), and wait until
 * its stderr (or stdout) matches `ready` when given.
 */
export async function startPeer(
  bin: string,
  args: string[],
  opts: { input?: string | Uint8Array; keepStdin?: boolean; ready?: RegExp } = {},
): Promise<Peer> {
  const child = spawn(bin, args, { stdio: 'pipe' });
  peers.add(child);
  const out: Buffer[] = [];
  let err = '';
  const waiters = new Set<() => void>();
  const poke = (): void => {
    for (const w of waiters) w();
  };
  child.stdout!.on('data', (c: Buffer) => {
    out.push(c);
    poke();
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (c: string) => {
    err += c;
    poke();
  });
  child.stdin!.on('error', () => undefined);
  if (opts.input !== undefined) child.stdin!.write(opts.input);
  if (!opts.keepStdin) child.stdin!.end();
  const exited = new Promise<number | string>((resolve) =>
    child.once('close', (code, signal) => {
      peers.delete(child);
      poke();
      resolve(code ?? String(signal));
    }),
  );
  const until = (ok: () => boolean, what: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (ok()) {
          waiters.delete(check);
          resolve();
        } else if (child.exitCode !== null || child.signalCode !== null) {
          waiters.delete(check);
          reject(new Error(`${bin} exited before ${what}: ${err}`));
        }
      };
      waiters.add(check);
      check();
    });
  const stdout = (): Buffer => Buffer.concat(out);
  if (opts.ready) {
    const re = opts.ready;
    await until(() => re.test(err) || re.test(stdout().toString()), `matching ${re}`);
  }
  return {
    child,
    stdout,
    stderr: () => err,
    stdoutAtLeast: async (n) => {
      await until(() => stdout().length >= n, `${n} bytes on stdout`);
      return stdout();
    },
    exited,
  };
}

/** Run a foreign client to its end (killed after `timeoutMs`); resolves with its stdout. */
export async function runPeer(
  bin: string,
  args: string[],
  input: string | Uint8Array = '',
  timeoutMs = 10_000,
): Promise<{ code: number | string; stdout: Buffer; stderr: string }> {
  const p = await startPeer(bin, args, { input });
  const timer = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
  const code = await p.exited;
  clearTimeout(timer);
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}
