/**
 * The messages both pooled modes exchange with their workers for datagrams and
 * for the end of every request; thread-protocol.ts and fork-protocol.ts add how
 * each carries a stream connection. Also where the built worker entries are.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SocketAddress } from '../net/address.js';
import { UnsupportedError } from '../net/errors.js';
import type { WireError } from '../net/wire.js';
import type { ServerSpec } from './server-spec.js';
import type { RequestOutcome } from './strategy.js';

/** What every pooled worker starts with. */
export interface WorkerInit {
  readonly spec: ServerSpec;
}

/** Owner → worker: run the handler on one datagram. */
export interface DatagramJob {
  readonly type: 'datagram';
  readonly id: number;
  readonly data: Uint8Array;
  readonly clientAddress: SocketAddress;
}

/** Owner → worker: the address the server is bound to (sent before a worker's first job). */
export interface AddressMessage {
  readonly type: 'address';
  readonly address: SocketAddress;
}

/** Worker → owner: one reply datagram of a datagram job. */
export interface ReplyMessage {
  readonly type: 'reply';
  readonly id: number;
  readonly data: Uint8Array;
}

/** Worker → owner: a job is over (with what it moved, when the owner cannot count it). */
export interface DoneMessage {
  readonly type: 'done';
  readonly id: number;
  readonly error?: WireError;
  readonly outcome?: RequestOutcome;
}

/** Worker → owner: an event of the worker's server, for the owner's server to emit. */
export interface EventMessage {
  readonly type: 'event';
  readonly name: 'idleTimeout';
  readonly args: readonly unknown[];
}

/** Messages every pooled worker may send. */
export type FromWorker = ReplyMessage | DoneMessage | EventMessage;

/**
 * The compiled worker entry `name.js` next to this module. When the engine runs
 * from its TypeScript sources (ts-jest, ts-node), workers cannot load `.ts`
 * files, so the built copy in `dist/engine/` is used instead.
 */
export function workerEntry(name: 'thread-worker' | 'fork-worker'): URL {
  return builtUrl(new URL(`./${name}.js`, import.meta.url));
}

/** A module URL a worker can import: the `.ts` source's built twin under dist/ when need be. */
export function builtUrl(url: URL): URL {
  if (!url.pathname.endsWith('.ts') && !import.meta.url.endsWith('.ts')) return url;
  const rel = url.href.slice(new URL('../', import.meta.url).href.length).replace(/\.ts$/, '.js');
  const built = new URL(`../../dist/${rel}`, import.meta.url);
  if (existsSync(fileURLToPath(built))) return built;
  throw new UnsupportedError(
    `${rel} not found in dist/ — the engine runs from its sources; run 'npm run build' first`,
  );
}
