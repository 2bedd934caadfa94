/**
 * Listening on a stream socket, TCP or unix, with every rule a server needs: a
 * large backlog, a one-line error on failure, and for a unix path the safe file
 * handling of unix-path.ts (a stale socket replaced, a live one or a non-socket
 * never; the file 0600 from the first instant, or `mode`; bound at a private alias
 * and hard-linked to its path, so that closing never unlinks what is at the path
 * by then; removed on release only if it is still ours).
 */
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Server } from 'node:net';
import { formatEndpoint, inetAddress, type SocketAddress } from './address.js';
import { bindError, errnoName, type NetworkError } from './errors.js';
import {
  bindingAlias,
  claimSocketFile,
  clearStaleSocket,
  publishSocket,
  releaseSocketFile,
  withSocketUmask,
} from './unix-path.js';

/** Aliases tried before a bind gives up (a taken one fails at once with EADDRINUSE). */
const ALIAS_TRIES = 8;

/** How to listen. */
export interface ListenOptions {
  /** Listen backlog (the kernel caps it at net.core.somaxconn). */
  readonly backlog: number;
  /** On `::`: IPv6 peers only. */
  readonly ipv6Only?: boolean;
  /** A unix socket file's mode (default 0600). */
  readonly mode?: number;
}

/** A server that listens, and how to let its address go. */
export interface Listening {
  /** The real address (port 0 resolved). */
  readonly address: SocketAddress;
  /** Remove what listening left behind (a unix socket file, if still ours). */
  release(): Promise<void>;
}

/** `server.listen(options)`, resolved once listening; rejects with the system error. */
async function listenOnce(server: Server, options: object): Promise<void> {
  const done = Promise.race([
    once(server, 'listening'),
    once(server, 'error').then(([err]) => {
      throw err;
    }),
  ]);
  server.listen(options);
  await done;
}

/** Listen on `at`; rejects with a one-line NetworkError (`cannot listen on … — …`). */
export function listenStream(
  server: Server,
  at: SocketAddress,
  opts: ListenOptions,
): Promise<Listening> {
  return at.family === 'unix' ? listenUnix(server, at.path, opts) : listenInet(server, at, opts);
}

async function listenInet(
  server: Server,
  at: SocketAddress & { family: 'IPv4' | 'IPv6' },
  opts: ListenOptions,
) {
  const options = {
    host: at.address,
    port: at.port,
    ipv6Only: opts.ipv6Only,
    backlog: opts.backlog,
  };
  try {
    await listenOnce(server, { ...options, exclusive: false });
  } catch (err) {
    throw bindError(err, formatEndpoint(at));
  }
  const a = server.address();
  const address = a && typeof a === 'object' ? inetAddress(a.address, a.port, a.family) : at;
  return { address, release: async () => undefined };
}

async function listenUnix(server: Server, path: string, opts: ListenOptions): Promise<Listening> {
  await clearStaleSocket(path);
  try {
    await listenAtAlias(server, path, opts);
    const bound = await claimSocketFile(path);
    return { address: { family: 'unix', path }, release: () => releaseSocketFile(bound) };
  } catch (err) {
    if (server.listening) server.close();
    throw err;
  }
}

/** Listen at a fresh alias next to `path` (another, if one is taken), then publish it. */
async function listenAtAlias(server: Server, path: string, opts: ListenOptions): Promise<void> {
  for (let tries = 1; ; tries++) {
    const alias = bindingAlias(path);
    try {
      const options = { path: alias, backlog: opts.backlog };
      await withSocketUmask(() => listenOnce(server, options), opts.mode);
    } catch (err) {
      if (errnoName(err) === 'EADDRINUSE' && tries < ALIAS_TRIES) continue;
      throw unixBindError(err, alias, path);
    }
    await publishSocket(alias, path);
    return;
  }
}

/** libuv reports a missing directory as EACCES (Windows' habit): say what it is. */
function unixBindError(err: unknown, bound: string, path: string): NetworkError {
  if (errnoName(err) !== 'EACCES' || existsSync(dirname(bound))) return bindError(err, path);
  const enoent = Object.assign(new Error(`listen ENOENT: no such file or directory ${bound}`), {
    code: 'ENOENT',
    cause: err,
  });
  return bindError(enoent, path);
}
