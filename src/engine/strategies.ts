/**
 * The strategies of every mode: `async` and `sequential` (handlers in this thread)
 * are here; `threading` and `forking` are loaded only when a server asks for them.
 */
import type { SocketAddress } from '../net/address.js';
import { UsageError } from '../net/errors.js';
import { CONCURRENCY_MODES, type ConcurrencyMode } from './modes.js';
import type { ConcurrencyStrategy, ServerHooks } from './strategy.js';

/** The in-thread strategies: handlers run on this event loop. */
class InThreadStrategy implements ConcurrencyStrategy {
  #host: ServerHooks | undefined;
  /** How many requests may run at once (sequential: 1). */
  readonly #limit: number;

  constructor(
    readonly mode: ConcurrencyMode,
    limit: number,
  ) {
    this.#limit = limit;
  }

  async start(host: ServerHooks): Promise<void> {
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

/** How each mode's strategy is made; the pooled ones are loaded only when asked for. */
const FACTORIES: Readonly<Record<ConcurrencyMode, () => Promise<ConcurrencyStrategy>>> = {
  async: async () => new InThreadStrategy('async', Infinity),
  sequential: async () => new InThreadStrategy('sequential', 1),
  threading: async () => new (await import('./threading.js')).ThreadingStrategy(),
  forking: async () => new (await import('./forking.js')).ForkingStrategy(),
};

/** The mode, checked: anything else is a UsageError that names the modes there are. */
export function checkMode(mode: unknown): ConcurrencyMode {
  if (typeof mode === 'string' && Object.hasOwn(FACTORIES, mode)) return mode as ConcurrencyMode;
  throw new UsageError(
    `unknown mode '${String(mode)}' — expected one of ${CONCURRENCY_MODES.join(', ')}`,
  );
}

/** Build the strategy of a mode (one {@link checkMode} let through). */
export function createStrategy(mode: ConcurrencyMode): Promise<ConcurrencyStrategy> {
  return FACTORIES[mode]();
}
