/**
 * A small, safe wrapper over the `unix-dgram` native addon: Node has no AF_UNIX
 * SOCK_DGRAM socket of its own. The addon is loaded lazily (only unix datagram
 * users pay for it), closing twice is harmless (the addon would crash), and
 * datagrams are sent with sendto(2) to a path.
 *
 * This is the engine's one import outside `node:*`, and it is a lazy `require`.
 */
import { createRequire } from 'node:module';
import { EventEmitter } from 'node:events';
import { getSystemErrorMap } from 'node:util';
import { basename, dirname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Buffer } from 'node:buffer';
import { MissingAddonError, bindError, errnoName, oneLine } from './errors.js';
import { clearStaleSocket, claimSocketFile, withSocketUmask, type BoundPath } from './unix-path.js';

interface AddonSocket extends EventEmitter {
  bind(path: string): void;
  connect(path: string): void;
  send(buf: Buffer, offset: number, length: number, path: string, cb: (err?: Error) => void): void;
  send(buf: Buffer, cb: (err?: Error) => void): void;
  close(): void;
}

interface Addon {
  createSocket(
    type: 'unix_dgram',
    listener?: (msg: Buffer, rinfo: { path?: string }) => void,
  ): AddonSocket;
}

let addon: Addon | undefined;

function load(): Addon {
  if (addon) return addon;
  try {
    addon = createRequire(import.meta.url)('unix-dgram') as Addon;
  } catch (err) {
    throw missingAddon(err);
  }
  return addon;
}

const TOOLCHAIN = 'apt install g++ make python3';

/** `dir` as a shell word. */
const shellWord = (dir: string): string => (/^[\w./-]+$/.test(dir) ? dir : `'${dir}'`);

/** The project whose `node_modules` holds `dir`; `dir` itself when it is in none. */
function projectOf(dir: string): string {
  const at = dir.lastIndexOf(`${sep}node_modules${sep}`);
  return at < 0 ? dir : dir.slice(0, at);
}

/**
 * Why the addon is missing and the one command that brings it back, for this
 * installation. npm drops an optional addon whose build failed (no C++ toolchain),
 * so a clone or a project needs `npm install` again, a global install `npm install -g`;
 * an addon that is there but does not load (never built, built for another Node)
 * needs `npm rebuild`.
 */
function missingAddon(err: unknown): MissingAddonError {
  const require = createRequire(import.meta.url);
  const what = 'unix datagram sockets need the unix-dgram addon, which';
  let installed: string | undefined;
  try {
    installed = dirname(require.resolve('unix-dgram/package.json'));
  } catch {
    // not installed at all
  }
  if (installed !== undefined) {
    const why = oneLine(err).replace(/^(.*?)\.(?:\s.*)?$/, '$1');
    const rebuild = `cd ${shellWord(projectOf(installed))} && npm rebuild unix-dgram`;
    return new MissingAddonError(
      `${what} does not load (${why}) — to rebuild it: ${TOOLCHAIN} && ${rebuild}`,
      err,
    );
  }
  const project = projectOf(resolve(fileURLToPath(new URL('../..', import.meta.url))));
  // npm keeps global packages in <prefix>/lib/node_modules
  const global = basename(project) === 'lib';
  const { name } = require('../../package.json') as { name: string };
  const again = global ? `npm install -g ${name}` : `cd ${shellWord(project)} && npm install`;
  return new MissingAddonError(
    `${what} is not installed (building it needs a C++ toolchain) — to get it: ${TOOLCHAIN} && ${again}`,
    err,
  );
}

/**
 * The addon reports errors with a negative errno *number* as `code` (and `1` for a
 * full receiver queue); turn them into Node-style system errors (`code: 'ENOENT'`).
 */
function systemError(err: unknown, path?: string): Error {
  const raw = err as Error & { code?: unknown; syscall?: unknown };
  if (typeof raw?.code !== 'number') return raw;
  const syscall = typeof raw.syscall === 'string' ? raw.syscall : 'send';
  const [code, text] =
    raw.code === 1
      ? ['EAGAIN', "the receiver's queue is full"]
      : (getSystemErrorMap().get(raw.code) ?? [`E${-raw.code}`, 'unknown error']);
  const e = new Error(`${syscall} ${code}: ${text}${path ? ` ${path}` : ''}`) as Error &
    NodeJS.ErrnoException;
  e.code = code;
  e.errno = raw.code === 1 ? undefined : raw.code;
  e.syscall = syscall;
  if (path) e.path = path;
  return e;
}

/** Largest datagram the addon receives whole (it cuts longer ones silently). */
export const UNIX_DGRAM_MAX = 65536;

