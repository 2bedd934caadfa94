/**
 * The built-in handlers by name: the single list behind `--handler` choices,
 * validation, `--help` and the man page.
 */
import type { StreamRequestHandler } from '../engine/request-handler.js';
import type { HandlerModule } from '../engine/base-server.js';
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

/** A built-in handler: one class for every transport, and where workers import it. */
export interface HandlerEntry {
  readonly name: string;
  readonly description: string;
  /** Serves stream connections and datagrams alike. */
  readonly Handler: typeof StreamRequestHandler;
  /** Module and export name, for worker threads and processes. */
  readonly module: HandlerModule;
}

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

function entry({ name, description, file }: HandlerInfo): HandlerEntry {
  const Handler = CLASSES[name]!;
  const url = new URL(`./${file}.js`, import.meta.url).href;
  return { name, description, Handler, module: { url, exportName: Handler.name } };
}

/** Built-in handlers, in the order help lists them. */
export const HANDLERS: readonly HandlerEntry[] = HANDLER_INFO.map(entry);

export { HANDLER_ALIASES, HANDLER_INFO, HANDLER_NAMES, type HandlerInfo };

/** Look up a built-in by name or alias. */
export function findHandler(name: string): HandlerEntry | undefined {
  const real = HANDLER_ALIASES[name] ?? name;
  return HANDLERS.find((h) => h.name === real);
}
