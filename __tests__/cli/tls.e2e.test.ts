/**
 * `--tls` through the CLI: the banners (`tls://`, `tls+unix://`, the fingerprint
 * line, the JSON event), verification on by default (a throwaway certificate is
 * refused until pinned; `--insecure` warns), failed handshakes as one line with -v
 * or --json and silence otherwise, probes of a TLS, a plain and a closed port,
 * `--warn-days`, 64 MiB through a TLS echo, half-close with `send --tls`, every
 * mode, and the usage mistakes (exit 2).
 */
import { describe, expect, test } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { once } from 'node:events';
import { Buffer } from 'node:buffer';
import { run, start } from '../helpers/cli.js';
import { tempSocketPath } from '../helpers/loopback.js';
import { freePort } from '../clients/peers.js';
import { serve, useServeTeardown, type Served } from './serve-helpers.js';

useServeTeardown();

/** A probe's JSON line, as far as these tests read it. */
interface ProbeJson {
  readonly peer: { readonly address: string; readonly port: number };
  readonly tls?: { readonly validTo: string };
  readonly [field: string]: unknown;
}

const FP = /certificate sha256:((?:[0-9A-F]{2}:){31}[0-9A-F]{2}) /;

/** A `serve … --tls` server and the pin of its throwaway certificate. */
async function tlsServer(args: string[]): Promise<Served & { pin: string }> {
  const s = await serve(args);
  const fp = (await s.waitFor(FP))[1]!;
  return { ...s, pin: `sha256:${fp}` };
}

describe('serve --tls', () => {
  test('banner tls://…, then the fingerprint of the throwaway certificate; a pinned client is served', async () => {
    const s = await tlsServer(['serve', 'tcp', '0', '--tls']);
    expect(s.stderr()).toMatch(
      /^listening on tls:\/\/127\.0\.0\.1:\d+\ncertificate sha256:[0-9A-F:]{95} \(throwaway, self-signed, valid until \S+Z\) — clients pin it with --pin sha256:…\n$/,
    );
    const r = await run(['connect', '--tls', '--pin', s.pin, '127.0.0.1', String(s.port)], {
      input: 'pinned\n',
    });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout.toString()).toBe('pinned\n');
  });

  test('verification is on by default: the self-signed certificate is refused (exit 1) and the pin suggested', async () => {
    const s = await tlsServer(['serve', 'tcp', '0', '--tls', '-v']);
    const r = await run(['connect', '--tls', '127.0.0.1', String(s.port)], { input: 'secret\n' });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `sockit: TLS: the certificate of 127.0.0.1:${s.port} is self-signed (DEPTH_ZERO_SELF_SIGNED_CERT) — pin it with --pin ${s.pin} if that is the fingerprint the server printed, or trust it with --ca <file>\n`,
    );
    const sent = await run(['send', '--tls', '--pin', s.pin, '127.0.0.1', String(s.port), 'after']);
    expect(sent.stdout.toString()).toBe('after');
    // the refused client's connection ended before its handler ever read a byte
    await s.waitFor(/connection from .*: 5 bytes in/);
    expect(s.stderr()).not.toMatch(/: 7 bytes in/);
  });

  test('--insecure: one warning line, and the exchange goes through', async () => {
    const s = await tlsServer(['serve', 'tcp', '0', '--tls', '-e', 'upper']);
    const r = await run(['send', '--tls', '--insecure', '127.0.0.1', String(s.port), 'hi']);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe('HI');
    expect(r.stderr).toBe(
      "sockit: warning: --insecure: the server's certificate is not verified — anyone on the path can read and change the traffic\n",
    );
  });

  test('serve unix --tls: banner tls+unix://, connect --unix --tls', async () => {
    const t = tempSocketPath();
    try {
      const s = await tlsServer(['serve', 'unix', t.path, '--tls']);
      expect(s.url).toBe(`tls+unix://${t.path}`);
      const r = await run(['connect', '--tls', '--pin', s.pin, '--unix', t.path], { input: 'u' });
      expect(r.stdout.toString()).toBe('u');
    } finally {
      t.cleanup();
    }
  });

  test('a plain client: one line with -v, one tls-error event with --json, nothing otherwise', async () => {
    const plain = async (port: number): Promise<void> => {
      const c = connect(port, '127.0.0.1');
      c.on('error', () => undefined);
      c.end('hello?\n');
      await once(c, 'close');
    };
    const verbose = await tlsServer(['serve', 'tcp', '0', '--tls', '-v']);
    await plain(verbose.port);
    await verbose.waitFor(/TLS handshake with 127\.0\.0\.1:\d+ failed — .*\n/);
    expect(verbose.stderr()).toMatch(
      /TLS handshake with 127\.0\.0\.1:\d+ failed — not a TLS client \((wrong version number|packet length too long|unknown protocol)\)\n/,
    );
    const json = await serve(['serve', 'tcp', '0', '--tls', '--json']);
    const listening = JSON.parse(json.stderr().split('\n')[0]!) as { tls: Record<string, unknown> };
    expect(listening.tls).toMatchObject({ throwaway: true, clientCertificates: false });
    expect(listening.tls.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    await plain(json.port);
    const [line] = await json.waitFor(/\{"event":"tls-error"[^\n]*\}\n/);
    expect(JSON.parse(line)).toMatchObject({
      code: expect.any(String),
      message: expect.stringMatching(/^not a TLS client/),
    });
    const quiet = await tlsServer(['serve', 'tcp', '0', '--tls']);
    await plain(quiet.port);
    const after = await run([
      'send',
      '--tls',
      '--pin',
      quiet.pin,
      '127.0.0.1',
      String(quiet.port),
      'x',
    ]);
    expect(after.stdout.toString()).toBe('x');
    expect(quiet.stderr().split('\n').filter(Boolean)).toHaveLength(2); // the two banner lines only
  });

  test.each(['threading', 'forking'])(
    '--mode %s: the same certificate, served by the workers',
    async (mode) => {
      const s = await tlsServer([
        'serve',
        'tcp',
        '0',
        '--tls',
        '-m',
        mode,
        '-w',
        '2',
        '-e',
        'upper',
      ]);
      for (let i = 0; i < 3; i++) {
        const r = await run([
          'send',
          '--tls',
          '--pin',
          s.pin,
          '127.0.0.1',
          String(s.port),
          `w${i}`,
        ]);
        expect(r.stdout.toString()).toBe(`W${i}`);
      }
    },
  );
});

