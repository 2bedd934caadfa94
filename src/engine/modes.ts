/** How a server runs its requests (the socketserver mix-ins, the Node way). */
export type ConcurrencyMode = 'async' | 'sequential' | 'threading' | 'forking';

/**
 * Every concurrency mode, in the order the CLI lists them. Kept in a module of its
 * own so the CLI can list them without loading the engine (start-up time).
 */
export const CONCURRENCY_MODES: readonly ConcurrencyMode[] = [
  'async',
  'sequential',
  'threading',
  'forking',
];