/**
 * How long `send()` keeps retrying while the receiver's queue is full (EAGAIN: the
 * kernel queues only `net.unix.max_dgram_qlen` datagrams, often 10, per socket).
 */
export const SEND_RETRY_MS = 2000;

function noop(): void {}

/** An AF_UNIX datagram socket. Events: `message` (data, senderPath), `error`. */
export class UnixDgramSocket extends EventEmitter {
  readonly #sock: AddonSocket;
  #closed = false;
  /** Set while bind()/connect() run: the addon emits their failure synchronously. */
  #capture: ((err: unknown) => void) | undefined;

  constructor() {
    super();
    this.#sock = load().createSocket('unix_dgram');
    this.#sock.on('message', (msg: Buffer, rinfo: { path?: string }) =>
      this.emit('message', msg, rinfo.path ?? ''),
    );
    this.#sock.on('error', (err: unknown) => {
      if (this.#capture) this.#capture(err);
      else this.emit('error', systemError(err));
    });
  }

  /** Run a call whose failure the addon emits as a synchronous 'error'; throw it instead. */
  #sync(call: () => void, path: string): void {
    let failure: unknown;
    this.#capture = (err) => (failure ??= err);
    try {
      call();
    } catch (err) {
      failure ??= err;
    } finally {
      this.#capture = undefined;
    }
    if (failure !== undefined) throw systemError(failure, path);
  }

  /** Bind to a path; throws the system error (EADDRINUSE, ENOENT…). */
  bind(path: string): void {
    this.#sync(() => this.#sock.bind(path), path);
  }

  /** Connect to a path (send() then needs no destination); throws the system error. */
  connect(path: string): void {
    this.#sync(() => this.#sock.connect(path), path);
  }

  /**
   * Send one datagram to `path`. While the receiver's queue is full the send waits
   * and retries (up to {@link SEND_RETRY_MS}), as a blocking `sendto` would, keeping
   * the order of datagrams to that path; then it rejects with EAGAIN. With `wait:
   * false` (a server's reply) a full queue rejects with EAGAIN at once: nothing is
   * held for a peer that does not read. Other failures reject at once with the
   * system error (ECONNREFUSED, ENOENT…).
   */
  send(data: Buffer, path: string, opts: { wait?: boolean } = {}): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('socket is closed'));
    const wait = opts.wait !== false;
    const ahead = wait ? this.#waiting.get(path) : undefined;
    if (ahead) return this.#sendAfter(ahead, data, path);
    return new Promise((resolve, reject) => {
      this.#sock.send(data, 0, data.length, path, (err) => {
        if (!err) return resolve();
        const e = systemError(err, path);
        if (wait && errnoName(e) === 'EAGAIN')
          resolve(this.#sendAfter(this.#waiting.get(path), data, path));
        else reject(e);
      });
    });
  }

  /** Datagrams waiting for room at a receiver, by path (the last one queued). */
  readonly #waiting = new Map<string, Promise<void>>();

  #sendAfter(ahead: Promise<void> | undefined, data: Buffer, path: string): Promise<void> {
    const mine = (ahead ?? Promise.resolve()).catch(noop).then(() => this.#retry(data, path));
    this.#waiting.set(path, mine);
    const done = (): void => {
      if (this.#waiting.get(path) === mine) this.#waiting.delete(path);
    };
    mine.then(done, done);
    return mine;
  }

  async #retry(data: Buffer, path: string): Promise<void> {
    let delay = 1;
    for (let waited = 0; ; waited += delay, delay = Math.min(delay * 2, 64)) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (this.#closed) throw new Error('socket is closed');
      const err = await new Promise<unknown>((resolve) =>
        this.#sock.send(data, 0, data.length, path, resolve),
      );
      if (!err) return;
      const e = systemError(err, path);
      if (errnoName(e) !== 'EAGAIN' || waited + delay >= SEND_RETRY_MS) throw e;
    }
  }

  /** Close; a second call does nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#sock.close();
    } catch {
      // already closed by the addon
    }
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.#closed;
  }
}

/**
 * Bind a unix datagram socket at `path` the safe way, for servers and receiving
 * clients alike: a stale socket file is replaced (a live one, a file or a symlink
 * never), the file is created 0600 (then `mode`, when given), and a failure is a
 * one-line NetworkError. Release the returned `bound` with `releaseSocketFile()`.
 */
export async function bindUnixDgram(
  path: string,
  mode?: number,
): Promise<{ socket: UnixDgramSocket; bound: BoundPath }> {
  await clearStaleSocket(path);
  const socket = new UnixDgramSocket();
  try {
    withSocketUmask(() => socket.bind(path), mode);
  } catch (err) {
    socket.close();
    throw bindError(err, `unix://${path}`, 'bind');
  }
  return { socket, bound: await claimSocketFile(path) };
}
