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

const echoJs = join(dirname(harness), 'servers', 'node-echo.js');
const withEcho = join(root, 'bench', 'with-echo.sh');
const nodeRelay = join(root, 'bench', 'node-relay.mjs');

/**
 * The relay scenario: each relay starts its own minimal Node echo back end on a port of
 * its own (inside the harness's network namespace), then relays to it. The ports sit
 * below Linux's ephemeral range (32768–60999): a connection the previous repetition made
 * from such a port would sit in TIME_WAIT for a minute and keep the echo from binding.
 */
function relays(t) {
  const be = (n) => 30000 + n + (t === 'udp' ? 10 : 0);
  const up = (n, label, cmd) => `${label}=sh ${withEcho} ${echoJs} ${t} ${be(n)} ${cmd}`;
  const bind = t === 'udp' ? 'UDP-LISTEN' : 'TCP-LISTEN';
  const dial = t === 'udp' ? 'UDP' : 'TCP';
  const u = t === 'udp' ? '-u ' : '';
  return [
    '--baseline',
    'node-relay',
    '--server',
    up(1, 'node-relay', `node ${nodeRelay} ${t} {port} ${be(1)} {host}`),
    '--server',
    up(2, 'sockit', `${sockit} serve ${t} {port} -H {host} --forward ${t}://127.0.0.1:${be(2)} -q`),
    '--server',
    up(3, 'socat', `socat ${bind}:{port},bind={host},fork,reuseaddr ${dial}:127.0.0.1:${be(3)}`),
    '--server',
    up(4, 'ncat', `ncat ${u}-lk -m 20000 {host} {port} --sh-exec 'ncat ${u}127.0.0.1 ${be(4)}'`),
  ];
}

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
      '--cmd',
      `sockit-probe=${sockit} connect -z 127.0.0.1 9`,
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
  [
    'relay',
    [
      'tcp',
      '--scenario',
      'stream',
      '--scenario',
      'pp32',
      '--scenario',
      'hold',
      ...relays('tcp'),
      ...q,
    ],
  ],
  ['relay-udp', ['udp', '--scenario', 'udp', ...relays('udp'), ...q]],
];

// TLS echo: the harness's load generator speaks plain TCP, so this step has its own
// (bench/tls-bench.mjs with bench/tls-loadgen.mjs), pinned as the harness pins.
const tlsBench = join(root, 'bench', 'tls-bench.mjs');
steps.push(['tls', quick ? ['--quick'] : reps ? ['--reps', reps] : []]);

// Memory last: its anchors start 10,000 socat and ncat processes, and the machine stays
// disturbed for minutes after (round seven saw a step after it fall to half its rate).
steps.push([
  'mem',
  [
    'mem',
    '--compare',
    '--conns',
    quick ? '1000' : '1000,5000,10000',
    '--server',
    `sockit=${sockit} serve tcp {port} -H {host} -e echo -q`,
  ],
]);

let failed = 0;
for (const [name, args] of steps) {
  if (only && !only.includes(name)) continue;
  if (quick && !['tcp', 'udp', 'cold', 'tls'].includes(name)) continue;
  const program = name === 'tls' ? process.execPath : harness;
  const programArgs = name === 'tls' ? [tlsBench, ...args] : args;
  console.error(
    `\n== bench ${name}: ${name === 'tls' ? 'tls-bench' : 'run-bench'} ${args.join(' ')}`,
  );
  const r = spawnSync(
    program,
    [...programArgs, '--json', join(outDir, `${name}.json`), '--md', join(outDir, `${name}.md`)],
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
