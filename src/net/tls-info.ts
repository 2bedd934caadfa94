/**
 * What a TLS connection is, in plain data: the facts a handler in a worker
 * thread gets of its connection (the TLS socket stays on the main thread), and
 * the summary of a peer certificate that probes and `-v` lines report.
 */
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { X509Certificate } from 'node:crypto';

/** A TLS connection's facts, as `tls.TLSSocket` tells them (structured-cloneable). */
export interface TlsFacts {
  /** `TLSv1.3`, `TLSv1.2`… */
  readonly protocol: string | null;
  /** The negotiated cipher. */
  readonly cipher: {
    readonly name: string;
    readonly standardName: string;
    readonly version: string;
  };
  /** The protocol chosen by ALPN, or false. */
  readonly alpnProtocol: string | false | null;
  /** The peer's certificate was verified (a client certificate under mutual TLS). */
  readonly authorized: boolean;
  /** Why it was not, as OpenSSL names it. */
  readonly authorizationError: string | null;
  /** The peer's certificate with its issuers (`getPeerCertificate(true)`); empty without one. */
  readonly peerCertificate: PeerCertificate | Record<string, never>;
}

/** The facts of a TLS socket whose handshake is done. */
export function tlsFacts(socket: TLSSocket): TlsFacts {
  const cipher = socket.getCipher();
  return {
    protocol: socket.getProtocol(),
    cipher: { name: cipher.name, standardName: cipher.standardName, version: cipher.version },
    alpnProtocol: socket.alpnProtocol ?? false,
    authorized: socket.authorized,
    authorizationError: socket.authorizationError ? String(socket.authorizationError) : null,
    peerCertificate: socket.getPeerCertificate(true) as TlsFacts['peerCertificate'],
  };
}

/**
 * The peer's certificate as an X509Certificate. Read through `getPeerCertificate()`:
 * on Node 20 a client socket's `getPeerX509Certificate()` takes the certificate out
 * of the peer chain, so that every later call (of either method) finds none.
 */
export function peerX509(socket: TLSSocket): X509Certificate | undefined {
  const raw = (socket.getPeerCertificate() as Partial<PeerCertificate>).raw;
  if (!raw || raw.length === 0) return undefined;
  // node:crypto loaded on first use: `connect` imports this module, and a plain
  // `connect -z` should not pay for crypto at start-up
  return new (process.getBuiltinModule('node:crypto').X509Certificate)(raw);
}

/** A peer certificate as probes and `-v` report it. */
export interface CertificateSummary {
  /** The subject's common name (empty when it has none). */
  readonly subjectCN: string;
  /** The issuer's common name. */
  readonly issuerCN: string;
  /** The subjectAltName entries: `DNS:example.com`, `IP Address:127.0.0.1`. */
  readonly san: string[];
  /** The end of validity, ISO 8601. */
  readonly validTo: string;
  /** Whole days until then (negative once expired). */
  readonly daysLeft: number;
  /** `AB:CD:…`: the SHA-256 fingerprint (what `--pin sha256:…` takes). */
  readonly fingerprint256: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** The value of `CN=` in an X.509 name as Node prints it (one `key=value` a line). */
function commonName(name: string): string {
  const line = name.split('\n').find((l) => l.startsWith('CN='));
  return line === undefined ? '' : line.slice(3);
}

/** Split Node's `subjectAltName` text (`DNS:a, IP Address:1.2.3.4`) into entries. */
export function sanEntries(text: string | undefined): string[] {
  if (!text) return [];
  return text
    .split(/,\s*/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Summarise a certificate; `now` is for the days left. */
export function certificateSummary(cert: X509Certificate, now = Date.now()): CertificateSummary {
  const validTo = new Date(cert.validTo);
  return {
    subjectCN: commonName(cert.subject),
    issuerCN: commonName(cert.issuer),
    san: sanEntries(cert.subjectAltName),
    validTo: validTo.toISOString(),
    daysLeft: Math.floor((validTo.getTime() - now) / DAY_MS),
    fingerprint256: cert.fingerprint256,
  };
}
