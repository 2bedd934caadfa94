/**
 * `--allow` / `--deny` are checked before any byte is read: a refused client's bytes
 * never reach the handler (a recording handler module writes what it gets to a
 * file), in every concurrency mode, for TCP and UDP. A positive control shows the
 * recorder works. And the kernel agrees: a refused client whose bytes were waiting
 * unread gets a reset (RST), not an orderly close.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { Buffer } from 'node:buffer';
import { serve, stop, stopAll, udpClient, waitForText } from '../cli/serve-helpers.js';

let dir: string;
let recorder: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sk-acl-'));
  recorder = join(dir, 'record.mjs');
  // a plain function handler: appends what it is given to $SOCKIT_RECORD, echoes it
  writeFileSync(
    recorder,
    `import { appendFileSync } from 'node:fs';
export default function record(data) {
  appendFileSync(process.env.SOCKIT_RECORD, data);
  return data;
}
`,
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await stopAll();
});

let n = 0;
function recordFile(): string {
  n += 1;
  return join(dir, `seen-${n}.bin`);
}

/**
 * Connect and send `data`; `written` resolves once the bytes are in the kernel (on
 * loopback: in the server's receive queue), `how` with how the server ended it.
 */
async function sendAndWatch(
  port: number,
  data: string,
  host = '127.0.0.1',
): Promise<{ written: Promise<unknown>; how: Promise<string> }> {
  const s = connect(port, host);
  sockets.push(s);
  await once(s, 'connect');
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  const how = new Promise<string>((resolve) => {
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    s.once('close', () => resolve(chunks.length ? `reply:${Buffer.concat(chunks)}` : 'closed'));
  });
  const written = new Promise((resolve) => s.write(data, resolve));
  return { written, how };
}

const MODES = ['async', 'sequential', 'threading', 'forking'] as const;
const MARKER = 'ACL-MARKER-7f3e';

describe('a refused TCP client: its bytes never reach the handler', () => {
  test.each(MODES)(
    '--mode %s: --deny 127.0.0.1 and --allow 10.0.0.0/8',
    async (mode) => {
      const extra = mode === 'threading' || mode === 'forking' ? ['-w', '1'] : [];
      for (const rule of [
        ['--deny', '127.0.0.1'],
        ['--allow', '10.0.0.0/8'],
      ]) {
        const seen = recordFile();
        const s = await serve(
          ['serve', 'tcp', '0', '-e', recorder, '-m', mode, ...extra, ...rule, '--json'],
          { SOCKIT_RECORD: seen },
        );
        const outcome = await (await sendAndWatch(s.port, MARKER)).how;
        await s.waitFor(/"event":"rejected"[^\n]*"reason":"access"/);
        expect(await stop(s)).toBe(0);
        expect(outcome).not.toMatch(/^reply:/);
        expect(existsSync(seen)).toBe(false);
        expect(s.stderr()).not.toMatch(/"event":"connection"/);
        expect(s.stderr()).toMatch(
          /"event":"summary"[^\n]*"requests":0,"rejected":1,"errors":0,"bytesIn":0,/,
        );
      }
      // the control: an allowed client is recorded by the same handler in the same mode
      const seen = recordFile();
      const ok = await serve(
        ['serve', 'tcp', '0', '-e', recorder, '-m', mode, ...extra, '--allow', '127.0.0.1'],
        { SOCKIT_RECORD: seen },
      );
      const c = connect(ok.port, '127.0.0.1');
      sockets.push(c);
      await once(c, 'connect');
      const back = once(c, 'data');
      c.write(MARKER);
      expect(String((await back)[0])).toBe(MARKER);
      expect(readFileSync(seen, 'utf8')).toBe(MARKER);
    },
    30_000,
  );

  test('a denied client is refused as it arrives, even while the server is busy, its bytes unread', async () => {
    // sequential, dual-stack: an allowed ::1 client holds the server; a denied
    // 127.0.0.1 client does not wait for its turn to be refused (access before capacity)
    const v6 = await new Promise<boolean>((resolve) => {
      const probe = createServer().listen(0, '::1', () => probe.close(() => resolve(true)));
      probe.once('error', () => resolve(false));
    });
    if (!v6) return; // no IPv6 loopback here
    const seen = recordFile();
    const s = await serve(
      [
        'serve',
        'tcp',
        '0',
        '-H',
        '::',
        '-m',
        'sequential',
        '-e',
        recorder,
        '--deny',
        '127.0.0.1',
        '-v',
      ],
      { SOCKIT_RECORD: seen },
    );
    const first = connect(s.port, '::1');
    sockets.push(first);
    await once(first, 'connect');
    const echoed = once(first, 'data');
    first.write('first');
    await echoed; // the first request is being handled: the server is busy
    const denied = await sendAndWatch(s.port, `${MARKER}-queued`.repeat(100));
    // the first request still holds the server: the refusal did not wait for its end
    expect(['ECONNRESET', 'closed']).toContain(await denied.how);
    await s.waitFor(/refused \[::ffff:127\.0\.0\.1\]:\d+ — not allowed by --allow\/--deny/);
    first.end();
    expect(readFileSync(seen, 'utf8')).toBe('first');
  });
});

describe('a refused UDP sender: its datagram never reaches the handler', () => {
  test.each(['async', 'threading', 'forking'] as const)(
    '--mode %s',
    async (mode) => {
      const extra = mode === 'async' ? [] : ['-w', '1'];
      const seen = recordFile();
      const s = await serve(
        ['serve', 'udp', '0', '-e', recorder, '-m', mode, ...extra, '--deny', '127.0.0.0/8', '-v'],
        { SOCKIT_RECORD: seen },
      );
      const tx = await udpClient();
      tx.send(MARKER, s.port, '127.0.0.1');
      await waitForText(s.child, s.stderr, /refused 127\.0\.0\.1:\d+ — not allowed/);
      tx.close();
      expect(await stop(s)).toBe(0);
      expect(existsSync(seen)).toBe(false);
      expect(s.stderr()).toMatch(/stopped: 0 datagrams, 1 refused/);
    },
    30_000,
  );
});
