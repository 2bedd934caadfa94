/**
 * Concurrency strategies for `threading` (a worker_threads pool) and `forking`
 * (a pre-forked pool of processes sharing the listening socket).
 */
import type { BaseServer, ConcurrencyStrategy } from './base-server.js';
import { UnsupportedError } from './errors.js';

/** Build the strategy for a server's mode. */
export async function createStrategy(
  server: BaseServer<unknown>,
  mode: 'threading' | 'forking',
): Promise<ConcurrencyStrategy<unknown>> {
  throw new UnsupportedError(`mode '${mode}' is not available yet for ${server.transport}`);
}
