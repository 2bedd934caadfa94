#!/usr/bin/env node
// npm run bench / bench:quick — runs ../shared/bench (the harness) against the
// built sockit, side by side with the anchors, in one run; writes JSON + Markdown
// to bench/results/. Never part of npm test.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const harness =
  process.env.SOCKIT_BENCH_HARNESS ?? join(root, '..', 'shared', 'bench', 'run-bench');
if (!existsSync(harness)) {
  console.error(`bench: harness not found at ${harness} (set SOCKIT_BENCH_HARNESS)`);
  process.exit(1);
}
const quick = process.argv.includes('--quick');
const only = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice(7)
  .split(',');
const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
const outDir = join(root, 'bench', 'results', `${quick ? 'quick' : 'full'}-${stamp}`);
mkdirSync(outDir, { recursive: true });

const sockit = `node ${join(root, 'bin', 'sockit.js')}`;
const cpu = join(root, 'bench', 'cpu-handler.js');
const reps = process.argv.find((a) => a.startsWith('--reps='))?.slice(7);
const q = quick ? ['--quick'] : reps ? ['--reps', reps] : [];

/** Each step: a name and the harness arguments. */
const steps = [
  [
    'tcp',
    [
      'tcp',
      '--compare',
      '--server',
      `sockit=${sockit} serve tcp {port} -H {host} -e echo -q`,
      ...q,
    ],
  ],
  [
    'tcp-upper',
    [
      'tcp',
      '--server',
      'node',
      '--server',
      `sockit-upper=${sockit} serve tcp {port} -H {host} -e upper -q`,
      '--expect',
      'upper',
      '--scenario',
      'stream',
      '--scenario',
      'pp32',
      ...q,
    ],
  ],
  [
    'unix',
    ['unix', '--compare', '--server', `sockit=${sockit} serve unix {path} -e echo -q`, ...q],
  ],
  [
    'udp',
    [
      'udp',
      '--compare',
      '--server',
      `sockit=${sockit} serve udp {port} -H {host} -e echo -q`,
      ...q,
    ],
  ],
  [
    'mem',
    [
      'mem',
      '--compare',
      '--conns',
      quick ? '1000' : '1000,5000,10000',
      '--server',
      `sockit=${sockit} serve tcp {port} -H {host} -e echo -q`,
    ],
  ],
  [
    'scan',
    ['scan', '--compare', '--scanner', `sockit=${sockit} connect -z -v {host} {from}-{to}`, ...q],
  ],
  [
    'cold',
    [
      'cold',
      '--cmd',
      `sockit-version=${sockit} --version`,
      '--cmd',
      `sockit-sendto=${sockit} sendto 127.0.0.1 9 x`,
      ...q,
    ],
  ],
  [
    'cpu-modes',
    [
      'tcp',
      '--pin',
      'none',
      '--scenario',
      'pingpong:c=32,s=256,d=2',
      '--baseline',
      'threading-1',
      '--server',
      `async=${sockit} serve tcp {port} -H {host} -e ${cpu} -q`,
      '--server',
      `threading-1=${sockit} serve tcp {port} -H {host} -e ${cpu} -m threading -w 1 -q`,
      '--server',
      `threading-2=${sockit} serve tcp {port} -H {host} -e ${cpu} -m threading -w 2 -q`,
      '--server',
      `forking-1=${sockit} serve tcp {port} -H {host} -e ${cpu} -m forking -w 1 -q`,
      '--server',
      `forking-2=${sockit} serve tcp {port} -H {host} -e ${cpu} -m forking -w 2 -q`,
      ...q,
    ],
  ],
  [
    // the traffic tap's cost: the same echo server without a tap, with -o and with -x
    // to /dev/null (what the logs cost to make, not the disk), side by side in one run
    'tap',
    [
      'tcp',
      '--scenario',
      'stream',
      '--scenario',
      'pp32',
      '--server',
      'node',
      '--server',
      `plain=${sockit} serve tcp {port} -H {host} -q`,
      '--server',
      `tap-o=${sockit} serve tcp {port} -H {host} -q -o /dev/null`,
      '--server',
      `tap-x=${sockit} serve tcp {port} -H {host} -q -x /dev/null`,
      ...q,
    ],
  ],
  [
    'echo-modes',
    [
      'tcp',
      '--pin',
      'none',
      '--scenario',
      'pp32',
      '--scenario',
      'stream',
      '--baseline',
      'node',
      '--server',
      'node',
      '--server',
      `async=${sockit} serve tcp {port} -H {host} -q`,
      '--server',
      `threading-2=${sockit} serve tcp {port} -H {host} -m threading -w 2 -q`,
      '--server',
      `forking-2=${sockit} serve tcp {port} -H {host} -m forking -w 2 -q`,
      ...q,
    ],
  ],
];

let failed = 0;
for (const [name, args] of steps) {
  if (only && !only.includes(name)) continue;
  if (quick && !['tcp', 'udp', 'cold'].includes(name)) continue;
  console.error(`\n== bench ${name}: run-bench ${args.join(' ')}`);
  const r = spawnSync(
    harness,
    [...args, '--json', join(outDir, `${name}.json`), '--md', join(outDir, `${name}.md`)],
    {
      stdio: 'inherit',
      cwd: root,
      env: { ...process.env, NODE_PATH: join(root, 'node_modules') },
    },
  );
  if (r.status !== 0) failed += 1;
}
console.error(
  `\nbench: results in ${outDir}${failed ? ` (${failed} step(s) reported a failure)` : ''}`,
);
process.exitCode = failed ? 2 : 0;
