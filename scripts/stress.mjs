#!/usr/bin/env node
// npm run test:stress [-- --soak] — the fault tests, one file at a time. --soak runs only
// the mixed soak, for 10 minutes (CI runs it for 60 s as part of the suite);
// SOCKIT_SOAK_S sets another length. Other arguments go to jest.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const soak = args.includes('--soak');
const rest = args.filter((a) => a !== '--soak');
const env = { ...process.env };
if (soak) env.SOCKIT_SOAK_S ??= '600';
const jest = fileURLToPath(new URL('../node_modules/jest/bin/jest.js', import.meta.url));
const run = spawnSync(
  process.execPath,
  [
    '--experimental-vm-modules',
    jest,
    '--roots',
    '__tests__/stress',
    '--testMatch',
    soak ? '**/soak.stress.ts' : '**/*.stress.ts',
    '--runInBand',
    ...rest,
  ],
  { stdio: 'inherit', env },
);
process.exit(run.status ?? 1);
