/**
 * The built-in handlers by name, every class loaded: the library's list. The list
 * behind `--handler` choices, validation, `--help` and the man page is names.ts's;
 * the CLI loads the one it runs through builtin.ts.
 */
import type { StreamRequestHandler } from '../engine/request-handler.js';
import { EchoHandler } from './echo.js';
import { LowerCaseHandler, UpperCaseHandler } from './case.js';
import { ThreadedEchoHandler } from './threaded-echo.js';
import { DiscardHandler } from './discard.js';
import { DaytimeHandler } from './daytime.js';
import { ChargenHandler } from './chargen.js';
import { ForwardHandler } from './forward.js';
import { StdioHandler } from './stdio.js';
import { ExecHandler } from './exec.js';
import { BrokerHandler } from './broker.js';
import { ChatHandler } from './chat.js';
import { HANDLER_ALIASES, HANDLER_INFO, HANDLER_NAMES, type HandlerInfo } from './names.js';
import { findHandlerInfo, handlerEntry, type HandlerEntry } from './builtin.js';

/** The class of each built-in, by name. */
const CLASSES: Readonly<Record<string, typeof StreamRequestHandler>> = {
  echo: EchoHandler,
  'upper-case': UpperCaseHandler,
  lower: LowerCaseHandler,
  'threaded-echo': ThreadedEchoHandler,
  discard: DiscardHandler,
  daytime: DaytimeHandler,
  chargen: ChargenHandler,
  forward: ForwardHandler,
  stdio: StdioHandler,
  exec: ExecHandler,
  broker: BrokerHandler,
  chat: ChatHandler,
};

/** Built-in handlers, in the order help lists them. */
export const HANDLERS: readonly HandlerEntry[] = HANDLER_INFO.map((info) =>
  handlerEntry(info, CLASSES[info.name]!),
);

export { HANDLER_ALIASES, HANDLER_INFO, HANDLER_NAMES, type HandlerEntry, type HandlerInfo };

/** Look up a built-in by name or alias. */
export function findHandler(name: string): HandlerEntry | undefined {
  const info = findHandlerInfo(name);
  return info && HANDLERS.find((h) => h.name === info.name);
}
