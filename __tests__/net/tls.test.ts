/**
 * The client side of TLS (net/tls.ts) against Node TLS servers on loopback: SNI
 * and ALPN, the handshake timeout and an abort, a peer that does not speak TLS,
 * and the pieces: pins, the trust store, the throwaway certificate's names,
 * OpenSSL errors on one line.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { createServer as createTlsServer, rootCertificates, type TLSSocket } from 'node:tls';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { Buffer } from 'node:buffer';
import { hostname } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  TlsClient,
  TlsError,
  tlsClientFor,
  tlsConnect,
  type TlsClientOptions,
} from '../../src/net/tls.js';
import { probe } from '../../src/clients/probe.js';
import { parsePin, pemBlocks, trustedCertificates } from '../../src/net/tls-trust.js';
import { throwawayNames } from '../../src/net/tls-cert.js';
import { oneLine } from '../../src/net/errors.js';
import { writePki, type Pki } from '../helpers/pki.js';
import { Teardown, collect } from '../helpers/loopback.js';

let pki: Pki;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sk-tlsn-'));
  pki = await writePki(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const teardown = new Teardown();
afterEach(() => teardown.run());

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  teardown.add(() => new Promise((r) => server.close(r)));
  return (server.address() as { port: number }).port;
}

async function tcp(port: number): Promise<Socket> {
  const s = connect(port, '127.0.0.1');
  teardown.add(() => s.destroy());
  await once(s, 'connect');
  return s;
}

describe('TlsClient', () => {
  test('sends the host name as SNI (never an IP), offers ALPN, verifies by name', async () => {
    const seen: (string | false)[] = [];
    const server = createTlsServer(
      { cert: pki.server.cert, key: pki.server.key, ALPNProtocols: ['h2', 'http/1.1'] },
      (s: TLSSocket) => {
        seen.push(s.servername ?? false);
        s.end();
      },
    );
    const port = await listen(server);
    const client = new TlsClient({ ca: pki.ca.cert, alpn: ['http/1.1'] });
    const byName = await client.secure(await tcp(port), 'localhost', 'localhost');
    expect(byName.alpnProtocol).toBe('http/1.1');
    expect(byName.authorized).toBe(true);
    // the server ends once it has seen the handshake through: its 'end' is our sync point
    await collect(byName);
    const byIp = await client.secure(await tcp(port), '127.0.0.1', '127.0.0.1');
    expect(byIp.authorized).toBe(true);
    await collect(byIp);
    expect(seen).toEqual(['localhost', false]);
  });

  test('a peer that answers in plain text: not-tls, with the fix named', async () => {
    // resume: a socket that never reads never sees the client's FIN, and never closes
    const server = createServer((s) => s.resume().end('SSH-2.0-OpenSSH_9.2\r\n'));
    const port = await listen(server);
    const err = await new TlsClient({ insecure: true })
      .secure(await tcp(port), '127.0.0.1', `127.0.0.1:${port}`)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TlsError);
    expect(err).toMatchObject({ reason: 'not-tls', code: 'SOCKIT_ERR_TLS_HANDSHAKE' });
    expect((err as Error).message).toMatch(
      new RegExp(
        `^TLS: 127\\.0\\.0\\.1:${port} does not speak TLS \\(.+\\) — a plain TCP port\\? drop --tls$`,
      ),
    );
  });

  test('a peer that never answers: the handshake times out; an abort ends it too', async () => {
    const held: Socket[] = [];
    const server = createServer((s) => held.push(s));
    const port = await listen(server);
    // before the server's close, which waits for its connections
    teardown.add(() => held.forEach((s) => s.destroy()));
    const client = new TlsClient({ insecure: true });
    await expect(
      client.secure(await tcp(port), undefined, 'silent', { timeoutMs: 100 }),
    ).rejects.toMatchObject({
      reason: 'handshake',
      message: 'TLS handshake with silent timed out after 0.1s (ETIMEDOUT)',
    });
    const ac = new AbortController();
    const pending = client.secure(await tcp(port), undefined, 'silent', { signal: ac.signal });
    ac.abort();
    await expect(pending).rejects.toMatchObject({ errno: 'ABORT_ERR' });
  });
});

describe('tlsConnect (the dial of every client and of a tls:// upstream)', () => {
  test('verifies by default: the CA given, a pin, or a refusal that names the fix', async () => {
    const server = createTlsServer({ cert: pki.server.cert, key: pki.server.key }, (s) =>
      s.end('hi'),
    );
    const port = await listen(server);
    const byCa = await tlsConnect(await tcp(port), { ca: pki.ca.cert }, { host: 'localhost' });
    expect((await collect(byCa)).toString()).toBe('hi');
    const pinned = await tlsConnect(
      await tcp(port),
      { pin: `sha256:${pki.server.fingerprint256}` },
      { host: '127.0.0.1' },
    );
    expect((await collect(pinned)).toString()).toBe('hi');
    await expect(
      tlsConnect(await tcp(port), {}, { host: 'localhost', label: `localhost:${port}` }),
    ).rejects.toMatchObject({
      reason: 'unknown-ca',
      code: 'SOCKIT_ERR_TLS_VERIFY',
      message: expect.stringMatching(
        new RegExp(
          `^TLS: the certificate of localhost:${port} is signed by an unknown CA, .+ — trust that CA with --ca <file>$`,
        ),
      ) as unknown,
    });
  });

  test('keeps the half-close of the socket it is given; over a unix socket too', async () => {
    const path = join(dir, 'tls.sock');
    const server = createTlsServer(
      { cert: pki.server.cert, key: pki.server.key, allowHalfOpen: true } as never,
      (s: TLSSocket) => {
        const got: Buffer[] = [];
        s.on('data', (d: Buffer) => got.push(d));
        s.on('end', () => s.end(`after EOF: ${Buffer.concat(got).toString()}`));
      },
    );
    server.listen(path);
    await once(server, 'listening');
    teardown.add(() => new Promise((r) => server.close(r)));
    const raw = connect({ path, allowHalfOpen: true });
    teardown.add(() => raw.destroy());
    await once(raw, 'connect');
    const secure = await tlsConnect(raw, { ca: pki.ca.cert, servername: 'localhost' });
    const reply = collect(secure);
    secure.end('request');
    expect((await reply).toString()).toBe('after EOF: request');
  });

  test('one client per options object (the trust store is parsed once)', () => {
    const options = { ca: pki.ca.cert };
    expect(tlsClientFor(options)).toBe(tlsClientFor(options));
    expect(tlsClientFor({ ...options })).not.toBe(tlsClientFor(options));
    const client = new TlsClient({ insecure: true });
    expect(tlsClientFor(client)).toBe(client);
  });
});

describe('TLS probes of a server that demands a client certificate', () => {
  test('without one: tls-failed, with the fix named; with one: open', async () => {
    const server = createTlsServer(
      {
        cert: pki.server.cert,
        key: pki.server.key,
        ca: pki.ca.cert,
        requestCert: true,
        rejectUnauthorized: true,
      },
      (s: TLSSocket) => s.resume(),
    );
    server.on('tlsClientError', () => undefined);
    const port = await listen(server);
    const scan = (tls: TlsClientOptions) => probe('127.0.0.1', String(port), { tls, timeout: 10 });
    const [refused] = await scan({ ca: pki.ca.cert });
    expect(refused).toMatchObject({
      open: false,
      state: 'tls-failed',
      tls: {
        failure: { reason: 'handshake', message: expect.stringMatching(/give --cert and --key$/) },
      },
    });
    const [served] = await scan({ ca: pki.ca.cert, cert: pki.client.cert, key: pki.client.key });
    expect(served).toMatchObject({ open: true, state: 'open', tls: { protocol: 'TLSv1.3' } });
  });
});

describe('pins', () => {
  const hex = 'ab'.repeat(32);
  const colon = hex.toUpperCase().match(/../g)!.join(':');
  test.each([
    `sha256:${hex}`,
    `SHA256:${hex.toUpperCase()}`,
    `sha256:${colon}`,
    ` sha256:${colon.toLowerCase()} `,
  ])('%s', (pin) => expect(parsePin(pin)).toBe(colon));
  test.each([
    '',
    hex,
    `sha1:${hex}`,
    `sha256:${hex.slice(2)}`,
    `sha256:${hex}00`,
    `sha256:${hex.replace('a', 'g')}`,
  ])('rejects %j', (pin) =>
    expect(() => parsePin(pin)).toThrow(
      /^invalid pin '.*' — expected sha256: and the certificate's 64 hex digits/,
    ),
  );
});

describe('trust', () => {
  test('--ca adds to the system CAs (an explicit list replaces Node’s default store)', () => {
    const list = trustedCertificates([pki.ca.cert])!;
    expect(list.slice(0, rootCertificates.length)).toEqual(rootCertificates);
    expect(list).toContain(pemBlocks(pki.ca.cert)[0]);
  });

  test('a PEM bundle splits into its certificates', () => {
    expect(pemBlocks(`${pki.ca.cert}\n${pki.otherCa.cert}`)).toHaveLength(2);
    expect(pemBlocks('no certificate here')).toEqual([]);
  });
});

describe('the throwaway certificate’s names', () => {
  test.each([
    [undefined, [hostname(), 'localhost', '127.0.0.1', '::1']],
    ['0.0.0.0', [hostname(), 'localhost', '127.0.0.1', '::1']],
    ['::', [hostname(), 'localhost', '127.0.0.1', '::1']],
    ['127.0.0.1', ['127.0.0.1', 'localhost', '::1']],
    ['192.0.2.7', ['192.0.2.7', 'localhost', '127.0.0.1', '::1']],
    ['example.test', ['example.test', 'localhost', '127.0.0.1', '::1']],
  ])('bind host %s', (host, names) => {
    expect(throwawayNames(host)).toEqual([...new Set(names)]);
  });
});

test('an OpenSSL error is its short reason and code on one line', () => {
  const err = Object.assign(
    new Error(
      '80:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:../ssl.c:1601:SSL alert number 116',
    ),
    {
      library: 'SSL routines',
      reason: 'tlsv13 alert certificate required',
      code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
    },
  );
  expect(oneLine(err)).toBe(
    'tlsv13 alert certificate required (ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED) — the peer demands a client certificate (--cert, --key)',
  );
});
