/**
 * TLS as a property of the stream transport, in every concurrency mode: the
 * handshake (in the worker process under forking), what a handler sees of its
 * connection (`getPeerCertificate()`, `authorized`, `getProtocol()`), mutual TLS
 * accepted, missing and from another CA, failed handshakes as `tlsError` events
 * (never handler errors; the server keeps serving), the handshake timeout, a
 * queued connection waiting for its turn, the throwaway certificate shared by
 * every worker, and bad credentials refused at construction.
 * Built engine (dist/): the pooled modes import handlers with Node's own loader.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { connect as netConnect } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Buffer } from 'node:buffer';
import type * as Lib from '../../src/index.js';
import type { StreamServer } from '../../src/engine/stream-server.js';
import type { SocketAddress } from '../../src/net/address.js';
import { Teardown, collect, tempSocketPath } from '../helpers/loopback.js';
import { writePki, type Pki } from '../helpers/pki.js';

const DIST_INDEX = '../../dist/index.js';
const FIXTURE = new URL('../fixtures/tls-handlers.js', import.meta.url).href;
type Mode = 'async' | 'sequential' | 'threading' | 'forking';
const MODES: readonly Mode[] = ['async', 'sequential', 'threading', 'forking'];

let lib: typeof Lib;
let pki: Pki;
let dir: string;
beforeAll(async () => {
  lib = (await import(DIST_INDEX)) as typeof Lib;
  dir = mkdtempSync(join(tmpdir(), 'sk-tls-'));
  pki = await writePki(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const teardown = new Teardown();
afterEach(() => teardown.run());

interface Running {
  readonly server: StreamServer;
  readonly address: SocketAddress;
  readonly tlsErrors: { code: string; message: string }[];
  /** Resolves at the next tlsError. */
  nextTlsError(): Promise<{ code: string; message: string }>;
}

async function serve(
  mode: Mode,
  tls: Lib.ServerTlsOptions,
  opts: { unix?: string; handler?: string } = {},
): Promise<Running> {
  const exportName = opts.handler ?? 'TlsFactsHandler';
  const Handler = ((await import(FIXTURE)) as Record<string, unknown>)[exportName];
  const options = {
    mode,
    workers: 2,
    handlerModule: { url: FIXTURE, exportName },
    tls,
  };
  const server = (
    opts.unix
      ? new lib.UnixStreamServer(opts.unix, Handler as never, options)
      : new lib.TLSServer({ host: '127.0.0.1', port: 0 }, Handler as never, options)
  ) as StreamServer;
  const tlsErrors: Running['tlsErrors'] = [];
  server.on('tlsError', (e: { code: string; message: string }) => tlsErrors.push(e));
  server.on('requestError', (err: unknown) => {
    throw new Error(`a handler failed: ${String(err)}`);
  });
  teardown.add(() => server.serverClose({ graceMs: 0 }));
  const address = await server.listen();
  void server.serveForever();
  return {
    server,
    address,
    tlsErrors,
    nextTlsError: () =>
      once(server, 'tlsError').then(([e]) => e as { code: string; message: string }),
  };
}

/** A TLS client of `at` that trusts the test CA (or `ca`), with a client certificate if given. */
async function client(
  at: SocketAddress,
  o: { ca?: string; cert?: string; key?: string; servername?: string } = {},
): Promise<TLSSocket> {
  const where = at.family === 'unix' ? { path: at.path } : { host: at.address, port: at.port };
  const socket = tlsConnect({
    ...where,
    ca: o.ca ?? pki.ca.cert,
    cert: o.cert,
    key: o.key,
    servername: o.servername ?? 'localhost',
    allowHalfOpen: true, // not in the type, but tls.connect passes it on to the TLSSocket
  } as unknown as ConnectionOptions);
  socket.on('error', () => undefined);
  teardown.add(() => socket.destroy());
  await once(socket, 'secureConnect');
  return socket;
}

/** A TLS client of a TCP `at` with no client certificate, as soon as it is made. */
function certless(at: SocketAddress): TLSSocket {
  const port = (at as { port: number }).port;
  return tlsConnect({ host: '127.0.0.1', port, ca: pki.ca.cert, servername: 'localhost' });
}

