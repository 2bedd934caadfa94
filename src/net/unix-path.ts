/**
 * Unix socket files: the checks before binding (stale socket replaced, live one
 * never taken over, non-sockets and symlinks never touched) and removal on close.
 */
import { lstat, unlink, link, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { Buffer } from 'node:buffer';
import { connect } from 'node:net';
import type { Stats } from 'node:fs';
import { checkUnixPath, UNIX_PATH_MAX } from './address.js';
import { ERR, NetworkError, UnsupportedError, UsageError, errnoName } from './errors.js';

/** Refuse abstract names: Node pads them to 108 bytes, so other programs cannot reach them. */
export function checkBindablePath(path: string): string {
  if (path.startsWith('@') || path.startsWith('\0')) {
    throw new UnsupportedError(
      `abstract unix socket names are not supported — Node pads '${path}' to 108 bytes, so Python, socat and nc could not reach it; use a path`,
    );
  }
  return checkUnixPath(path);
}

function inUse(path: string, why: string, cause?: unknown): NetworkError {
  return new NetworkError(`address in use — unix://${path}: ${why}`, cause, ERR.ADDRESS_IN_USE);
}

/** What `connect()` on the path says: undefined when something answered. */
function probe(path: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(undefined);
    });
    s.once('error', (err) => resolve(errnoName(err) ?? 'EUNKNOWN'));
  });
}

/**
 * Make `path` free to bind: nothing there, or a stale socket that nobody answers
 * on (then unlinked). A live socket, a regular file, a directory or a symlink is
 * left alone and reported as "address in use".
 */
export async function clearStaleSocket(path: string): Promise<void> {
  let st: Stats;
  try {
    st = await lstat(path);
  } catch (err) {
    if (errnoName(err) === 'ENOENT') return;
    throw new NetworkError(`cannot use unix://${path} — ${errnoName(err) ?? String(err)}`, err);
  }
  if (st.isSymbolicLink())
    throw inUse(path, 'it is a symbolic link, which sockit never follows or replaces');
  if (!st.isSocket())
    throw inUse(path, 'a file that is not a socket is there, and sockit never deletes it');
  const answer = await probe(path);
  if (answer === undefined) throw inUse(path, 'a server is listening on it');
  if (answer === 'EPROTOTYPE') throw inUse(path, 'a datagram socket is bound to it');
  if (answer !== 'ECONNREFUSED') throw inUse(path, `connect said ${answer}`);
  await unlink(path).catch((err: unknown) => {
    if (errnoName(err) !== 'ENOENT') throw err;
  });
}

/** Identity of the socket file we bound, so we only ever unlink our own. */
export interface BoundPath {
  readonly path: string;
  readonly ino: number;
  readonly dev: number;
  /** Inode numbers are reused at once after an unlink: the change time tells files apart. */
  readonly ctimeMs: number;
}

/**
 * Record the bound socket file (its mode was set by the umask at the bind: nothing
 * is ever chmod-ed by path, which a symlink swapped in could redirect). If what is
 * at `path` is no longer a socket, it is left alone and the bind fails.
 */
export async function claimSocketFile(path: string): Promise<BoundPath> {
  const st = await lstat(path);
  if (!st.isSocket()) {
    throw new NetworkError(
      `cannot use unix://${path} — it was replaced by something that is not a socket right after the bind; left alone`,
      undefined,
      ERR.BIND,
    );
  }
  return { path, ino: st.ino, dev: st.dev, ctimeMs: st.ctimeMs };
}

/** Unlink the socket file if it is still the one we bound. */
export async function releaseSocketFile(bound: BoundPath | undefined): Promise<void> {
  if (!bound) return;
  try {
    const st = await lstat(bound.path);
    const ours = st.ino === bound.ino && st.dev === bound.dev && st.ctimeMs === bound.ctimeMs;
    if (st.isSocket() && ours) await unlink(bound.path);
  } catch {
    // gone already: nothing to release
  }
}

/** The default mode of a socket file sockit creates. */
export const SOCKET_MODE = 0o600;

/**
 * Run `bind` with the umask that gives the socket file `mode` (default 0600) from the
 * first instant: bind(2) creates it 0777 less the umask. Only permission bits.
 */
export function withSocketUmask<T>(bind: () => T, mode = SOCKET_MODE): T {
  const old = process.umask(0o777 & ~mode);
  try {
    return bind();
  } finally {
    process.umask(old);
  }
}

const ALIAS_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789';

/**
 * A random private name next to `path` for a stream server to bind at. libuv
 * unlinks the path a pipe server was bound to when the server closes, whatever is
 * there by then (another server's socket, a file put there since); bound at this
 * alias and published under `path` with {@link publishSocket}, the server's close
 * unlinks only the alias. The name is as long as sun_path leaves room for, up to 16
 * characters, and never longer than `path`'s own name: it always fits. A bind at a
 * taken alias fails (EADDRINUSE), and the caller tries another.
 */
export function bindingAlias(path: string): string {
  const dir = dirname(path);
  const room = UNIX_PATH_MAX - Buffer.byteLength(join(dir, 'x')) + 1;
  const length = Math.max(1, Math.min(16, room));
  const random = [...randomBytes(length)].map((b) => ALIAS_CHARS[b % ALIAS_CHARS.length]);
  if (length >= 2) random[0] = '.';
  return join(dir, random.join(''));
}

/**
 * Give the socket bound at `alias` its real name `path` (a hard link: atomic, and
 * it never replaces or follows what is at `path`), then remove the alias.
 */
export async function publishSocket(alias: string, path: string): Promise<void> {
  try {
    await link(alias, path);
  } catch (err) {
    if (errnoName(err) === 'EEXIST')
      throw inUse(path, 'something appeared there while binding', err);
    throw new NetworkError(`cannot use unix://${path} — ${errnoName(err) ?? String(err)}`, err);
  } finally {
    await unlink(alias).catch(() => undefined);
  }
}

/** The directory of a unix socket path must exist: say so plainly (exit 2). */
export async function checkSocketDirectory(path: string, verb = 'listen on'): Promise<void> {
  const dir = dirname(path);
  let isDir: boolean;
  try {
    isDir = (await stat(dir)).isDirectory();
  } catch (err) {
    const code = errnoName(err);
    if (code !== 'ENOENT' && code !== 'ENOTDIR') return; // EACCES and the like: bind says what
    throw new UsageError(
      `cannot ${verb} unix://${path} — directory ${dir} does not exist`,
      ERR.NO_DIRECTORY,
    );
  }
  if (!isDir) {
    throw new UsageError(
      `cannot ${verb} unix://${path} — ${dir} is not a directory`,
      ERR.NO_DIRECTORY,
    );
  }
}
