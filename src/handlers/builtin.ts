/**
 * The built-in handlers one at a time: `serve -e upper` loads the case handlers and
 * nothing else (a server's footprint and start-up time are part of the product).
 * `registry.ts` is the same list with every class loaded, for library users.
 */
import type { StreamRequestHandler } from '../engine/request-handler.js';
import type { HandlerModule } from '../engine/server-types.js';
import { HANDLER_ALIASES, HANDLER_INFO, type HandlerInfo } from './names.js';

/** A built-in handler: one class for every transport, and where workers import it. */
export interface HandlerEntry {
  readonly name: string;
  readonly description: string;
  /** Serves stream connections and datagrams alike. */
  readonly Handler: typeof StreamRequestHandler;
  /** Module and export name, for worker threads and processes. */
  readonly module: HandlerModule;
}

type Load = () => Promise<Record<string, unknown>>;

/**
 * Each built-in's module, imported when asked for, and the name its class is exported
 * under: written out, since a bundler may rename the class itself (`_ChargenHandler`),
 * and a worker imports the export by this name from the module's own file.
 */
const LOADERS: Readonly<Record<string, readonly [string, Load]>> = {
  echo: ['EchoHandler', () => import('./echo.js')],
  'upper-case': ['UpperCaseHandler', () => import('./case.js')],
  lower: ['LowerCaseHandler', () => import('./case.js')],
  'threaded-echo': ['ThreadedEchoHandler', () => import('./threaded-echo.js')],
  discard: ['DiscardHandler', () => import('./discard.js')],
  daytime: ['DaytimeHandler', () => import('./daytime.js')],
  chargen: ['ChargenHandler', () => import('./chargen.js')],
  forward: ['ForwardHandler', () => import('./forward.js')],
  stdio: ['StdioHandler', () => import('./stdio.js')],
  exec: ['ExecHandler', () => import('./exec.js')],
  broker: ['BrokerHandler', () => import('./broker.js')],
  chat: ['ChatHandler', () => import('./chat.js')],
};

/** The description of a built-in by name or alias. */
export function findHandlerInfo(name: string): HandlerInfo | undefined {
  const real = HANDLER_ALIASES[name] ?? name;
  return HANDLER_INFO.find((h) => h.name === real);
}

/** The entry of the built-in `info` describes, given its class and the name it is exported under. */
export function handlerEntry(
  { name, description, file }: HandlerInfo,
  Handler: typeof StreamRequestHandler,
  exportName: string = Handler.name,
): HandlerEntry {
  const url = new URL(`./${file}.js`, import.meta.url).href;
  return { name, description, Handler, module: { url, exportName } };
}

/** Load a built-in by name or alias; undefined for a name that is none. */
export async function loadBuiltinHandler(name: string): Promise<HandlerEntry | undefined> {
  const info = findHandlerInfo(name);
  if (!info) return undefined;
  const [exportName, load] = LOADERS[info.name]!;
  const Handler = (await load())[exportName] as typeof StreamRequestHandler;
  return handlerEntry(info, Handler, exportName);
}
