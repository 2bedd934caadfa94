#!/usr/bin/env node
// TLS echo benchmark (npm run bench -- --only=tls): sockit serve tcp --tls next to a
// minimal Node tls.createServer echo (the baseline), `ncat --ssl -k -l --exec /bin/cat`
// and socat `OPENSSL-LISTEN:…,fork EXEC:cat`, all in one run, interleaved, each
// restarted for every repetition. Pinned as the shared harness pins (--pin split):
// the server and its children on CPU 0, the load generator (bench/tls-loadgen.mjs)
// on CPU 1. Scenarios as the harness's: `stream` (4 connections echo N MiB each,
// at most 64 KiB unechoed) and `pp32` (32 connections, 64-byte round trips for 1 s
// after 0.3 s of warm-up). Prints a Markdown table; with --json FILE also the samples.
//
//   node bench/tls-bench.mjs [--reps 3] [--mib 32] [--quick] [--json FILE] [--md FILE]
import { spawn, spawnSync } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir, cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const flag = (name, dflt) => {
  const i = argv.indexOf(name);
  return i < 0 ? dflt : argv[i + 1];
};
const quick = argv.includes('--quick');
const reps = Number(flag('--reps', quick ? 1 : 3));
const mib = Number(flag('--mib', quick ? 8 : 32));
const host = '127.0.0.1';
const pinned = cpus().length >= 2 && spawnSync('taskset', ['-c', '0', 'true']).status === 0;
const pin = (cpu) => (pinned ? `taskset -c ${cpu} ` : '');

const dir = mkdtempSync(join(tmpdir(), 'sockit-tls-bench-'));
const cert = join(dir, 'cert.pem');
const key = join(dir, 'key.pem');
const made = spawnSync(
  'openssl',
  [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ],
  { stdio: 'ignore' },
);
if (made.status !== 0) {
  console.error('tls-bench: openssl could not make a test certificate');
  process.exit(1);
}

const have = (cmd) =>
  spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const sockit = `node ${join(root, 'bin', 'sockit.js')}`;
const servers = [
  ['node-tls', `node ${join(root, 'bench', 'node-tls-echo.mjs')} {port} ${host} ${cert} ${key}`],
  ['sockit', `${sockit} serve tcp {port} -H ${host} --tls --cert ${cert} --key ${key} -e echo -q`],
  ...(have('ncat')
    ? [
        [
          'ncat',
          `ncat --ssl --ssl-cert ${cert} --ssl-key ${key} -k -l ${host} {port} --exec /bin/cat`,
        ],
      ]
    : []),
  ...(have('socat')
    ? [
        [
          'socat',
          `socat OPENSSL-LISTEN:{port},bind=${host},reuseaddr,fork,cert=${cert},key=${key},verify=0 EXEC:cat`,
        ],
      ]
    : []),
];
const scenarios = [
  ['stream', ['stream', '-c', '4', '--mib', String(mib), '--window', '65536'], 'mbps'],
  ['pp32', ['pingpong', '-c', '32', '-s', '64', '-d', '1', '--warmup', '0.3'], 'rps'],
];

