/**
 * A server as workers rebuild it: its class's and handler's modules, its address and
 * its options as given. Python's fork() keeps the subclass; a Node worker imports
 * the class itself, so a subclass's own `verifyRequest()` or fields are there too.
 */
import type { SocketAddress } from '../net/address.js';
import { UsageError } from '../net/errors.js';
import type { BaseServer } from './base-server.js';

/** Where a class lives: a module URL (or absolute path) and the export name (`default` if omitted). */
export interface ModuleRef {
  readonly url: string;
  readonly exportName?: string;
}

/** What a worker needs to build the same server. */
export interface ServerSpec {
  readonly server: ModuleRef;
  readonly handler: ModuleRef;
  /** The constructor's first argument: `{ host, port }` or a unix path. */
  readonly address: { host: string; port: number } | string;
  /** The options as given, without what cannot cross to another thread (functions). */
  readonly options: Readonly<Record<string, unknown>>;
}

/** The class's own module, when the class declares one (built-ins do; subclasses inherit none). */
function ownModule(Class: object): ModuleRef | undefined {
  return Object.hasOwn(Class, 'module') ? (Class as { module: ModuleRef }).module : undefined;
}

/** The spec of a server; a UsageError when a worker could not rebuild it. */
export function specOf(
  server: Pick<BaseServer, 'mode' | 'options' | 'serverModule' | 'handlerModule'>,
  address: SocketAddress,
): ServerSpec {
  const Class = server.constructor;
  const serverRef = server.serverModule ?? ownModule(Class);
  if (!serverRef) {
    throw new UsageError(
      `mode '${server.mode}' builds the server in every worker from its module — give ${Class.name || 'the subclass'} the serverModule option ({ url, exportName })`,
    );
  }
  if (!server.handlerModule) {
    throw new UsageError(
      `mode '${server.mode}' needs the server's handlerModule option — workers import the handler from a module, they cannot share the class object`,
    );
  }
  const options = Object.fromEntries(
    Object.entries(server.options).filter(([, v]) => typeof v !== 'function'),
  );
  return {
    server: serverRef,
    handler: server.handlerModule,
    address:
      address.family === 'unix' ? address.path : { host: address.address, port: address.port },
    options: JSON.parse(JSON.stringify(options)) as Record<string, unknown>,
  };
}

/** Where sockit's built-in handlers live (dist/handlers/): their modules are trusted. */
const BUILT_IN_HANDLERS = new URL('../handlers/', import.meta.url).href;

/** Is the handler one of sockit's own (its module under handlers/)? */
export function isBuiltInHandler(ref: ModuleRef | undefined): boolean {
  return ref !== undefined && ref.url.startsWith(BUILT_IN_HANDLERS);
}
