/**
 * Loading a user's handler module (`--handler ./my-handler.js`): the file given,
 * and nothing else, is imported; its default export must be a handler class built
 * on the engine's base classes or a plain `(data, info) => reply` function.
 *
 * User modules usually import StreamRequestHandler from the bare specifier 'sockit' while
 * sitting outside this package; a tiny resolve hook maps that bare specifier to
 * this package's own index, so the classes they extend are the very classes the
 * servers check against.
 */
import { register } from 'node:module';
import { stat } from 'node:fs/promises';
import { basename, extname, resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Stats } from 'node:fs';
import { ERR, UsageError, errnoName, oneLine } from '../net/errors.js';
import {
  BaseRequestHandler,
  DatagramRequestHandler,
  StreamRequestHandler,
  functionHandler,
  isSubclassOf,
  type Datagram,
  type HandlerClass,
  type HandlerFunction,
  type StreamRequest,
} from '../engine/request-handler.js';
import type { HandlerModule } from '../engine/base-server.js';

/** The URL of this package's library entry (`dist/index.js`), what `'sockit'` resolves to. */
export const SOCKIT_INDEX_URL = new URL('../index.js', import.meta.url).href;

/** The source of the resolve hook: `'sockit'` → {@link SOCKIT_INDEX_URL}, everything else unchanged. */
export function sockitResolveHook(indexUrl = SOCKIT_INDEX_URL): string {
  return `export async function resolve(specifier, context, next) {
  if (specifier === 'sockit') return { url: ${JSON.stringify(indexUrl)}, shortCircuit: true };
  return next(specifier, context);
}
`;
}

let registered = false;

/**
 * Make imports of the bare specifier 'sockit' resolve to this package's index from any file,
 * wherever it sits. Idempotent. Hooks do not reach worker threads on Node 20, so a
 * worker that imports user modules calls this too.
 */
export function registerSockitSpecifier(): void {
  if (registered) return;
  register(`data:text/javascript,${encodeURIComponent(sockitResolveHook())}`);
  registered = true;
}

/** What a handler module default-exports, as the servers use it. */
export type HandlerKind = 'stream' | 'datagram' | 'base' | 'function';

/** A handler class for either kind of server. */
export type AnyHandlerClass = HandlerClass<StreamRequest> | HandlerClass<Datagram>;

/** A loaded and checked handler module. */
export interface LoadedHandler {
  /** The class servers instantiate (a plain function comes wrapped by `functionHandler`). */
  readonly Handler: AnyHandlerClass;
  /**
   * `stream`: a StreamRequestHandler (every transport); `datagram`: a
   * DatagramRequestHandler (udp and unix datagram only); `base`: a direct
   * BaseRequestHandler subclass (gets the request as the server has it);
   * `function`: a plain function.
   */
  readonly kind: HandlerKind;
  /** Where worker threads and processes import it from (the default export). */
  readonly module: HandlerModule;
  /** The path as the user gave it, for messages. */
  readonly display: string;
}

/** Does this `--handler` value name a file rather than a built-in? */
export function isHandlerPath(spec: string): boolean {
  return /[/\\]/.test(spec) || spec.startsWith('.') || /\.[cm]?js$/i.test(spec);
}

/** Options of {@link loadHandlerModule}. */
export interface LoadHandlerOptions {
  /**
   * Register the resolve hook for `'sockit'` first (default true). Pass false when
   * something else already resolves it, or where hooks cannot be registered.
   */
  readonly sockitHook?: boolean;
}

/**
 * Import the handler module at `spec` (resolved against `cwd`) and check its
 * default export. Every problem is a UsageError of one line.
 */
export async function loadHandlerModule(
  spec: string,
  cwd: string,
  options: LoadHandlerOptions = {},
): Promise<LoadedHandler> {
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
  if (options.sockitHook !== false) registerSockitSpecifier();
  const url = pathToFileURL(file).href;
  let ns: Record<string, unknown>;
  try {
    ns = (await import(url)) as Record<string, unknown>;
  } catch (err) {
    throw new UsageError(
      `cannot load handler module '${spec}' — ${describeLoadError(err, spec)}`,
      ERR.HANDLER_MODULE,
    );
  }
  return classifyHandlerExport(ns, spec, url);
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
 * Check a module namespace's default export and turn it into a handler class.
 * `display` names the module in messages, `url` is where workers import it.
 */
export function classifyHandlerExport(
  ns: Record<string, unknown>,
  display: string,
  url: string,
): LoadedHandler {
  const module: HandlerModule = { url, exportName: 'default' };
  const value = ns.default;
  if (value === undefined) {
    throw new UsageError(
      `handler module '${display}' has no default export — export default a handler class or a function (data, info) => reply`,
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
    const name = (value as { name?: string }).name || '(anonymous)';
    throw new UsageError(
      `handler module '${display}' — class ${name} does not extend sockit's StreamRequestHandler, DatagramRequestHandler or BaseRequestHandler`,
      ERR.HANDLER_MODULE,
    );
  }
  if (typeof value === 'function') {
    const fn = value as HandlerFunction;
    return as('function', functionHandler(fn, fn.name || basename(display)));
  }
  throw new UsageError(
    `handler module '${display}' — the default export is ${describeValue(value)}, not a handler class or a function`,
    ERR.HANDLER_MODULE,
  );
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
