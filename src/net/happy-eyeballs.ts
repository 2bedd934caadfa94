/**
 * Happy Eyeballs (RFC 8305, Node's `autoSelectFamily`): connection attempts to
 * the addresses of one name, staggered. The next address starts after a short
 * attempt delay or as soon as the one before it fails; the earlier attempts keep
 * going, the first to connect wins and every other is called off. So a
 * blackholed first address costs the attempt delay, not a whole timeout.
 */

/** Milliseconds between two attempts when the first has no answer yet (RFC 8305's 250 ms). */
export const ATTEMPT_DELAY_MS = 250;

/** One attempt in flight. */
export interface RaceAttempt<T> {
  /** Its outcome: a rejection, or a value that {@link RaceOptions.won} refuses, is a failure. */
  readonly result: Promise<T>;
  /** Call it off and release what it holds (also after it connected, when another won). */
  cancel(): void;
}

/** How {@link raceAttempts} races. */
export interface RaceOptions<T> {
  /** Milliseconds before the next attempt starts (default {@link ATTEMPT_DELAY_MS}). */
  readonly attemptDelayMs?: number;
  /** Is this outcome a connection? (default: every fulfilled attempt is) */
  readonly won?: (value: T) => boolean;
  /** Once aborted, no further attempt starts. */
  readonly signal?: AbortSignal;
}

/** The race's outcome: the winner and its index, or every failure in start order. */
export type RaceOutcome<T> =
  | { readonly won: true; readonly value: T; readonly index: number }
  | { readonly won: false; readonly failures: readonly unknown[] };

/**
 * The addresses in Happy Eyeballs order: the families alternate, starting with
 * the family of the first address (what Node's `autoSelectFamily` does).
 */
export function interleaveFamilies<A extends { readonly family: number }>(list: readonly A[]): A[] {
  if (list.length < 3) return [...list];
  const first = list.filter((a) => a.family === list[0]!.family);
  const other = list.filter((a) => a.family !== list[0]!.family);
  const out: A[] = [];
  for (let i = 0; i < Math.max(first.length, other.length); i += 1) {
    if (i < first.length) out.push(first[i]!);
    if (i < other.length) out.push(other[i]!);
  }
  return out;
}

/**
 * Race `count` attempts made by `start(i)`, staggered as Happy Eyeballs does.
 * Never rejects. Each attempt bounds its own time; when every attempt has
 * failed, the outcome lists the failures in start order.
 */
export function raceAttempts<T>(
  count: number,
  start: (index: number) => RaceAttempt<T>,
  opts: RaceOptions<T> = {},
): Promise<RaceOutcome<T>> {
  return new Promise((resolve) => new Race(count, start, opts, resolve).launch());
}

/** The outcome of {@link raceAddresses}: the winner and its address, or every failure. */
export type AddressRaceOutcome<A, T> =
  | { readonly won: true; readonly value: T; readonly address: A }
  | { readonly won: false; readonly failures: readonly unknown[] };

/**
 * Race connections to a name's `addresses` in Happy Eyeballs order
 * ({@link interleaveFamilies}), all within `timeoutMs` (0: no bound): `start(address,
 * leftMs)` makes one attempt with the time that is left then (0 when unbounded).
 */
export async function raceAddresses<A extends { readonly family: number }, T>(
  addresses: readonly A[],
  timeoutMs: number,
  start: (address: A, leftMs: number) => RaceAttempt<T>,
  opts: RaceOptions<T> = {},
): Promise<AddressRaceOutcome<A, T>> {
  const order = interleaveFamilies(addresses);
  const deadline = Date.now() + timeoutMs;
  const left = (): number => (timeoutMs > 0 ? Math.max(1, deadline - Date.now()) : 0);
  const outcome = await raceAttempts(order.length, (i) => start(order[i]!, left()), opts);
  return outcome.won
    ? { won: true, value: outcome.value, address: order[outcome.index]! }
    : outcome;
}

/** One race: what runs, what failed, and the timer of the next start. */
class Race<T> {
  readonly #count: number;
  readonly #start: (index: number) => RaceAttempt<T>;
  readonly #opts: RaceOptions<T>;
  readonly #resolve: (outcome: RaceOutcome<T>) => void;
  readonly #running = new Map<number, RaceAttempt<T>>();
  readonly #failures: unknown[] = [];
  #next = 0;
  #settled = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    count: number,
    start: (index: number) => RaceAttempt<T>,
    opts: RaceOptions<T>,
    resolve: (outcome: RaceOutcome<T>) => void,
  ) {
    this.#count = count;
    this.#start = start;
    this.#opts = opts;
    this.#resolve = resolve;
  }

  /** Start the next attempt (or settle when none is left and none runs). */
  readonly launch = (): void => {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#settled) return;
    if (this.#next >= this.#count || this.#opts.signal?.aborted) return this.#maybeLost();
    const index = this.#next++;
    const attempt = this.#start(index);
    this.#running.set(index, attempt);
    attempt.result.then(
      (value) => this.#onResult(index, attempt, value),
      (err: unknown) => this.#onFailure(index, err),
    );
    if (this.#next < this.#count) {
      this.#timer = setTimeout(this.launch, this.#opts.attemptDelayMs ?? ATTEMPT_DELAY_MS);
    }
  };

  #onResult(index: number, attempt: RaceAttempt<T>, value: T): void {
    if (this.#opts.won && !this.#opts.won(value)) return this.#onFailure(index, value);
    this.#running.delete(index);
    // a second connection that made it after the winner is released
    if (this.#settled) return attempt.cancel();
    this.#settled = true;
    clearTimeout(this.#timer);
    for (const other of this.#running.values()) other.cancel();
    this.#running.clear();
    this.#resolve({ won: true, value, index });
  }

  #onFailure(index: number, failure: unknown): void {
    this.#running.delete(index);
    if (this.#settled) return;
    this.#failures[index] = failure;
    this.launch();
  }

  #maybeLost(): void {
    if (this.#running.size > 0) return;
    this.#settled = true;
    this.#resolve({ won: false, failures: this.#failures.filter(() => true) });
  }
}
