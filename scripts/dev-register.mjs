// `npm run dev -- <args>` preloads this (node --import) to run sockit from src/ through
// ts-node's ESM loader, for quick experiments. Transpile only: type-checking is
// `npm run typecheck`'s job and would cost a second at every start. What ships, and what
// the tests run, is the compiled dist/ (bin/sockit.js), never this.
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';

process.env.TS_NODE_TRANSPILE_ONLY ??= '1';
register('ts-node/esm', pathToFileURL('./'));
