/**
 * The built-in handlers by name: the single list behind `--handler` choices,
 * validation, `--help` and the man page.
 */
import type { Datagram, HandlerClass, StreamRequest } from '../engine/request-handler.js';
import type { HandlerModule } from '../engine/base-server.js';
import { EchoDatagramHandler, EchoHandler } from './echo.js';
import {
  LowerCaseDatagramHandler,
  LowerCaseHandler,
  UpperCaseDatagramHandler,
  UpperCaseHandler,
} from './case.js';
import { ThreadedEchoDatagramHandler, ThreadedEchoHandler } from './threaded-echo.js';
import { DiscardDatagramHandler, DiscardHandler } from './discard.js';
import { DaytimeDatagramHandler, DaytimeHandler } from './daytime.js';
import { ChargenDatagramHandler, ChargenHandler } from './chargen.js';
import { HANDLER_ALIASES, HANDLER_INFO, HANDLER_NAMES, type HandlerInfo } from './names.js';

/** A handler as the servers need it: one class per kind, and where workers import each. */
export interface HandlerEntry {
  readonly name: string;
  readonly description: string;
  readonly stream: HandlerClass<StreamRequest>;
  readonly datagram: HandlerClass<Datagram>;
  /** Module and export names, for worker threads and processes. */
  readonly streamModule: HandlerModule;
  readonly datagramModule: HandlerModule;
}

/** The classes of each built-in, by name. */
const CLASSES: Readonly<
  Record<string, readonly [HandlerClass<StreamRequest>, HandlerClass<Datagram>]>
> = {
  echo: [EchoHandler, EchoDatagramHandler],
  'upper-case': [UpperCaseHandler, UpperCaseDatagramHandler],
  lower: [LowerCaseHandler, LowerCaseDatagramHandler],
  'threaded-echo': [ThreadedEchoHandler, ThreadedEchoDatagramHandler],
  discard: [DiscardHandler, DiscardDatagramHandler],
  daytime: [DaytimeHandler, DaytimeDatagramHandler],
  chargen: [ChargenHandler, ChargenDatagramHandler],
} as never;

function entry({ name, description, file }: HandlerInfo): HandlerEntry {
  const [stream, datagram] = CLASSES[name]!;
  const url = new URL(`./${file}.js`, import.meta.url).href;
  return {
    name,
    description,
    stream,
    datagram,
    streamModule: { url, exportName: stream.name },
    datagramModule: { url, exportName: datagram.name },
  };
}

/** Built-in handlers, in the order help lists them. */
export const HANDLERS: readonly HandlerEntry[] = HANDLER_INFO.map(entry);

export { HANDLER_ALIASES, HANDLER_NAMES };

/** Look up a built-in by name or alias. */
export function findHandler(name: string): HandlerEntry | undefined {
  const real = HANDLER_ALIASES[name] ?? name;
  return HANDLERS.find((h) => h.name === real);
}
