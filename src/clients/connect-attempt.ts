/**
 * One stream connection attempt to one address (an IP address and port, or a
 * unix path): connected, refused, timed out, aborted or called off because
 * another address won the race (net/happy-eyeballs.ts).
 */
import { connect as netConnect, type Socket } from 'node:net';
import { systemError } from '../net/errors.js';
import type { RaceAttempt } from '../net/happy-eyeballs.js';
import { Deferred } from './deferred.js';

/** What an attempt needs besides its address. */
export interface ConnectAttemptOptions {
  /** Source address (`-s`). */
  readonly localAddress?: string;
  /** Source port (`-p`). */
  readonly localPort?: number;
  /** Abort the attempt. */
  readonly signal?: AbortSignal;
  /** The whole timeout, for the message when it passes (default: this attempt's). */
  readonly totalMs?: number;
}

/** Where one attempt goes: one IP address and port, or a unix path. */
export type ConnectTo = { host: string; port: number; family: number } | { path: string };

/** One connection attempt to one address: connected, refused, timed out or aborted. */
export class ConnectAttempt implements RaceAttempt<Socket> {
  readonly #socket: Socket;
  readonly #label: string;
  readonly #signal: AbortSignal | undefined;
  readonly #done = new Deferred<Socket>();
  #finished = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(to: ConnectTo, opts: ConnectAttemptOptions, label: string, timeoutMs: number) {
    const local =
      'host' in to ? { localAddress: opts.localAddress, localPort: opts.localPort } : {};
    this.#socket = netConnect({ ...to, allowHalfOpen: true, noDelay: true, ...local });
    this.#label = label;
    this.#signal = opts.signal;
    if (timeoutMs > 0)
      this.#timer = setTimeout(this.#onTimeout, timeoutMs, opts.totalMs ?? timeoutMs);
    this.#socket.once('connect', this.#onConnect);
    this.#socket.once('error', this.#onError);
    if (this.#signal?.aborted) this.#onAbort();
    else this.#signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** The connected socket, or why not. */
  get result(): Promise<Socket> {
    return this.#done.promise;
  }

  /** Call the attempt off, or close its connection when another address won. */
  cancel(): void {
    if (this.#finished) this.#socket.destroy();
    else this.#finish(systemError('ECANCELED', 'another address connected first'));
  }

  #finish(error?: Error): void {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#socket.off('connect', this.#onConnect);
    this.#socket.off('error', this.#onError);
    this.#signal?.removeEventListener('abort', this.#onAbort);
    if (error === undefined) return this.#done.resolve(this.#socket);
    this.#socket.destroy();
    this.#done.reject(error);
  }

  readonly #onConnect = (): void => this.#finish();
  readonly #onError = (err: Error): void => this.#finish(err);
  readonly #onAbort = (): void => this.#finish(systemError('ABORT_ERR', 'connect aborted'));
  readonly #onTimeout = (ms: number): void => {
    const seconds = `${Number((ms / 1000).toFixed(3))}s`;
    const message = `connect ETIMEDOUT ${this.#label} (no answer within ${seconds})`;
    this.#finish(systemError('ETIMEDOUT', message));
  };
}
