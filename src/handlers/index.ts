/** The built-in handlers and their registry, for library users. */
export * from './echo.js';
export * from './case.js';
export * from './threaded-echo.js';
export {
  FIRST_LINE_MAX,
  FIRST_READ_MAX,
  StripTransform,
  stripBytes,
  type ReplyOptions,
} from './reply-shape.js';
export * from './discard.js';
export * from './daytime.js';
export * from './chargen.js';
export * from './forward.js';
export { relay, type RelayEnd, type RelayResult } from './relay.js';
export { resetStream } from '../net/reset.js';
export { StdioHandler, StdioPort, type StdioEnds } from './stdio.js';
export { ExecHandler, type ExecOptions } from './exec.js';
export { BrokerHandler } from './broker.js';
export { ChatHandler, escapeControls } from './chat.js';
export { type RoomOptions } from './room.js';
export { HANDLER_NOTE, type HandlerNote } from './notes.js';
export {
  HANDLERS,
  HANDLER_ALIASES,
  HANDLER_NAMES,
  findHandler,
  type HandlerEntry,
} from './registry.js';
