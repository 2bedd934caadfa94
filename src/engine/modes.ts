/**
 * The concurrency modes and what the CLI needs to know of each, apart so that the
 * CLI loads no engine for them (start-up time). What a mode does: strategy.ts.
 */

/** How a server runs its requests (the socketserver mix-ins, the Node way). */
export type ConcurrencyMode = 'async' | 'sequential' | 'threading' | 'forking';

/** What a mode is, seen from outside. */
export interface ModeInfo {
  /** Handlers run on a pool of workers (sized by `workers`). */
  readonly pooled: boolean;
  /** Every handler runs in this process, so handlers can share state (a broker, a chat). */
  readonly sharedState: boolean;
  /** Handlers run on worker threads of this process (the sockets stay on the main thread). */
  readonly threads: boolean;
  /** Stream connections are read and written in this process (a traffic tap sees them). */
  readonly connectionsHere: boolean;
}

/** Every concurrency mode, in the order the CLI lists them. */
export const MODES: Readonly<Record<ConcurrencyMode, ModeInfo>> = {
  async: { pooled: false, sharedState: true, threads: false, connectionsHere: true },
  sequential: { pooled: false, sharedState: true, threads: false, connectionsHere: true },
  threading: { pooled: true, sharedState: false, threads: true, connectionsHere: true },
  forking: { pooled: true, sharedState: false, threads: false, connectionsHere: false },
};

/** Every concurrency mode, in the order the CLI lists them. */
export const CONCURRENCY_MODES = Object.keys(MODES) as readonly ConcurrencyMode[];
