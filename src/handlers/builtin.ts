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

type Load = () => Promise<typeof StreamRequestHandler>;

/** Each built-in's class, imported when asked for. */
const LOADERS: Readonly<Record<string, Load>> = {
  echo: async () => (await import('./echo.js')).EchoHandler,
  'upper-case': async () => (await import('./case.js')).UpperCaseHandler,
  lower: async () => (await import('./case.js')).LowerCaseHandler,
  'threaded-echo': async () => (await import('./threaded-echo.js')).ThreadedEchoHandler,
  discard: async () => (await import('./discard.js')).DiscardHandler,
  daytime: async () => (await import('./daytime.js')).DaytimeHandler,
  chargen: async () => (await import('./chargen.js')).ChargenHandler,
  forward: async () => (await import('./forward.js')).ForwardHandler,
  stdio: async () => (await import('./stdio.js')).StdioHandler,
  exec: async () => (await import('./exec.js')).ExecHandler,
  broker: async () => (await import('./broker.js')).BrokerHandler,
  chat: async () => (await import('./chat.js')).ChatHandler,
};

/** The description of a built-in by name or alias. */
export function findHandlerInfo(name: string): HandlerInfo | undefined {
  const real = HANDLER_ALIASES[name] ?? name;
  return HANDLER_INFO.find((h) => h.name === real);
}

/** The entry of the built-in `info` describes, given its class. */
export function handlerEntry(
  { name, description, file }: HandlerInfo,
  Handler: typeof StreamRequestHandler,
): HandlerEntry {
  const url = new URL(`./${file}.js`, import.meta.url).href;
  return { name, description, Handler, module: { url, exportName: Handler.name } };
}

/** Load a built-in by name or alias; undefined for a name that is none. */
export async function loadBuiltinHandler(name: string): Promise<HandlerEntry | undefined> {
  const info = findHandlerInfo(name);
  return info && handlerEntry(info, await LOADERS[info.name]!());
}
