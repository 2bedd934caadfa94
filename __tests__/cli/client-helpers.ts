/** Helpers for the in-process client command tests. */
import { EventEmitter } from 'node:events';
import type { SignalSource } from '../../src/cli/context.js';

/** A signal source the test fires by hand: `signals.emit('SIGINT')`. */
export class FakeSignals extends EventEmitter implements SignalSource {
  override on(signal: 'SIGINT' | 'SIGTERM', listener: () => void): this {
    return super.on(signal, listener);
  }
  override off(signal: 'SIGINT' | 'SIGTERM', listener: () => void): this {
    return super.off(signal, listener);
  }
}
