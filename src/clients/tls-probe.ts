/**
 * TLS probes (`connect -z --tls`): a port is open only when the handshake
 * succeeds and the peer is accepted as any TLS client of sockit would accept it.
 * Each result tells what the handshake found: protocol, cipher, ALPN and the
 * certificate (names, issuer, expiry, fingerprint), or why it failed. They run
 * on the main thread (a handshake is mostly crypto, not the kernel's connect()).
 */
import { connect as netConnect, type Socket } from 'node:net';
import type { ResolvedAddress } from '../net/resolve.js';
import { errnoName } from '../net/errors.js';
import { formatEndpoint } from '../net/address.js';
import { TlsError, serverVerdict, tlsConnect, type TlsClient } from '../net/tls.js';
import { certificateSummary, peerX509 } from '../net/tls-info.js';
import { Deferred } from './deferred.js';
import {
  probeResult,
  type ConnectExOptions,
  type ProbeResult,
  type TlsProbeInfo,
} from './probe-core.js';

/**
 * How long an open TLS 1.3 port may stay silent after the handshake before it counts
 * as accepting us (at most half the probe's timeout): generous, since a loaded
 * machine can be slow to deliver the alert, and most servers send tickets at once.
 */
const VERDICT_MS = 2000;

function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/** A TCP connection to one address within `timeoutMs`, or the errno name. */
function tcpConnect(
  a: ResolvedAddress,
  port: number,
  timeoutMs: number,
  opts: ConnectExOptions,
): Promise<Socket | string> {
  const done = new Deferred<Socket | string>();
  const { localAddress, localPort } = opts;
  const socket = netConnect({ host: a.address, port, family: a.family, localAddress, localPort });
  const finish = (r: Socket | string): void => {
    clearTimeout(timer);
    socket.off('connect', onConnect);
    if (typeof r === 'string') socket.destroy();
    done.resolve(r);
  };
  const onConnect = (): void => {
    // a loopback probe can connect to itself (source port = target port): nothing listens
    const self = socket.localPort === port && isLoopback(a.address);
    finish(self ? 'ECONNREFUSED' : socket);
  };
  socket.on('error', (err) => finish(errnoName(err) ?? 'EIO'));
  socket.once('connect', onConnect);
  const timer = setTimeout(() => finish('ETIMEDOUT'), timeoutMs);
  return done.promise;
}

/** The handshake on a connected socket, as a probe reports it. */
async function handshake(
  socket: Socket,
  host: string,
  label: string,
  client: TlsClient,
  timeoutMs: number,
): Promise<TlsProbeInfo> {
  try {
    const secure = await tlsConnect(socket, client, { host, label, timeoutMs });
    // a server that demands a client certificate refuses only now (TLS 1.3)
    const refusal = await serverVerdict(secure, label, Math.min(VERDICT_MS, timeoutMs / 2));
    if (refusal) {
      secure.destroy();
      throw refusal;
    }
    const x509 = peerX509(secure);
    const info: TlsProbeInfo = {
      protocol: secure.getProtocol() ?? undefined,
      cipher: secure.getCipher().standardName,
      alpn: secure.alpnProtocol ?? false,
      ...(x509 ? { certificate: certificateSummary(x509) } : {}),
    };
    secure.destroy();
    return info;
  } catch (err) {
    const e = err instanceof TlsError ? err : undefined;
    const failure = {
      reason: e?.reason ?? 'handshake',
      code: e?.tlsCode ?? errnoName(err) ?? 'EPROTO',
      message: (err as Error).message,
    };
    return { ...(e?.certificate ? { certificate: e.certificate } : {}), failure };
  }
}

/**
 * Probe one port for TLS on every address in turn: the first that accepts the TCP
 * connection is the one whose handshake is judged. `timeoutMs` bounds the connect
 * and the handshake each.
 */
export async function tlsProbe(
  host: string,
  addresses: readonly ResolvedAddress[],
  port: number,
  timeoutMs: number,
  opts: ConnectExOptions,
  client: TlsClient,
): Promise<ProbeResult> {
  let last = { code: 'EADDRNOTAVAIL', address: '' };
  for (const a of addresses) {
    const socket = await tcpConnect(a, port, timeoutMs, opts);
    if (typeof socket === 'string') {
      last = { code: socket, address: a.address };
      continue;
    }
    const label = formatEndpoint({ host: a.address, port });
    const tls = await handshake(socket, host, label, client, timeoutMs);
    const base = probeResult(host, port, 'tcp', { code: '0', address: a.address });
    if (!tls.failure) return { ...base, tls };
    return { ...base, open: false, state: 'tls-failed', tls };
  }
  return probeResult(host, port, 'tcp', last);
}
