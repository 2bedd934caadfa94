#!/usr/bin/env node
// The TLS load generator of bench/tls-bench.mjs (the shared harness's loadgen.c
// speaks plain TCP only): the harness's `stream` and `pp32` scenarios over TLS,
// every echoed byte compared with what was sent. One JSON line on stdout.
//
//   node bench/tls-loadgen.mjs stream --port P [--host H] [-c 4] [--mib 64] [--window 65536]
//   node bench/tls-loadgen.mjs pingpong --port P [-c 32] [-s 64] [-d 1] [--warmup 0.3]
//
// Certificates are not verified (a benchmark of the data path, against a test
// certificate); session tickets are off so that every connection does a full handshake.
import { connect } from 'node:tls';
import { randomBytes } from 'node:crypto';

const args = process.argv.slice(2);
const kind = args[0];
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i < 0 ? dflt : args[i + 1];
};
const host = opt('--host', '127.0.0.1');
const port = Number(opt('--port'));
const conns = Number(opt('-c', kind === 'stream' ? 4 : 32));
const HARD_LIMIT_MS = 120_000; // every run is bounded

function open() {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, rejectUnauthorized: false, servername: 'localhost' });
    s.setNoDelay(true);
    s.once('secureConnect', () => resolve(s));
    s.once('error', reject);
  });
}

/** One connection sends `total` bytes of `block`, at most `window` unechoed, and checks the echo. */
function streamOne(s, block, total, window) {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let got = 0;
    let waiting = false;
    const pump = () => {
      waiting = false;
      while (sent < total && sent - got < window) {
        const at = sent % block.length;
        const n = Math.min(block.length - at, total - sent, window - (sent - got));
        const ok = s.write(block.subarray(at, at + n));
        sent += n;
        if (!ok) {
          waiting = true;
          s.once('drain', pump);
          return;
        }
      }
    };
    s.on('data', (d) => {
      // the block repeats, so the echo at offset `got` must equal block[got % len …]
      for (let i = 0; i < d.length;) {
        const at = (got + i) % block.length;
        const n = Math.min(d.length - i, block.length - at);
        if (d.compare(block, at, at + n, i, i + n) !== 0) {
          reject(new Error(`corrupt echo at byte ${got + i}`));
          s.destroy();
          return;
        }
        i += n;
      }
      got += d.length;
      if (got > total) reject(new Error('extra bytes'));
      else if (got === total) {
        s.destroy();
        resolve();
      } else if (!waiting && (window - (sent - got) >= 16384 || total - sent < 16384)) {
        pump(); // refill in record-sized writes, not one tiny TLS record per echoed chunk
      }
    });
    s.once('close', () => (got < total ? reject(new Error(`closed after ${got} bytes`)) : 0));
    s.once('error', reject);
    pump();
  });
}

async function stream() {
  const total = Number(opt('--mib', 64)) * 1024 * 1024;
  const window = Number(opt('--window', 65536));
  const block = randomBytes(Math.min(window, 16384) * 4 + 7); // not a multiple of any record size
  const sockets = await Promise.all(Array.from({ length: conns }, open));
  const t0 = process.hrtime.bigint();
  await Promise.all(sockets.map((s) => streamOne(s, block, total, window)));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  return { mbps: (total * conns) / 1e6 / secs, seconds: secs, bytes: total * conns };
}

async function pingpong() {
  const size = Number(opt('-s', 64));
  const duration = Number(opt('-d', 1)) * 1000;
  const warmup = Number(opt('--warmup', 0.3)) * 1000;
  const sockets = await Promise.all(Array.from({ length: conns }, open));
  const lat = [];
  let counting = false;
  let stop = false;
  let trips = 0;
  const one = (s) =>
    new Promise((resolve, reject) => {
      const msg = randomBytes(size);
      let got = 0;
      let t = process.hrtime.bigint();
      s.on('data', (d) => {
        if (d.compare(msg, got, got + d.length) !== 0) return reject(new Error('corrupt echo'));
        got += d.length;
        if (got < size) return;
        const now = process.hrtime.bigint();
        if (counting) {
          trips++;
          lat.push(Number(now - t) / 1000);
        }
        got = 0;
        if (stop) return resolve();
        t = now;
        s.write(msg);
      });
      s.once('error', reject);
      s.write(msg);
    });
  const all = Promise.all(sockets.map(one));
  await new Promise((r) => setTimeout(r, warmup));
  counting = true;
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, duration));
  counting = false;
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  stop = true;
  await all;
  for (const s of sockets) s.destroy();
  lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? 0;
  return { rps: trips / secs, p50_us: q(0.5), p99_us: q(0.99) };
}

const guard = setTimeout(() => {
  console.log(JSON.stringify({ error: 'timed out' }));
  process.exit(1);
}, HARD_LIMIT_MS);
try {
  const result = kind === 'stream' ? await stream() : await pingpong();
  console.log(JSON.stringify(result));
  clearTimeout(guard);
} catch (err) {
  console.log(JSON.stringify({ error: String(err?.message ?? err) }));
  process.exitCode = 1;
  clearTimeout(guard);
}
