/**
 * Loading a handler module: the one check of what a module exports (a class built
 * on the engine's handler classes, or a plain `(data, info) => reply` function),
 * and the loader workers use. Every problem is a one-line UsageError. User modules
 * importing the bare specifier 'sockit' get this package's own classes through the
 * one resolve hook (net/module-hook.ts). The CLI's rules are handlers/loader.ts's.
 */
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ERR, UsageError } from '../net/errors.js';
import { describeLoadError, importModule } from '../net/module-hook.js';
import {
  BaseRequestHandler,
  functionHandler,
  isSubclassOf,
  type HandlerClass,
  type HandlerFunction,
} from './request-handler.js';
import type { HandlerModule } from './server-types.js';

/** Import the handler module at `url`; `display` names it in the one-line UsageError of a failure. */
export async function importHandlerModule(
  url: string,
  display: string,
): Promise<Record<string, unknown>> {
  try {
    return await importModule(url);
  } catch (err) {
    throw new UsageError(
      `cannot load handler module '${display}' — ${describeLoadError(err, display)}`,
      ERR.HANDLER_MODULE,
    );
  }
}

/** Import the handler class a {@link HandlerModule} names (a URL or an absolute path): what workers use. */
export async function loadHandlerClass(mod: HandlerModule): Promise<HandlerClass<unknown>> {
  const url = /^[a-z][a-z0-9+.-]+:/i.test(mod.url) ? mod.url : pathToFileURL(mod.url).href;
  return handlerExport(await importHandlerModule(url, url), url, mod.exportName ?? 'default');
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

/** The handler class `ns` exports as `name` (a function wrapped); `display` names the module. */
export function handlerExport(
  ns: Record<string, unknown>,
  display: string,
  name: string,
): HandlerClass<unknown> {
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
  if (isSubclassOf(value, BaseRequestHandler)) return value as HandlerClass<unknown>;
  if (isClass(value)) {
    const className = (value as { name?: string }).name || '(anonymous)';
    throw new UsageError(
      `handler module '${display}' — class ${className} does not extend sockit's StreamRequestHandler, DatagramRequestHandler or BaseRequestHandler`,
      ERR.HANDLER_MODULE,
    );
  }
  if (typeof value === 'function') {
    const fn = value as HandlerFunction;
    // a StreamRequestHandler: it serves stream and datagram servers alike
    const Handler: unknown = functionHandler(
      fn,
      fn.name || (name === 'default' ? basename(display) : name),
    );
    return Handler as HandlerClass<unknown>;
  }
  const what = name === 'default' ? 'the default export' : `the export '${name}'`;
  throw new UsageError(
    `handler module '${display}' — ${what} is ${describeValue(value)}, not a handler class or a function`,
    ERR.HANDLER_MODULE,
  );
}
