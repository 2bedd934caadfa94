/**
 * Interrupts for `sockit serve`: the first SIGINT/SIGTERM/SIGHUP asks for a graceful
 * stop, any later one for an immediate one.
 */
import type { SignalSource } from './context.js';

/** The signals a server stops on (SIGHUP: its terminal went away; stop as for SIGTERM). */
export type StopSignal = 'SIGINT' | 'SIGTERM' | 'SIGHUP';

const STOP_SIGNALS: readonly StopSignal[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Call `first(signal)` on the first SIGINT or SIGTERM and `again(signal)` on every
 * later one. Returns a function that removes the listeners (call it when done, so
 * the process can exit and a further Ctrl-C gets Node's default behaviour).
 */
export function onStopSignals(
  signals: SignalSource,
  first: (signal: StopSignal) => void,
  again: (signal: StopSignal) => void,
): () => void {
  let seen = false;
  const listeners = STOP_SIGNALS.map((signal) => {
    const listener = (): void => {
      if (seen) {
        again(signal);
      } else {
        seen = true;
        first(signal);
      }
    };
    signals.on(signal, listener);
    return { signal, listener };
  });
  let removed = false;
  return () => {
    if (removed) return;
    removed = true;
    for (const { signal, listener } of listeners) signals.off(signal, listener);
  };
}