function freePort() {
  return new Promise((res) => {
    const s = createServer().listen(0, host, () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/** Resolves once the port accepts a TCP connection (at most 15 s). */
async function ready(port) {
  const until = Date.now() + 15_000;
  while (Date.now() < until) {
    const ok = await new Promise((res) => {
      const s = connect(port, host);
      s.once('connect', () => (s.destroy(), res(true)));
      s.once('error', () => res(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} never listened`);
}

async function startServer(template) {
  const port = await freePort();
  const child = spawn('/bin/sh', ['-c', `exec ${pin(0)}${template.replaceAll('{port}', port)}`], {
    stdio: 'ignore', // banners, and socat's lines about the readiness probe's plain connect
    detached: true, // its own process group: ncat's and socat's children go with it
  });
  await ready(port);
  return { port, stop: () => stopGroup(child) };
}

async function stopGroup(child) {
  if (child.exitCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    // the group is gone already
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // the group is gone already
    }
  }, 3000);
  await gone;
  clearTimeout(timer);
}

function loadgen(port, args) {
  const cmd = `${pin(1)}node ${join(root, 'bench', 'tls-loadgen.mjs')} ${args.join(' ')} --port ${port} --host ${host}`;
  const r = spawnSync('/bin/sh', ['-c', cmd], { encoding: 'utf8', timeout: 150_000 });
  try {
    return JSON.parse(r.stdout.trim().split('\n').pop());
  } catch {
    return { error: `no result (${r.status ?? r.signal})` };
  }
}

const samples = {}; // samples[server][scenario] = [results]
const started = new Date();
const load = loadavg()[0];
for (let rep = 0; rep < reps; rep++) {
  const order = servers.map((_, i) => servers[(i + rep) % servers.length]);
  for (const [name, template] of order) {
    for (const [scenario, args] of scenarios) {
      const server = await startServer(template);
      const result = loadgen(server.port, args);
      await server.stop();
      ((samples[name] ??= {})[scenario] ??= []).push(result);
      console.error(`rep ${rep + 1}/${reps} ${name} ${scenario}: ${JSON.stringify(result)}`);
    }
  }
}
rmSync(dir, { recursive: true, force: true });

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? NaN
    : s.length % 2
      ? s[(s.length - 1) / 2]
      : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (n, d = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d })
    : '—';
const stat = (name, scenario, field) => {
  const ok = (samples[name]?.[scenario] ?? []).filter((r) => !r.error).map((r) => r[field]);
  return { med: median(ok), min: Math.min(...ok), max: Math.max(...ok), n: ok.length };
};
const errors = (name, scenario) =>
  (samples[name]?.[scenario] ?? []).filter((r) => r.error).map((r) => r.error);

const lines = [
  `TLS echo, ${started.toISOString()}, ${reps} repetition(s), load average ${load.toFixed(2)} at start, ` +
    `${pinned ? 'server on CPU 0, load generator on CPU 1' : 'not pinned'}; stream: 4 × ${mib} MiB, pp32: 32 conns × 64 B for 1 s. ` +
    'Medians (min–max); × = ratio to node-tls.',
  '',
  '| server | stream MB/s | × node-tls | pp32 round trips/s | p50 µs | p99 µs | × node-tls | failures |',
  '| --- | --- | --- | --- | --- | --- | --- | --- |',
];
const base = {
  stream: stat('node-tls', 'stream', 'mbps').med,
  pp32: stat('node-tls', 'pp32', 'rps').med,
};
for (const [name] of servers) {
  const st = stat(name, 'stream', 'mbps');
  const pp = stat(name, 'pp32', 'rps');
  const p50 = median((samples[name]?.pp32 ?? []).filter((r) => !r.error).map((r) => r.p50_us));
  const p99 = median((samples[name]?.pp32 ?? []).filter((r) => !r.error).map((r) => r.p99_us));
  const fails = [...errors(name, 'stream'), ...errors(name, 'pp32')];
  lines.push(
    `| ${name} | ${fmt(st.med)} (${fmt(st.min)}–${fmt(st.max)}) | ${fmt(st.med / base.stream, 2)} | ` +
      `${fmt(pp.med)} (${fmt(pp.min)}–${fmt(pp.max)}) | ${fmt(p50)} | ${fmt(p99)} | ${fmt(pp.med / base.pp32, 2)} | ` +
      `${fails.length ? fails.join('; ') : '0'} |`,
  );
}
const md = lines.join('\n');
console.log(md);
const mdFile = flag('--md');
if (mdFile) writeFileSync(mdFile, `${md}\n`);
const jsonFile = flag('--json');
if (jsonFile)
  writeFileSync(jsonFile, JSON.stringify({ started, load, reps, mib, samples }, null, 2));
