// The relay leak figures (issue 12, "Load"): fds and RSS of `serve tcp --forward` after
// 1, 1,000 sequential, then 4 × 5,000 (10 at a time) connections. Not part of npm test.
//   node bench/relay-leak.mjs bin/sockit.js
import { spawn } from 'node:child_process';
import net from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';
const echo = net
  .createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    s.pipe(s);
  })
  .listen(0, '127.0.0.1');
await new Promise((r) => echo.once('listening', r));
const child = spawn(
  process.execPath,
  [
    process.argv[2],
    'serve',
    'tcp',
    '0',
    '--forward',
    `tcp://127.0.0.1:${echo.address().port}`,
    '--json',
  ],
  { stdio: ['ignore', 'ignore', 'pipe'] },
);
let seen = 0,
  tail = '',
  port,
  waiters = [];
const banner = new Promise((resolve) =>
  child.stderr.on('data', (c) => {
    const lines = (tail + c).split('\n');
    tail = lines.pop();
    for (const l of lines) {
      if (l.includes('"event":"listening"'))
        resolve(JSON.parse(l).port ?? JSON.parse(l).address?.port);
      if (l.startsWith('{"event":"forward"')) seen++;
    }
    waiters = waiters.filter(([n, r]) => (seen >= n ? (r(), false) : true));
  }),
);
const l = await banner;
port = l;
const reached = (n) => (seen >= n ? Promise.resolve() : new Promise((r) => waiters.push([n, r])));
const fds = () => readdirSync(`/proc/${child.pid}/fd`).length;
const rss = () =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]) / 1024;
const one = (n) =>
  new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    const got = [];
    c.on('data', (d) => got.push(d));
    c.on('error', reject);
    c.on('close', () =>
      Buffer.concat(got).toString() === `n${n}` ? resolve() : reject(new Error('bad echo')),
    );
    c.end(`n${n}`);
  });
await one(0);
await reached(1);
const row = (what) => console.log(`${what}: fds ${fds()}, RSS ${rss().toFixed(1)} MiB`);
row('after 1 (warm)');
for (let i = 1; i <= 1000; i++) await one(i);
await reached(1001);
row('after 1,000 sequential');
for (let k = 0; k < 5000; k += 10)
  await Promise.all(Array.from({ length: 10 }, (_, j) => one(1001 + k + j)));
await reached(6001);
row('after 5,000 more (10 at a time)');
for (let r = 1; r <= 3; r++) {
  for (let k = 0; k < 5000; k += 10)
    await Promise.all(Array.from({ length: 10 }, (_, j) => one(1001 + r * 5000 + k + j)));
  await reached(6001 + r * 5000);
  row(`after ${r + 1} x 5,000`);
}
child.kill('SIGTERM');
echo.close();
