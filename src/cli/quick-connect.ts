/** The quick `connect -z` (quick-main.ts): the entry of dist/bundle/quick-connect.cjs. */
import { quickEntry } from './quick-main.js';
import { familyOf } from './client-target.js';
import { runProbe } from './connect-probe.js';

/**
 * `connect -z host ports…` with boolean flags, or undefined for any other argv.
 * What runConnect does with -z and these flags: the family, then the probe.
 */
export const quickMain = quickEntry('connect', (ctx, run) =>
  runProbe(ctx, run.host, run.ports, run.opts, familyOf(run.opts)),
);