describe('data over TLS', () => {
  test('64 MiB through a TLS echo come back sha256-equal', async () => {
    const s = await tlsServer(['serve', 'tcp', '0', '--tls', '-q']);
    const data = randomBytes(64 * 1024 * 1024);
    const child = start(['connect', '--tls', '--pin', s.pin, '127.0.0.1', String(s.port)], {
      keepStdin: true,
    });
    const hash = createHash('sha256');
    let bytes = 0;
    child.stdout.on('data', (c: Buffer) => {
      bytes += c.length;
      hash.update(c);
    });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.stdin.end(data);
    const [code] = (await once(child, 'close')) as [number];
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(bytes).toBe(data.length);
    expect(hash.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
  }, 120_000);

  test('half-close: send --tls gets the reply of a handler that reads to EOF', async () => {
    const s = await tlsServer(['serve', 'tcp', '0', '--tls', '-e', 'upper']);
    const r = await run(['send', '--tls', '--pin', s.pin, '--json', '127.0.0.1', String(s.port)], {
      input: 'read me to the end',
    });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.toString())).toMatchObject({
      sent: 18,
      received: 18,
      data: 'READ ME TO THE END',
    });
  });
});

describe('connect -z --tls', () => {
  test('a TLS port is open (with what the handshake found), a plain one is not (why), a closed one is closed', async () => {
    const tls = await tlsServer(['serve', 'tcp', '0', '--tls']);
    const plain = await serve(['serve', 'tcp', '0', '-e', 'daytime']);
    const closed = await freePort(); // bound and released: nothing listens there
    const ports = [tls.port, plain.port, closed].sort((a, b) => a - b).join(',');
    const r = await run(['connect', '-z', '--tls', '--json', '--pin', tls.pin, '127.0.0.1', ports]);
    expect(r.code).toBe(0);
    const results = r.stdout
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as ProbeJson);
    const by = (port: number) => results.find((x) => x.peer.port === port)!;
    expect(by(tls.port)).toMatchObject({
      open: true,
      state: 'open',
      errno: '0',
      tls: {
        protocol: 'TLSv1.3',
        cipher: expect.stringMatching(/^TLS_/),
        alpn: false,
        subjectCN: '127.0.0.1',
        issuerCN: '127.0.0.1',
        san: ['IP Address:127.0.0.1', 'DNS:localhost', 'IP Address:0:0:0:0:0:0:0:1'],
        daysLeft: 0,
        fingerprint256: tls.pin.slice('sha256:'.length),
      },
    });
    expect(Date.parse(by(tls.port).tls!.validTo) - Date.now()).toBeGreaterThan(23 * 3600 * 1000);
    expect(by(plain.port)).toMatchObject({
      open: false,
      state: 'tls-failed',
      errno: '0',
      tls: { reason: 'not-tls', message: expect.stringMatching(/does not speak TLS/) },
    });
    expect(by(closed)).toMatchObject({ open: false, state: 'closed', errno: 'ECONNREFUSED' });
    expect(by(closed).tls).toBeUndefined();
  });

  test('verification on by default; -v reports the certificate; --warn-days exits 1 when it expires too soon', async () => {
    const s = await tlsServer(['serve', 'tcp', '0', '--tls']);
    const port = String(s.port);
    const unpinned = await run(['connect', '-z', '-v', '--tls', '127.0.0.1', port]);
    expect(unpinned.code).toBe(1);
    expect(unpinned.stderr).toMatch(
      /^127\.0\.0\.1 \d+ tls-failed — the certificate of .* is self-signed/,
    );
    const ok = await run([
      'connect',
      '-z',
      '-v',
      '--tls',
      '--pin',
      s.pin,
      '--warn-days',
      '0',
      '127.0.0.1',
      port,
    ]);
    expect(ok.code).toBe(0);
    expect(ok.stderr).toMatch(
      /^127\.0\.0\.1 \d+ open TLSv1\.3 TLS_\S+ CN=127\.0\.0\.1 issuer=127\.0\.0\.1 0 days left sha256:[0-9A-F:]{95}\n$/,
    );
    const soon = await run([
      'connect',
      '-z',
      '--tls',
      '--pin',
      s.pin,
      '--warn-days',
      '14',
      '127.0.0.1',
      port,
    ]);
    expect(soon.code).toBe(1);
    expect(soon.stderr).toMatch(
      new RegExp(
        `^sockit: the certificate of 127\\.0\\.0\\.1:${port} \\(CN=127\\.0\\.0\\.1\\) expires on \\S+Z \\(in 0 days\\) — within --warn-days 14\\n$`,
      ),
    );
  });
});