/** The first line the handler sends, parsed (read with listeners: the socket stays open). */
function facts(socket: TLSSocket): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk.toString();
      const nl = text.indexOf('\n');
      if (nl < 0) return;
      socket.off('data', onData);
      socket.pause();
      resolve(JSON.parse(text.slice(0, nl)) as Record<string, unknown>);
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`closed before a line: ${text}`)));
  });
}

const own = () => ({ cert: pki.server.cert, key: pki.server.key });

describe.each(MODES)('--mode %s', (mode) => {
  test('echo over TLS on TCP: verified against the CA, the handler sees a TLS connection', async () => {
    const { address } = await serve(mode, own());
    const socket = await client(address);
    expect(socket.authorized).toBe(true);
    const first = facts(socket);
    expect(await first).toMatchObject({ encrypted: true, protocol: 'TLSv1.3', peerCN: null });
    const rest = collect(socket);
    socket.end('ping\n');
    expect((await rest).toString()).toBe('ping\n');
  });

  test('TLS over a unix stream socket (tls+unix)', async () => {
    const t = tempSocketPath();
    teardown.add(t.cleanup);
    const { address } = await serve(mode, own(), { unix: t.path });
    const socket = await client(address);
    expect(await facts(socket)).toMatchObject({ encrypted: true });
  });

  test('mutual TLS: the handler reads the verified client certificate', async () => {
    const { address } = await serve(mode, { ...own(), clientCa: pki.ca.cert });
    const socket = await client(address, { cert: pki.client.cert, key: pki.client.key });
    expect(await facts(socket)).toMatchObject({ authorized: true, peerCN: 'client one' });
  });

  test('mutual TLS: no client certificate, or one from another CA, is a tlsError; then a good client is served', async () => {
    const run = await serve(mode, { ...own(), clientCa: pki.ca.cert });
    const missing = run.nextTlsError();
    const bare = certless(run.address);
    const refused = once(bare, 'error').then(([e]) => (e as { code?: string }).code);
    teardown.add(() => bare.destroy());
    expect(await missing).toMatchObject({
      message: 'no client certificate (mutual TLS demands one)',
    });
    // TLS 1.3: the client's side of the handshake is done, then the server's alert arrives
    expect(await refused).toBe('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
    const wrong = run.nextTlsError();
    const other = await client(run.address, {
      cert: pki.otherClient.cert,
      key: pki.otherClient.key,
    });
    const ended = once(other, 'end');
    expect(await wrong).toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    await ended;
    const good = await client(run.address, { cert: pki.client.cert, key: pki.client.key });
    expect(await facts(good)).toMatchObject({ peerCN: 'client one' });
    expect(run.server.stats.errors).toBe(0);
  });

  test('a client gone right after its side of the handshake (a probe of mutual TLS) is a tlsError at once', async () => {
    // a handshake timeout longer than the test: a connection noticed only by it fails the test
    const run = await serve(mode, { ...own(), clientCa: pki.ca.cert, handshakeTimeout: 60 });
    const failed = run.nextTlsError();
    const quitter = certless(run.address);
    quitter.on('error', () => undefined);
    quitter.once('secureConnect', () => quitter.destroy());
    teardown.add(() => quitter.destroy());
    expect(await failed).toEqual({
      code: 'ECONNRESET',
      message: 'the client closed during the handshake',
    });
    expect(run.server.stats.errors).toBe(0);
  });

  test('a plain-TCP client is one tlsError, not a handler error', async () => {
    const run = await serve(mode, own());
    const failed = run.nextTlsError();
    const plain = netConnect((run.address as { port: number }).port, '127.0.0.1');
    plain.on('error', () => undefined);
    teardown.add(() => plain.destroy());
    plain.end('GET / HTTP/1.0\r\n\r\n');
    expect((await failed).message).toMatch(/^not a TLS client \(http request\)$/);
    await once(plain, 'close');
    expect(run.server.stats.errors).toBe(0);
    expect(await facts(await client(run.address))).toMatchObject({ encrypted: true });
  });
});

describe('handshakes', () => {
  test('a client that never completes its handshake is cut after --handshake-timeout', async () => {
    const run = await serve('async', { ...own(), handshakeTimeout: 0.2 });
    const failed = run.nextTlsError();
    const silent = netConnect((run.address as { port: number }).port, '127.0.0.1');
    silent.on('error', () => undefined);
    teardown.add(() => silent.destroy());
    expect(await failed).toEqual({
      code: 'ERR_TLS_HANDSHAKE_TIMEOUT',
      message: 'handshake timed out',
    });
    await once(silent, 'close');
  });

  test('sequential: a queued TLS client completes its handshake, then waits; its bytes reach its handler whole', async () => {
    const run = await serve('sequential', own());
    const first = await client(run.address);
    await facts(first); // its handler runs
    const secured = once(run.server, 'secureConnection');
    const second = await client(run.address);
    await secured; // the server's side of the second handshake is done too
    expect(run.server.pendingRequests).toBe(1);
    const order: string[] = [];
    first.once('close', () => order.push('first closed'));
    const reply = collect(second).then((b) => {
      order.push('second served');
      return b.toString();
    });
    second.end('queued bytes');
    first.destroy();
    expect(await reply).toMatch(/^\{"encrypted":true,.*\}\nqueued bytes$/);
    expect(order).toEqual(['first closed', 'second served']);
  });

  test('serverClose() ends handshakes under way at once, with no tlsError', async () => {
    const run = await serve('async', own());
    const silent = netConnect((run.address as { port: number }).port, '127.0.0.1');
    silent.on('error', () => undefined);
    await once(silent, 'connect');
    const closed = once(silent, 'close');
    const t0 = performance.now();
    await run.server.serverClose({ graceMs: 5000 });
    await closed;
    expect(performance.now() - t0).toBeLessThan(1500);
    expect(run.tlsErrors).toEqual([]);
  });
});

describe('certificates', () => {
  test('without one: a throwaway EC P-256 certificate for a day, for the bind host, localhost, 127.0.0.1 and ::1', async () => {
    const run = await serve('async', {});
    const cert = run.server.certificate!;
    expect(cert.publicKey.asymmetricKeyDetails).toEqual({ namedCurve: 'prime256v1' });
    expect(cert.subjectAltName).toBe(
      'IP Address:127.0.0.1, DNS:localhost, IP Address:0:0:0:0:0:0:0:1',
    );
    const hours = (Date.parse(cert.validTo) - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(23);
    expect(hours).toBeLessThanOrEqual(24);
    expect(cert.ca).toBe(false);
    const socket = await client(run.address, { ca: cert.toString() });
    expect(socket.authorized).toBe(true);
  });

  test('forking: every worker process serves the same throwaway certificate', async () => {
    const run = await serve('forking', {});
    const pids = new Set<unknown>();
    const prints = new Set<string>();
    for (let i = 0; i < 6 && pids.size < 2; i++) {
      const socket = await client(run.address, { ca: run.server.certificate!.toString() });
      prints.add(new X509Certificate(socket.getPeerCertificate().raw).fingerprint256);
      pids.add((await facts(socket)).pid);
      socket.destroy();
    }
    expect(pids.size).toBe(2);
    expect([...prints]).toEqual([run.server.certificate!.fingerprint256]);
  });

  test('a key that is not the certificate’s, or a certificate without its key, is refused before the bind', async () => {
    const Handler = lib.EchoHandler as never;
    const at = { host: '127.0.0.1', port: 0 };
    const mismatch = new lib.TLSServer(at, Handler, {
      tls: { cert: pki.server.cert, key: pki.client.key },
    });
    await expect(mismatch.listen()).rejects.toThrow(
      'invalid TLS certificate or key — the key does not belong to the certificate',
    );
    const half = new lib.TLSServer(at, Handler, { tls: { cert: pki.server.cert } });
    await expect(half.listen()).rejects.toThrow(
      'a TLS certificate needs its key, and a key its certificate',
    );
    expect(mismatch.state).toBe('closed');
  });

  test('an encrypted key with its passphrase is accepted; a wrong one is not', async () => {
    const { createPrivateKey } = await import('node:crypto');
    const key = createPrivateKey(pki.server.key)
      .export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'right' })
      .toString();
    const Handler = lib.EchoHandler as never;
    const at = { host: '127.0.0.1', port: 0 };
    const tls = { cert: pki.server.cert, key };
    const wrong = new lib.TLSServer(at, Handler, { tls: { ...tls, passphrase: 'wrong' } });
    await expect(wrong.listen()).rejects.toThrow(/^invalid TLS certificate or key — /);
    const run = await serve('async', { ...tls, passphrase: 'right' });
    expect(run.server.certificate?.fingerprint256).toBe(pki.server.fingerprint256);
    expect((await client(run.address)).authorized).toBe(true);
  });
});
