/**
 * `--handler ./my-handler.js`: the rules for a handler module given by path (an ES
 * module file that exists), on top of the engine's one loader
 * (engine/handler-module.ts), which kind of handler it exports, and the check
 * that it fits the transport.
 */
import { stat } from 'node:fs/promises';
import { extname, resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Stats } from 'node:fs';
import { ERR, UsageError, errnoName, oneLine } from '../net/errors.js';
import { handlerExport, importHandlerModule } from '../engine/handler-module.js';
import {
  DatagramRequestHandler,
  StreamRequestHandler,
  isSubclassOf,
  type DatagramConnection,
  type HandlerClass,
  type StreamRequest,
} from '../engine/request-handler.js';
import type { HandlerModule } from '../engine/server-types.js';

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
 * Check the export `module.exportName` of a module namespace (the engine's one
 * check) and say which kind of handler it is. `display` names the module in
 * messages, `module` is where workers import it.
 */
export function classifyHandlerExport(
  ns: Record<string, unknown>,
  display: string,
  module: Required<HandlerModule>,
): LoadedHandler {
  const Handler = handlerExport(ns, display, module.exportName) as AnyHandlerClass;
  const value = ns[module.exportName];
  const kind: HandlerKind =
    Handler !== value
      ? 'function'
      : isSubclassOf(value, DatagramRequestHandler)
        ? 'datagram'
        : isSubclassOf(value, StreamRequestHandler)
          ? 'stream'
          : 'base';
  return { Handler, kind, module, display };
}

/** Does this `--handler` value name a file rather than a built-in? */
export function isHandlerPath(spec: string): boolean {
  return /[/\\]/.test(spec) || spec.startsWith('.') || /\.[cm]?js$/i.test(spec);
}

/**
 * Import the handler module at the path `spec` (resolved against `cwd`) and check
 * its default export. Every problem is a UsageError of one line.
 */
export async function loadHandlerModule(spec: string, cwd: string): Promise<LoadedHandler> {
  const ext = extname(spec).toLowerCase();
  if (ext !== '.js' && ext !== '.mjs') {
    // no extension: most likely a program, given as ncat's -e takes one
    const exec =
      ext === '' ? ` (to run a program per connection as ncat -e does: --exec '${spec}')` : '';
    throw new UsageError(
      `handler module '${spec}' — must be an ES module file ending in .js or .mjs${exec}`,
      ERR.HANDLER_MODULE,
    );
  }
  const file = resolvePath(cwd, spec);
  let st: Stats;
  try {
    st = await stat(file);
  } catch (err) {
    const why = errnoName(err) === 'ENOENT' ? 'no such file' : oneLine(err);
    throw new UsageError(`handler module '${spec}' not found — ${why}`, ERR.HANDLER_MODULE);
  }
  if (!st.isFile()) {
    throw new UsageError(`handler module '${spec}' is not a file`, ERR.HANDLER_MODULE);
  }
  const module = { url: pathToFileURL(file).href, exportName: 'default' };
  return classifyHandlerExport(await importHandlerModule(module.url, spec), spec, module);
}

/**
 * Refuse a handler that cannot run on the transport: a DatagramRequestHandler on a
 * stream server.
 */
export function checkHandlerTransport(loaded: LoadedHandler, datagram: boolean): void {
  if (loaded.kind === 'datagram' && !datagram) {
    throw new UsageError(
      `handler module '${loaded.display}' exports a DatagramRequestHandler, which runs only on udp and unix --datagram servers — extend StreamRequestHandler to serve streams`,
      ERR.HANDLER_MODULE,
    );
  }
}
