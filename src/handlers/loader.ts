/**
 * `--handler ./my-handler.js`: the rules for a handler module given by path (an ES
 * module file that exists), on top of the engine's one loader
 * (engine/handler-module.ts), and the check that it fits the transport.
 */
import { stat } from 'node:fs/promises';
import { extname, resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Stats } from 'node:fs';
import { ERR, UsageError, errnoName, oneLine } from '../net/errors.js';
import { importHandler, type LoadedHandler } from '../engine/handler-module.js';

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
    throw new UsageError(
      `handler module '${spec}' — must be an ES module file ending in .js or .mjs`,
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
  return importHandler({ url: pathToFileURL(file).href, exportName: 'default' }, spec);
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
