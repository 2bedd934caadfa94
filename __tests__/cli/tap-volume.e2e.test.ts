/**
 * The tap under volume: `-o` of a 64 MiB echo holds both directions completely and
 * in an order that could have happened; the hex dump and the raw log of a 256 MiB
 * transfer lose no byte (the dump is read as it is written and checked row by row:
 * every offset follows the one before, every byte is the one sent).
 */
import { describe, expect, test } from '@jest/globals';
import { createReadStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import type { Writable } from 'node:stream';
import { start } from '../helpers/cli.js';
import { serve, stop, useServeTeardown } from './serve-helpers.js';

const { tmp, defer } = useServeTeardown();
const MiB = 1024 * 1024;

/** Byte `i` of a transfer: a lowercase letter (so that an upper-case echo can be told apart). */
function letter(i: number): number {
  return 97 + ((i * 7 + (i >>> 10)) % 26);
}

function chunkAt(offset: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i += 1) b[i] = letter(offset + i);
  return b;
}

/** Write `total` pattern bytes to `stdin`, with backpressure, then end it. */
async function feed(stdin: Writable, total: number): Promise<void> {
  for (let off = 0; off < total; off += MiB) {
    if (!stdin.write(chunkAt(off, Math.min(MiB, total - off)))) await once(stdin, 'drain');
  }
  stdin.end();
}

/** Exit code and a hash of stdout of a client fed `total` pattern bytes. */
async function client(
  args: string[],
  total: number,
): Promise<{ code: number | null; sha: string }> {
  const child = start(args, { keepStdin: true });
  const hash = createHash('sha256');
  child.stdout.on('data', (c: Buffer) => hash.update(c));
  const closed = once(child, 'close') as Promise<[number | null]>;
  await feed(child.stdin, total);
  const [code] = await closed;
  return { code, sha: hash.digest('hex') };
}

function shaOf(total: number, map: (b: number) => number = (b) => b): string {
  const hash = createHash('sha256');
  for (let off = 0; off < total; off += MiB) {
    const c = chunkAt(off, Math.min(MiB, total - off));
    for (let i = 0; i < c.length; i += 1) c[i] = map(c[i]!);
    hash.update(c);
  }
  return hash.digest('hex');
}

describe('the output log of a 64 MiB echo', () => {
  test('holds both directions completely, each byte after the one it answers', async () => {
    const total = 64 * MiB;
    const { dir } = tmp();
    const raw = join(dir, 'raw.bin');
    const s = await serve(['serve', 'tcp', '0', '-e', 'upper', '-o', raw]);
    const r = await client(['connect', '127.0.0.1', String(s.port)], total);
    expect(r.code).toBe(0);
    expect(r.sha).toBe(shaOf(total, (b) => b - 32));
    expect(await stop(s)).toBe(0);
    const log = readFileSync(raw);
    expect(log.length).toBe(2 * total);
    let inAt = 0;
    let outAt = 0;
    let bad = 0;
    for (let i = 0; i < log.length; i += 1) {
      const b = log[i]!;
      if (b >= 97) {
        if (b !== letter(inAt++)) bad += 1;
      } else if (b !== letter(outAt++) - 32 || outAt > inAt) bad += 1;
    }
    expect({ inAt, outAt, bad }).toEqual({ inAt: total, outAt: total, bad: 0 });
  }, 120_000);
});

/** Checks a server's hex dump row by row as it streams in; see the module comment. */
class DumpCheck {
  /** The next offset expected, which is also the number of bytes checked. */
  next = 0;
  problems: string[] = [];
  #rest = Buffer.alloc(0);

  push(chunk: Buffer): void {
    const data = this.#rest.length > 0 ? Buffer.concat([this.#rest, chunk]) : chunk;
    let start = 0;
    for (let nl = data.indexOf(10); nl !== -1; nl = data.indexOf(10, start)) {
      this.#line(data, start, nl);
      start = nl + 1;
    }
    this.#rest = Buffer.from(data.subarray(start));
  }

  #line(d: Buffer, s: number, end: number): void {
    // `[1] < 00000000  xx xx … |…|`; other lines (the banner, the header, the summary) pass
    if (d[s] !== 0x5b || d[s + 4] !== 0x3c) return;
    const offset = parseInt(d.toString('latin1', s + 6, s + 14), 16);
    if (offset !== this.next && this.problems.length < 5) {
      this.problems.push(`offset ${offset} where ${this.next} was due`);
    }
    const hex = s + 16;
    const n = end - 1 - (hex + 49 + 2); // the ASCII column's length
    for (let i = 0; i < n; i += 1) {
      const at = hex + i * 3 + (i >= 8 ? 1 : 0);
      const b = (nibble(d[at]!) << 4) | nibble(d[at + 1]!);
      if (b !== letter(offset + i) && this.problems.length < 5) {
        this.problems.push(`byte ${offset + i} is ${b}`);
      }
    }
    this.next = offset + n;
  }
}

function nibble(c: number): number {
  return c <= 0x39 ? c - 0x30 : c - 0x57;
}

describe('a 256 MiB transfer', () => {
  test('the hex dump and the raw log lose no byte', async () => {
    const total = 256 * MiB;
    const { dir } = tmp();
    const raw = join(dir, 'raw.bin');
    const check = new DumpCheck();
    const server = start(['serve', 'tcp', '0', '-e', 'discard', '-x', '-', '-o', raw], {
      keepStdin: true,
    }) as ChildProcessWithoutNullStreams;
    defer(() => server.kill('SIGKILL'));
    let banner = '';
    const port = await new Promise<number>((resolve, reject) => {
      server.stderr.on('data', (c: Buffer) => {
        check.push(c);
        if (banner.length > 1000) return; // the banner is the first line
        banner += c.toString('latin1', 0, Math.min(c.length, 200));
        const m = /listening on tcp:\/\/127\.0\.0\.1:(\d+)/.exec(banner);
        if (m) resolve(Number(m[1]));
      });
      server.once('close', () => reject(new Error(`server exited: ${banner}`)));
    });
    const r = await client(['connect', '127.0.0.1', String(port)], total);
    expect(r.code).toBe(0);
    const closed = once(server, 'close') as Promise<[number | null]>;
    server.kill('SIGTERM');
    expect((await closed)[0]).toBe(0);
    expect(check.problems).toEqual([]);
    expect(check.next).toBe(total);
    const hash = createHash('sha256');
    for await (const c of createReadStream(raw)) hash.update(c as Buffer);
    expect(hash.digest('hex')).toBe(shaOf(total));
  }, 300_000);
});
