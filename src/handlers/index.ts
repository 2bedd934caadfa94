/** The built-in handlers and their registry, for library users. */
export * from './echo.js';
export * from './case.js';
export * from './threaded-echo.js';
export * from './discard.js';
export * from './daytime.js';
export * from './chargen.js';
export * from './forward.js';
export { relay, resetStream, type RelayEnd, type RelayResult } from './relay.js';
export {
  HANDLERS,
  HANDLER_ALIASES,
  HANDLER_NAMES,
  findHandler,
  type HandlerEntry,
} from './registry.js';
