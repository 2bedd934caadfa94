import { debuglog } from 'node:util';

/** Engine diagnostics, printed when `NODE_DEBUG=sockit` is set. */
export const debug = debuglog('sockit');
