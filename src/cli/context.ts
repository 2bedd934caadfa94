import type { CliIO, Output } from './output.js';

/** What every command factory gets: the IO, the diagnostics and where to leave an exit code. */
export interface CliContext {
  readonly io: CliIO;
  readonly out: Output;
  /** Set by a command that finishes with a status other than 0 without throwing. */
  exitCode: number;
  /** Resolves when the command wants to be interrupted (SIGINT/SIGTERM), set up by the CLI entry. */
  readonly signals: SignalSource;
}

/** Where interrupt signals come from (the process, or a test). */
export interface SignalSource {
  on(signal: 'SIGINT' | 'SIGTERM' | 'SIGHUP', listener: () => void): void;
  off(signal: 'SIGINT' | 'SIGTERM' | 'SIGHUP', listener: () => void): void;
}
