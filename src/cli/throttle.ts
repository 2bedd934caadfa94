/**
 * A condition that can repeat thousands of times a second (refusals under a flood,
 * dropped datagrams, accept errors) is reported at most once a second: the first
 * occurrence at once, then how many more came, and what is still pending when the
 * server closes.
 */
export class Throttle {
  readonly #report: (count: number, first: boolean, detail: string) => void;
  readonly #intervalMs: number;
  #pending = 0;
  #timer: NodeJS.Timeout | undefined;
  #detail = '';

  /**
   * `report(count, first, detail)`: `first` for the occurrence reported at once;
   * `detail` is what the latest {@link hit} said.
   */
  constructor(report: (count: number, first: boolean, detail: string) => void, intervalMs = 1000) {
    this.#report = report;
    this.#intervalMs = intervalMs;
  }

  /** The condition happened once more (`detail`: a peer, an error). */
  hit(detail = ''): void {
    this.#detail = detail;
    if (this.#timer) {
      this.#pending += 1;
      return;
    }
    this.#report(1, true, detail);
    this.#arm();
  }

  /** Report what is pending now (at close). */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const n = this.#pending;
    this.#pending = 0;
    if (n > 0) this.#report(n, false, this.#detail);
  }

  #arm(): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#pending === 0) return;
      this.flush();
      this.#arm();
    }, this.#intervalMs);
    this.#timer.unref();
  }
}
