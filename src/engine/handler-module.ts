/**
 * Loading handler modules: the one loader behind `--handler ./my-handler.js` (a
 * path, checked with the CLI's rules in handlers/loader.ts) and behind worker
 * threads and processes (a {@link HandlerModule} reference: URL and export name). Either way the module's
 * export must be a handler class built on the engine's base classes or a plain
 * `(data, info) => reply` function; every problem is a one-line UsageError.
 *
 * User modules usually import StreamRequestHandler from the bare specifier 'sockit'
 * while sitting outside this package; one tiny resolve hook maps that bare
 * specifier to this package's own index, so the classes they extend are the very
 * classes the servers check against.
 */
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ERR, UsageError, oneLine } from '../net/errors.js';
import {
  BaseRequestHandler,
  DatagramRequestHandler,
  StreamRequestHandler,
  functionHandler,
  isSubclassOf,
  type DatagramConnection,
  type HandlerClass,
  type HandlerFunction,
  type StreamRequest,
} from './request-handler.js';
import type { HandlerModule } from './base-server.js';
import { needsSockitHook, registerSockitSpecifier } from '../net/module-hook.js';

export {
  registerSockitSpecifier,
  sockitResolveHook,
  SOCKIT_INDEX_URL,
} from '../net/module-hook.js';

/** What a handler module exports, as the servers use it. */
export type HandlerKind = 'stream' | 'datagram' | 'base' | 'function';

/** A handler class for either kind of server. */
export type AnyHandlerClass = HandlerClass<StreamRequest> | HandlerClass<DatagramConnection>;

/** A loaded and checked handler module. */
export interface LoadedHandler {
  /** The class servers instantiate (a plain function comes wrapped by `functionHandler`). */
  readonly Handler: AnyHandlerClass;
  /**
   * `stream`: a StreamRequestHandler (every transport); `datagram`: a
   * DatagramRequestHandler (udp and unix datagram only); `base`: a direct
   * BaseRequestHandler subclass (gets the request as the server has it: the socket,
   * or the datagram connection); `function`: a plain function.
   */
  readonly kind: HandlerKind;
  /** Where worker threads and processes import it from. */
  readonly module: HandlerModule;
  /** The module as the user gave it, for messages. */
  readonly display: string;
}

/**
 * Import the handler a {@link HandlerModule} names (a URL, or an absolute path;
 * the default export unless `exportName` says otherwise) and return its class, a
 * plain function coming wrapped by `functionHandler`. What worker threads and
 * processes use. Every problem is a UsageError of one line.
 */
export async function loadHandlerClass(mod: HandlerModule): Promise<HandlerClass<unknown>> {
  const url = /^[a-z][a-z0-9+.-]+:/i.test(mod.url) ? mod.url : pathToFileURL(mod.url).href;
  const loaded = await importHandler({ url, exportName: mod.exportName ?? 'default' }, url);
  return loaded.Handler as HandlerClass<unknown>; // the server it is given decides the request
}

/** Import and check the handler `module` names; `display` names it in messages. */
export async function importHandler(
  module: Required<HandlerModule>,
  display: string,
): Promise<LoadedHandler> {
  if (needsSockitHook(module.url)) registerSockitSpecifier();
  let ns: Record<string, unknown>;
  try {
    ns = (await import(module.url)) as Record<string, unknown>;
  } catch (err) {
    throw new UsageError(
      `cannot load handler module '${display}' — ${describeLoadError(err, display)}`,
      ERR.HANDLER_MODULE,
    );
  }
  return classifyHandlerExport(ns, display, module);
}

/**
 * `SyntaxError: Unexpected token '}'`: the error's name and message. Node 20 keeps
 * the location of an ES module syntax error to itself, so point at `node --check`.
 */
function describeLoadError(err: unknown, spec: string): string {
  if (!(err instanceof Error)) return oneLine(err);
  const head = err.name && err.name !== 'Error' ? `${err.name}: ` : '';
  const hint = err.name === 'SyntaxError' ? ` (node --check ${spec} shows where)` : '';
  return `${head}${oneLine(err)}${hint}`;
}

function isClass(fn: unknown): boolean {
  return typeof fn === 'function' && /^class\b/.test(Function.prototype.toString.call(fn));
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

/**
 * Check the export `module.exportName` of a module namespace and turn it into a
 * handler class. `display` names the module in messages, `module` is where
 * workers import it.
 */
export function classifyHandlerExport(
  ns: Record<string, unknown>,
  display: string,
  module: Required<HandlerModule>,
): LoadedHandler {
  const name = module.exportName;
  const what = name === 'default' ? 'the default export' : `the export '${name}'`;
  const value = ns[name];
  if (value === undefined) {
    const missing =
      name === 'default'
        ? 'has no default export — export default'
        : `has no export '${name}' — export under that name`;
    throw new UsageError(
      `handler module '${display}' ${missing} a handler class or a function (data, info) => reply`,
      ERR.HANDLER_MODULE,
    );
  }
  const as = (kind: HandlerKind, Handler: unknown): LoadedHandler => ({
    Handler: Handler as AnyHandlerClass,
    kind,
    module,
    display,
  });
  if (isSubclassOf(value, DatagramRequestHandler)) return as('datagram', value);
  if (isSubclassOf(value, StreamRequestHandler)) return as('stream', value);
  if (isSubclassOf(value, BaseRequestHandler)) return as('base', value);
  if (isClass(value)) {
    const className = (value as { name?: string }).name || '(anonymous)';
    throw new UsageError(
      `handler module '${display}' — class ${className} does not extend sockit's StreamRequestHandler, DatagramRequestHandler or BaseRequestHandler`,
      ERR.HANDLER_MODULE,
    );
  }
  if (typeof value === 'function') {
    const fn = value as HandlerFunction;
    const fallback = name === 'default' ? basename(display) : name;
    return as('function', functionHandler(fn, fn.name || fallback));
  }
  throw new UsageError(
    `handler module '${display}' — ${what} is ${describeValue(value)}, not a handler class or a function`,
    ERR.HANDLER_MODULE,
  );
}
