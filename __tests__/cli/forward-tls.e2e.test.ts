/**
 * TLS on both sides of a relay, and on netcat's listen mode: 256 MiB through
 * tcp → sockit → tls:// (a TLS echo, verified with --ca), TLS termination in front
 * of a plain server with a verifying client (half-close through), an upstream whose
 * certificate is not trusted (the client is reset, one line, the server keeps
 * serving), the upstream verification flags' usage errors, and `listen --tls`
 * with a pinning `sockit connect --tls` (bytes exact both ways); `connect --exec --tls`.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { Buffer } from 'node:buffer';
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { finish, run, start } from '../helpers/cli.js';
import { writePki, type Pki } from '../helpers/pki.js';
import { dial, jsonEvents, serve, untilClosed, useServeTeardown } from './serve-helpers.js';
import { pumpAndHash, replyAfterEof, upstream } from './forward-helpers.js';

const { defer } = useServeTeardown();

let dir: string;
let pki: Pki;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sk-fwd-tls-'));
  pki = await writePki(dir);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A TLS echo on 127.0.0.1:0 with the test CA's server certificate; counts plaintext bytes in. */
async function tlsEcho(): Promise<{ port: number; bytesIn: () => number }> {
  let bytesIn = 0;
  const open = new Set<TLSSocket>();
  const server = createTlsServer(
    { cert: pki.server.cert, key: pki.server.key, allowHalfOpen: true },
    (socket) => {
      open.add(socket);
      socket.once('close', () => open.delete(socket));
      socket.on('error', () => undefined);
      socket.on('data', (c: Buffer) => (bytesIn += c.length));
      socket.pipe(socket);
    },
  );
  server.on('tlsClientError', () => undefined);
  // a connection whose handshake the relay refused never becomes a TLS socket here
  const raw = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    raw.add(socket);
    socket.once('close', () => raw.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  defer(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of open) s.destroy();
        for (const s of raw) s.destroy();
      }),
  );
  return { port: (server.address() as { port: number }).port, bytesIn: () => bytesIn };
}

/** `sockit serve tcp 0 --forward tls://127.0.0.1:<port>` with more flags. */
function relayTo(port: number, ...flags: string[]): ReturnType<typeof serve> {
  return serve(['serve', 'tcp', '0', '--forward', `tls://127.0.0.1:${port}`, ...flags]);
}

/** Send `text` to the relay on `port`, half-close, and read until it closes. */
async function roundTrip(port: number, text: string): Promise<string> {
  const c = await dial({ port });
  const got = untilClosed(c);
  c.end(text);
  return (await got).toString();
}

/** The error code a client that sends nothing sees (the relay resets it). */
async function resetFor(port: number): Promise<string | undefined> {
  const c = connect(port, '127.0.0.1');
  const [err] = (await once(c, 'error')) as [NodeJS.ErrnoException];
  return err.code;
}

