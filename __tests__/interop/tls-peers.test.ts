/**
 * TLS with real peers: `openssl s_client` against `sockit serve tcp --tls`, and
 * `sockit connect --tls` against `openssl s_server`, each with the right CA, the
 * wrong CA, an expired certificate (and, for sockit's client, the right and a
 * wrong --pin and a wrong name); curl --cacert against the http-hello example;
 * Python's ssl client pinned by fingerprint against a throwaway certificate;
 * Python's ssl server reading to EOF before it answers `send --tls` (half-close);
 * mutual TLS accepted, missing and from another CA, both ways. The certificates
 * are made in the test (helpers/pki.ts). A test whose peer is missing is skipped.
 */
import { afterAll, afterEach, beforeAll, describe, expect } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { run, startServer } from '../helpers/cli.js';
import { writePki, type Pki } from '../helpers/pki.js';
import { PYTHON, hasCommand, killPeers, runPeer, startPeer, type Peer } from './interop-helpers.js';
import { testIf } from '../helpers/skip.js';

const OPENSSL = hasCommand('openssl') ? undefined : 'openssl is not installed';
const CURL = hasCommand('curl') ? undefined : 'curl is not installed';
const withOpenssl = testIf(OPENSSL, import.meta.url);
const withCurl = testIf(CURL, import.meta.url);
const withPython = testIf(PYTHON ? undefined : 'python3 is not installed', import.meta.url);
const HELLO = fileURLToPath(new URL('../../examples/http-hello.js', import.meta.url));
const GET = 'GET /tls HTTP/1.0\r\n\r\n';

