/**
 * Loading a handler class from a module reference, in a worker thread or
 * process (which cannot share the class object with the thread that made the
 * server).
 */
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { ModuleRef as HandlerModule } from './server-spec.js';
import { ERR, UsageError, oneLine } from '../net/errors.js';
import {
  BaseRequestHandler,
  functionHandler,
  isSubclassOf,
  type HandlerClass,
  type HandlerFunction,
} from './request-handler.js';

/** The library's own index: what the bare specifier `sockit` means in a user's handler module. */
const SOCKIT_INDEX_URL = new URL('../index.js', import.meta.url).href;

let hookRegistered = false;

/**
 * Make a bare `'sockit'` import in a user's handler module resolve to this
 * package, as the CLI does in the main thread (hooks do not reach workers on
 * Node 20). Skipped for modules inside this package, which need no hook.
 */
function registerSockitSpecifier(url: string): void {
  if (hookRegistered || !url.startsWith('file:') || SOCKIT_INDEX_URL.endsWith('.ts')) return;
  if (url.startsWith(new URL('../', import.meta.url).href)) return;
  hookRegistered = true;
  const hook = `export async function resolve(specifier, context, next) {
  if (specifier === 'sockit') return { url: ${JSON.stringify(SOCKIT_INDEX_URL)}, shortCircuit: true };
  return next(specifier, context);
}`;
  register(`data:text/javascript,${encodeURIComponent(hook)}`);
}

/**
 * Import a handler module and return its handler class; a plain function
 * export is wrapped with {@link functionHandler}. Every problem is a UsageError.
 */
export async function loadHandlerClass(mod: HandlerModule): Promise<HandlerClass<unknown>> {
  const url = /^[a-z][a-z0-9+.-]+:/i.test(mod.url) ? mod.url : pathToFileURL(mod.url).href;
  const exportName = mod.exportName ?? 'default';
  registerSockitSpecifier(url);
  let ns: Record<string, unknown>;
  try {
    ns = (await import(url)) as Record<string, unknown>;
  } catch (err) {
    throw new UsageError(`cannot load handler module ${url} — ${oneLine(err)}`, ERR.HANDLER_MODULE);
  }
  const value = ns[exportName];
  if (typeof value !== 'function') {
    throw new UsageError(
      `handler module ${url} has no export '${exportName}' that is a handler class or function`,
      ERR.HANDLER_MODULE,
    );
  }
  if (
    isSubclassOf(value, BaseRequestHandler) ||
    /^class\b/.test(Function.prototype.toString.call(value))
  ) {
    return value as HandlerClass<unknown>;
  }
  const fn = value as HandlerFunction;
  return functionHandler(fn, fn.name || exportName) as unknown as HandlerClass<unknown>;
}
