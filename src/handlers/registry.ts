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

function entry(
  name: string,
  description: string,
  file: string,
  stream: HandlerClass<StreamRequest>,
  datagram: HandlerClass<Datagram>,
): HandlerEntry {
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
export const HANDLERS: readonly HandlerEntry[] = [
  entry(
    'echo',
    'send every byte back (default)',
    'echo',
    EchoHandler as never,
    EchoDatagramHandler as never,
  ),
  entry(
    'upper-case',
    'send back with ASCII letters upper-cased (alias: upper)',
    'case',
    UpperCaseHandler as never,
    UpperCaseDatagramHandler as never,
  ),
  entry(
    'lower',
    'send back with ASCII letters lower-cased',
    'case',
    LowerCaseHandler as never,
    LowerCaseDatagramHandler as never,
  ),
  entry(
    'threaded-echo',
    "echo each line prefixed with the worker's name (Thread-2: …)",
    'threaded-echo',
    ThreadedEchoHandler as never,
    ThreadedEchoDatagramHandler as never,
  ),
  entry(
    'discard',
    'read and drop everything (RFC 863)',
    'discard',
    DiscardHandler as never,
    DiscardDatagramHandler as never,
  ),
  entry(
    'daytime',
    'send the date and time, then close (RFC 867)',
    'daytime',
    DaytimeHandler as never,
    DaytimeDatagramHandler as never,
  ),
  entry(
    'chargen',
    'stream a character pattern while the client reads (RFC 864)',
    'chargen',
    ChargenHandler as never,
    ChargenDatagramHandler as never,
  ),
];

/** Other names accepted for built-ins. */
export const HANDLER_ALIASES: Readonly<Record<string, string>> = {
  upper: 'upper-case',
  'lower-case': 'lower',
};

/** Every name `--handler` accepts for a built-in. */
export const HANDLER_NAMES: readonly string[] = [
  ...HANDLERS.map((h) => h.name),
  ...Object.keys(HANDLER_ALIASES),
];

/** Look up a built-in by name or alias. */
export function findHandler(name: string): HandlerEntry | undefined {
  const real = HANDLER_ALIASES[name] ?? name;
  return HANDLERS.find((h) => h.name === real);
}