let pki: Pki;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sk-tlsi-'));
  pki = await writePki(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const servers: { child: ChildProcess }[] = [];
afterEach(async () => {
  await killPeers();
  for (const s of servers.splice(0)) if (s.child.exitCode === null) s.child.kill('SIGKILL');
});

/** `sockit serve tcp 0 --tls …` with the http-hello handler (unless args say otherwise). */
async function sockitServer(args: string[]) {
  const s = await startServer(['serve', 'tcp', '0', '--tls', '-e', HELLO, ...args]);
  servers.push(s);
  return s;
}

/** `openssl s_server` on a free port: `-www` answers a GET with a status page, then closes. */
async function sServer(cert: string, extra: string[] = []): Promise<{ peer: Peer; port: number }> {
  const peer = await startPeer(
    'openssl',
    [
      's_server',
      '-accept',
      '127.0.0.1:0',
      '-cert',
      pki.file(cert),
      '-key',
      pki.file(cert, 'key'),
      '-www',
      ...extra,
    ],
    { keepStdin: true, ready: /ACCEPT 127\.0\.0\.1:\d+/ },
  );
  const port = Number(
    /ACCEPT 127\.0\.0\.1:(\d+)/.exec(`${peer.stdout().toString()}${peer.stderr()}`)![1],
  );
  return { peer, port };
}

/** `openssl s_client` sending a GET and printing the reply (-quiet: waits for the server to close). */
function sClient(port: number, args: string[]) {
  return runPeer(
    'openssl',
    ['s_client', '-connect', `127.0.0.1:${port}`, '-verify_return_error', '-quiet', ...args],
    GET,
  );
}

describe('openssl s_client → sockit serve tcp --tls', () => {
  withOpenssl('the right CA: verified, and the handler answers over TLS', async () => {
    const s = await sockitServer([
      '--cert',
      pki.file('server'),
      '--key',
      pki.file('server', 'key'),
    ]);
    const r = await sClient(s.port, ['-CAfile', pki.file('ca'), '-verify_hostname', 'localhost']);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toMatch(
      /^HTTP\/1\.1 200 OK\r\n[\s\S]*hello from sockit: GET \/tls over TLS\n$/,
    );
  });

  withOpenssl('the wrong CA: exit 1, unable to get local issuer certificate', async () => {
    const s = await sockitServer([
      '--cert',
      pki.file('server'),
      '--key',
      pki.file('server', 'key'),
    ]);
    const r = await sClient(s.port, ['-CAfile', pki.file('otherCa')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('verify error:num=20:unable to get local issuer certificate');
    expect(r.stdout.length).toBe(0);
  });

  withOpenssl('an expired certificate: exit 1, certificate has expired', async () => {
    const s = await sockitServer([
      '--cert',
      pki.file('expired'),
      '--key',
      pki.file('expired', 'key'),
    ]);
    const r = await sClient(s.port, ['-CAfile', pki.file('ca')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('verify error:num=10:certificate has expired');
  });

  withOpenssl(
    'mutual TLS: a client certificate of the CA is served, none or another CA’s is not (one -v line each)',
    async () => {
      const s = await sockitServer([
        '--cert',
        pki.file('server'),
        '--key',
        pki.file('server', 'key'),
        '--client-ca',
        pki.file('ca'),
        '-v',
      ]);
      const ca = ['-CAfile', pki.file('ca')];
      const good = await sClient(s.port, [
        ...ca,
        '-cert',
        pki.file('client'),
        '-key',
        pki.file('client', 'key'),
      ]);
      expect(good.stdout.toString()).toContain('hello from sockit: GET /tls over TLS');
      const none = await sClient(s.port, ca);
      expect(none.stdout.toString()).toBe('');
      expect(none.stderr).toMatch(/alert certificate required/);
      const other = await sClient(s.port, [
        ...ca,
        '-cert',
        pki.file('otherClient'),
        '-key',
        pki.file('otherClient', 'key'),
      ]);
      expect(other.stdout.toString()).toBe('');
      await waitFor(s, () => (s.stderr().match(/TLS handshake with /g) ?? []).length >= 2);
      expect(s.stderr()).toMatch(
        /TLS handshake with 127\.0\.0\.1:\d+ failed — no client certificate \(mutual TLS demands one\)\n/,
      );
      expect(s.stderr()).toMatch(
        /TLS handshake with 127\.0\.0\.1:\d+ failed — client certificate not signed by the client CA \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)\n/,
      );
    },
  );
});

/** Resolves once `ok()` holds, checked as the server writes to stderr. */
function waitFor(s: { child: ChildProcess }, ok: () => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (!ok()) return;
      s.child.stderr!.off('data', check);
      resolve();
    };
    s.child.stderr!.on('data', check);
    s.child.once('close', () => (ok() ? resolve() : reject(new Error('server exited'))));
    check();
  });
}

describe('sockit connect --tls → openssl s_server', () => {
  const connect = (port: number, args: string[]) =>
    run(['connect', '--tls', ...args, '127.0.0.1', String(port)], { input: GET });

  withOpenssl('the right CA (--ca): verified by IP SAN, the reply arrives', async () => {
    const { port } = await sServer('server');
    const r = await connect(port, ['--ca', pki.file('ca')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toMatch(/^HTTP\/1\.0 200 ok\r\n/);
  });

  withOpenssl('no CA for it: exit 1, an unknown CA named, --ca suggested', async () => {
    const { port } = await sServer('server');
    const r = await connect(port, ['--ca', pki.file('otherCa')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `sockit: TLS: the certificate of 127.0.0.1:${port} is signed by an unknown CA, 'sockit test CA' (UNABLE_TO_VERIFY_LEAF_SIGNATURE) — trust that CA with --ca <file>\n`,
    );
    expect(r.stdout.length).toBe(0);
  });

  withOpenssl('--pin of its fingerprint: accepted without any CA', async () => {
    const { port } = await sServer('server');
    const r = await connect(port, [
      '--pin',
      `sha256:${pki.server.fingerprint256.replace(/:/g, '').toLowerCase()}`,
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toMatch(/^HTTP\/1\.0 200 ok\r\n/);
  });

  withOpenssl('--pin of another fingerprint: exit 1, both named, not a byte sent', async () => {
    const { peer, port } = await sServer('server');
    const r = await connect(port, ['--pin', `sha256:${pki.ca.fingerprint256}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `sockit: TLS: the certificate of 127.0.0.1:${port} is sha256:${pki.server.fingerprint256}, not the --pin sha256:${pki.ca.fingerprint256}\n`,
    );
    expect(peer.stdout().toString()).not.toContain('GET /tls');
  });

  withOpenssl(
    'an expired certificate: exit 1, expired named, even with the right CA or its pin',
    async () => {
      const { port } = await sServer('expired', ['-naccept', '2']);
      for (const trust of [
        ['--ca', pki.file('ca')],
        ['--pin', `sha256:${pki.expired.fingerprint256}`],
      ]) {
        const r = await connect(port, trust);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(
          new RegExp(
            `^sockit: TLS: the certificate of 127\\.0\\.0\\.1:${port} expired on \\S+Z \\(CERT_HAS_EXPIRED\\) — it must be renewed on the server; only --insecure would accept it\\n$`,
          ),
        );
      }
    },
  );

  withOpenssl(
    'a name the certificate is not for: exit 1, its names listed, --servername suggested',
    async () => {
      const { port } = await sServer('server');
      const r = await connect(port, ['--ca', pki.file('ca'), '--servername', 'example.com']);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        `sockit: TLS: the certificate of 127.0.0.1:${port} is not for 'example.com' but for IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:localhost (ERR_TLS_CERT_ALTNAME_INVALID) — connect by one of those names, or name it with --servername <name>\n`,
      );
    },
  );

  withOpenssl(
    'mutual TLS: with --cert/--key of the CA the reply arrives; without, exit 1',
    async () => {
      const { port } = await sServer('server', [
        '-Verify',
        '1',
        '-CAfile',
        pki.file('ca'),
        '-naccept',
        '2',
      ]);
      const ok = await connect(port, [
        '--ca',
        pki.file('ca'),
        '--cert',
        pki.file('client'),
        '--key',
        pki.file('client', 'key'),
      ]);
      expect(ok.code).toBe(0);
      expect(ok.stdout.toString()).toMatch(/^HTTP\/1\.0 200 ok\r\n/);
      const none = await connect(port, ['--ca', pki.file('ca')]);
      expect(none.code).toBe(1);
      expect(none.stderr).toMatch(/certificate required/);
    },
  );
});

withCurl('curl --cacert → sockit serve tcp --tls -e ./examples/http-hello.js', async () => {
  const s = await sockitServer(['--cert', pki.file('server'), '--key', pki.file('server', 'key')]);
  const r = await runPeer('curl', [
    '-sS',
    '--cacert',
    pki.file('ca'),
    `https://localhost:${s.port}/curl`,
  ]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout.toString()).toBe('hello from sockit: GET /curl over TLS\n');
  const refused = await runPeer('curl', [
    '-sS',
    '--cacert',
    pki.file('otherCa'),
    `https://localhost:${s.port}/`,
  ]);
  expect(refused.code).toBe(60);
});

const PY_PINNED = `
import hashlib, socket, ssl, sys
host, port, pin = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE  # the pin below is the check
with socket.create_connection((host, port)) as raw:
    with ctx.wrap_socket(raw, server_hostname=None) as s:
        got = hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest().upper()
        if got != pin.replace(':', '').upper():
            sys.exit('pin mismatch: ' + got)
        s.sendall(b'hello tls\\n')
        data = b''
        while not data.endswith(b'\\n'):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        sys.stdout.write(s.version() + ' ' + data.decode())
`;

withPython(
  'Python ssl client → a throwaway certificate, pinned by the fingerprint the banner printed',
  async () => {
    const s = await startServer([
      'serve',
      'tcp',
      '0',
      '--tls',
      '-e',
      fileURLToPath(new URL('../../examples/reverse-lines.js', import.meta.url)),
    ]);
    servers.push(s);
    await waitFor(s, () => /certificate sha256:/.test(s.stderr()));
    const fp = /certificate sha256:([0-9A-F:]{95})/.exec(s.stderr())![1]!;
    const r = await runPeer('python3', ['-c', PY_PINNED, '127.0.0.1', String(s.port), fp]);
    expect(r.stderr).toBe('');
    expect(r.stdout.toString()).toBe('TLSv1.3 slt olleh\n');
    const wrong = await runPeer('python3', [
      '-c',
      PY_PINNED,
      '127.0.0.1',
      String(s.port),
      '00'.repeat(32),
    ]);
    expect(wrong.code).toBe(1);
  },
);

const PY_READS_TO_EOF = `
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
with socket.create_server(('127.0.0.1', 0)) as srv:
    print('port', srv.getsockname()[1], flush=True)
    conn, _ = srv.accept()
    with ctx.wrap_socket(conn, server_side=True) as s:
        data = b''
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.sendall(b'got %d bytes: ' % len(data) + data.upper())
        s.unwrap()
`;

withPython(
  'half-close over TLS: send --tls gets its reply from a Python server that reads to EOF',
  async () => {
    const py = await startPeer(
      'python3',
      ['-c', PY_READS_TO_EOF, pki.file('server'), pki.file('server', 'key')],
      {
        ready: /port \d+/,
      },
    );
    const port = /port (\d+)/.exec(py.stdout().toString())![1]!;
    const r = await run([
      'send',
      '--tls',
      '--ca',
      pki.file('ca'),
      'localhost',
      port,
      'hello',
      'over',
      'tls',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe('got 14 bytes: HELLO OVER TLS');
    expect(await py.exited).toBe(0);
  },
);
