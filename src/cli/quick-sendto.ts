/** The quick `sendto host port message…` (quick-main.ts): the entry of dist/bundle/quick-sendto.cjs. */
import { quickEntry } from './quick-main.js';
import { runSendto } from './sendto-run.js';

/** `sendto host port message…` with boolean flags, or undefined for any other argv. */
export const quickMain = quickEntry('sendto', (ctx, run) =>
  runSendto(ctx, run.positional, run.opts),
);
