/**
 * What a built-in handler has to say about a request beyond its bytes (a child's
 * exit status, a reader dropped, output cut): one `handlerNote` event on the
 * server, which the CLI prints as a line (`-v` for `info`, always for `warn`)
 * or as an NDJSON event. Forking workers forward it to the server that accepted.
 */
import type { EventEmitter } from 'node:events';

/** The event a server emits with a {@link HandlerNote}. */
export const HANDLER_NOTE = 'handlerNote';

/** One thing a handler says: a line for people, an event with fields for scripts. */
export interface HandlerNote {
  /** `warn`: always shown; `info`: shown with `-v`. */
  readonly level: 'warn' | 'info';
  /** The NDJSON event name (`child-exit`, `broker-drop`, …). */
  readonly event: string;
  /** The line for people, without the `sockit: ` prefix. */
  readonly message: string;
  /** What `--json` adds to the event. */
  readonly fields: Readonly<Record<string, unknown>>;
}

/** Emit a note on `server` (its `handlerNote` event). */
export function emitNote(server: EventEmitter, note: HandlerNote): void {
  server.emit(HANDLER_NOTE, note);
}
