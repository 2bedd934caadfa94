/**
 * The strategies of every mode: `async` and `sequential` run handlers in this
 * thread and are here; `threading` and `forking` run them on a worker pool and
 * are loaded only when a server asks for them.
 */
import type { SocketAddress } from '../net/address.js';
import { UsageError } from '../net/errors.js';
import { CONCURRENCY_MODES, type ConcurrencyMode } from './modes.js';
import type { ConcurrencyStrategy, StrategyHost } from './strategy.js';

/** The in-thread strategies: handlers run on this event loop. */
class InThreadStrategy implements ConcurrencyStrategy {
  #host: StrategyHost | undefined;
  /** How many requests may run at once (sequential: 1). */
  readonly #limit: number;

  constructor(
    readonly mode: ConcurrencyMode,
    limit: number,
  ) {
    this.#limit = limit;
  }

  async start(host: StrategyHost): Promise<void> {
    this.#host = host;
  }

  canStart(active: number): boolean {
    return active < this.#limit;
  }

  processRequest(request: unknown, clientAddress: SocketAddress): void | Promise<void> {
    return this.#host!.finishRequest(request, clientAddress);
  }

  async close(): Promise<void> {}

  endGrace(): void {}
}

/** Build the strategy of a mode; the pooled ones are loaded only when asked for. */
export async function createStrategy(mode: ConcurrencyMode): Promise<ConcurrencyStrategy> {
  switch (mode) {
    case 'async':
      return new InThreadStrategy(mode, Infinity);
    case 'sequential':
      return new InThreadStrategy(mode, 1);
    case 'threading':
      return new (await import('./threading.js')).ThreadingStrategy();
    case 'forking':
      return new (await import('./forking.js')).ForkingStrategy();
  }
  throw new UsageError(
    `unknown mode '${String(mode)}' — expected one of ${CONCURRENCY_MODES.join(', ')}`,
  );
}