describe('forwarding to tls://', () => {
  test('256 MiB tcp → tls:// (a TLS echo, verified with --ca), sha256-equal', async () => {
    const echo = await tlsEcho();
    const url = `tls://127.0.0.1:${echo.port}`;
    const s = await serve(['serve', 'tcp', '0', '--forward', url, '--ca', pki.file('ca')]);
    const client = await dial({ port: s.port });
    const r = await pumpAndHash(client, 256);
    expect(r.bytes).toBe(256 * 1024 * 1024);
    expect(r.received).toBe(r.sent);
  }, 180_000);

  test('--json: the relay reports plaintext bytes each way and the address reached', async () => {
    const echo = await tlsEcho();
    const url = `tls://localhost:${echo.port}`;
    const s = await serve([
      'serve',
      'tcp',
      '0',
      '--forward',
      url,
      '--ca',
      pki.file('ca'),
      '--json',
    ]);
    expect(await roundTrip(s.port, 'seven b')).toBe('seven b');
    const [ev] = jsonEvents((await s.waitFor(/\{"event":"forward".*\n/))[0]);
    expect(ev).toMatchObject({ upstream: url, bytesUp: 7, bytesDown: 7, reason: 'done' });
    expect(ev!.upstreamAddress).toEqual({ address: '127.0.0.1', port: echo.port });
  });

  test('an untrusted upstream certificate: the client is reset, one line names the reason, the server keeps serving', async () => {
    const echo = await tlsEcho();
    const url = `tls://127.0.0.1:${echo.port}`;
    const s = await serve(['serve', 'tcp', '0', '--forward', url]);
    expect(await resetFor(s.port)).toBe('ECONNRESET');
    await s.waitFor(/, client reset\n/);
    const lines = s
      .stderr()
      .split('\n')
      .filter((l) => l !== '');
    expect(lines).toEqual([
      expect.stringMatching(/^listening on tcp:/),
      expect.stringMatching(
        new RegExp(
          `^sockit: forward 127\\.0\\.0\\.1:\\d+ → tls://127\\.0\\.0\\.1:${echo.port} failed: TLS: the certificate of 127\\.0\\.0\\.1:${echo.port} is signed by an unknown CA, 'sockit test CA' \\(UNABLE_TO_VERIFY_LEAF_SIGNATURE\\) — trust that CA with --ca <file>, client reset$`,
        ),
      ),
    ]);
    expect(echo.bytesIn()).toBe(0);
    // still serving: the next client is accepted (and reset the same way)
    expect(await resetFor(s.port)).toBe('ECONNRESET');
    expect(s.child.exitCode).toBeNull();
  });

  test('--json: a wrong --pin is an upstream-failed event with tlsFailure pin-mismatch', async () => {
    const echo = await tlsEcho();
    const wrong = `sha256:${pki.otherCa.fingerprint256}`;
    const url = `tls://127.0.0.1:${echo.port}`;
    const s = await serve(['serve', 'tcp', '0', '--forward', url, '--pin', wrong, '--json']);
    expect(await resetFor(s.port)).toBe('ECONNRESET');
    const [ev] = jsonEvents((await s.waitFor(/\{"event":"forward".*\n/))[0]);
    expect(ev).toMatchObject({
      reason: 'upstream-failed',
      code: 'PIN_MISMATCH',
      tlsFailure: 'pin-mismatch',
    });
    expect(ev!.message).toMatch(/^TLS: the certificate of 127\.0\.0\.1:\d+ is sha256:/);
  });

  test('--pin of the right certificate replaces the CA check', async () => {
    const echo = await tlsEcho();
    const pin = `sha256:${pki.server.fingerprint256}`;
    const s = await relayTo(echo.port, '--pin', pin);
    expect(await roundTrip(s.port, 'pinned')).toBe('pinned');
  });
});

describe('TLS termination: serve --tls --forward tcp://', () => {
  test('a verifying client is relayed to a plain server; its half-close passes through', async () => {
    const u = await upstream(replyAfterEof);
    defer(() => u.close());
    const s = await serve([
      'serve',
      'tcp',
      '0',
      '--tls',
      '--cert',
      pki.file('server'),
      '--key',
      pki.file('server', 'key'),
      '--forward',
      u.url,
    ]);
    expect(s.url).toBe(`tls://127.0.0.1:${s.port}`);
    const c = tlsConnect({ host: '127.0.0.1', port: s.port, ca: pki.ca.cert });
    await once(c, 'secureConnect');
    expect(c.authorized).toBe(true);
    const chunks: Buffer[] = [];
    c.on('data', (b: Buffer) => chunks.push(b));
    c.end('twelve bytes');
    await once(c, 'close');
    expect(Buffer.concat(chunks).toString()).toBe('got 12 bytes');
    const r = await run([
      'send',
      '--tls',
      '--ca',
      pki.file('ca'),
      'localhost',
      String(s.port),
      'abc',
    ]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout.toString()).toBe('got 3 bytes');
  });
});

describe('usage', () => {
  test.each([
    [
      ['serve', 'tcp', '0', '--pin', 'sha256:00'],
      /^sockit: --pin needs --forward tls:\/\/host:port\n$/,
    ],
    [
      ['serve', 'tcp', '0', '--forward', 'tcp://127.0.0.1:9', '--insecure'],
      /^sockit: --insecure needs --forward tls:\/\/host:port\n$/,
    ],
    [['serve', 'tcp', '0', '--forward', 'tls://127.0.0.1:9', '--pin', 'sha256:00'], /invalid pin/],
    [
      ['serve', 'tcp', '0', '--forward', 'tls://127.0.0.1:9', '--insecure', '--ca', '/nonexistent'],
      /--insecure turns verification off — it excludes --pin and --ca/,
    ],
    [['serve', 'udp', '0', '--forward', 'tls://127.0.0.1:9'], /cannot forward datagrams to tls:/],
    [['serve', 'udp', '0', '--insecure'], /unknown option '--insecure'/],
  ])('%j: one line, exit 2', async (args, re) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(re);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  test('--insecure on a tls:// forward warns once at start', async () => {
    const echo = await tlsEcho();
    const s = await relayTo(echo.port, '--insecure');
    expect(s.stderr()).toMatch(
      /^sockit: warning: --insecure: the upstream's certificate is not verified — anyone on the path can read and change the traffic\n/,
    );
    expect(await roundTrip(s.port, 'unverified')).toBe('unverified');
  });
});

describe('listen --tls', () => {
  test('a throwaway certificate, tls:// banner and fingerprint; a pinned sockit connect: bytes exact both ways', async () => {
    const l = await serve(['listen', '--tls', '0']);
    expect(l.url).toBe(`tls://127.0.0.1:${l.port}`);
    const fp = (
      await l.waitFor(/certificate (sha256:(?:[0-9A-F]{2}:){31}[0-9A-F]{2}) \(throwaway/)
    )[1]!;
    const up = randomBytes(1024 * 1024);
    const down = randomBytes(1024 * 1024);
    const client = start(['connect', '--tls', '--pin', fp, '127.0.0.1', String(l.port)], {
      keepStdin: true,
    });
    const result = finish(client);
    // the client's stdin stays open (an EOF from the peer ends a listen connection); the
    // listener's stdin ends once the client's bytes arrived: its half-close ends the client
    client.stdin.write(up);
    await new Promise<void>((resolve, reject) => {
      const early = (): void => reject(new Error(`listen exited: ${l.stderr()}`));
      const check = (): void => {
        if (l.stdout().length < up.length) return;
        l.child.stdout.off('data', check);
        l.child.off('close', early);
        resolve();
      };
      l.child.stdout.on('data', check); // after serve()'s own collector: it has the chunk
      l.child.once('close', early);
      check();
    });
    l.child.stdin.end(down);
    const r = await result;
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout.equals(down)).toBe(true);
    expect(await l.exited).toBe(0);
    expect(l.stdout().equals(up)).toBe(true);
  }, 60_000);

  test('listen -u --tls is refused: TLS is for streams', async () => {
    const r = await run(['listen', '-u', '--tls', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('sockit: --tls works on stream sockets — not on datagrams\n');
  });
});

describe('connect --exec/--sh-exec --tls', () => {
  test('the program talks plaintext over the verified TLS connection; unverified: exit 1, no program', async () => {
    const s = await serve(['serve', 'tcp', '0', '--tls', '-e', 'upper']);
    const pin = `sha256:${(await s.waitFor(/certificate sha256:(\S+) \(throwaway/))[1]!}`;
    const program = 'printf hello; exec 1>&-; cat >&2';
    const args = ['127.0.0.1', String(s.port)];
    const r = await run(['connect', '--tls', '--pin', pin, '--sh-exec', program, ...args]);
    expect(r).toMatchObject({ code: 0, stderr: 'HELLO' });
    expect(r.stdout.length).toBe(0);
    const refused = await run(['connect', '--tls', '--sh-exec', 'echo ran >&2', ...args]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /^sockit: TLS: the certificate of 127\.0\.0\.1:\d+ is self-signed/,
    );
    expect(refused.stderr).not.toMatch(/ran/);
  });
});