describe('usage (exit 2)', () => {
  test.each([
    [['connect', '--pin', 'sha256:00', '127.0.0.1', '1'], 'sockit: --pin needs --tls'],
    [['send', '--ca', 'x.pem', '127.0.0.1', '1', 'x'], 'sockit: --ca needs --tls'],
    [['connect', '-z', '--warn-days', '3', '127.0.0.1', '1'], 'sockit: --warn-days needs --tls'],
    [
      ['connect', '--tls', '--insecure', '--pin', 'sha256:00', '127.0.0.1', '1'],
      'sockit: --insecure turns verification off — it excludes --pin and --ca',
    ],
    [
      ['connect', '--tls', '-u', '127.0.0.1', '1'],
      'sockit: --tls works on stream sockets — not with -u/--datagram',
    ],
    [['serve', 'tcp', '0', '--cert', 'c.pem'], 'sockit: --cert needs --tls'],
    [
      ['serve', 'tcp', '0', '--tls', '--cert', '/nonexistent/c.pem', '--key', 'k.pem'],
      'sockit: cannot read --cert /nonexistent/c.pem — ENOENT',
    ],
    [
      ['serve', 'tcp', '0', '--tls', '--key', 'k.pem'],
      'sockit: --cert and --key go together (neither: a throwaway certificate)',
    ],
    [
      ['serve', 'unix', '/tmp/x.sock', '--datagram', '--tls'],
      'sockit: --tls works on stream sockets — not on datagrams',
    ],
  ])('%j', async (args, line) => {
    const r = await run(args);
    expect(r.stderr).toBe(`${line}\n`);
    expect(r.code).toBe(2);
  });

  test('a pin that is not sha256 and 64 hex digits', async () => {
    const r = await run(['connect', '--tls', '--pin', 'sha1:AB', '127.0.0.1', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^sockit: invalid pin 'sha1:AB' — expected sha256: and the certificate's 64 hex digits/,
    );
  });

  test('serve udp has no --tls', async () => {
    const r = await run(['serve', 'udp', '0', '--tls']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown option '--tls'/);
  });
});
