/**
 * A promise with its resolve and reject at hand, for the connection objects of
 * the clients: each keeps one and settles it from its one `#finish()`.
 */

/** A promise and the functions that settle it; the first settle wins, as with any promise. */
export class Deferred<T> {
  /** Settles when {@link resolve} or {@link reject} is first called. */
  readonly promise: Promise<T>;
  /** Fulfil {@link promise}. */
  readonly resolve: (value: T | PromiseLike<T>) => void;
  /** Reject {@link promise}. */
  readonly reject: (reason: unknown) => void;

  constructor() {
    let resolve!: (value: T | PromiseLike<T>) => void;
    let reject!: (reason: unknown) => void;
    this.promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.resolve = resolve;
    this.reject = reject;
  }
}
