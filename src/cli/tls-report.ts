/**
 * What the CLI says about TLS: the server's second banner line (the certificate's
 * fingerprint, for clients to pin), a client's `-v` line after the handshake, the
 * TLS part of a probe's `-v` line and `--json` object, and the `--warn-days` check.
 */
import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { ProbeResult } from '../clients/probe.js';
import { peerX509 } from '../net/tls-info.js';

/** What the banner needs of a server (a StreamServer speaking TLS has both). */
interface MaybeSecure {
  readonly secure?: boolean;
  readonly certificate?: X509Certificate;
  readonly options: object;
}

/** The common name of an X.509 name as Node prints it. */
function cn(name: string): string {
  return /^CN=(.*)$/m.exec(name)?.[1] ?? '';
}

/** The second banner line and the banner event's `tls` field, for a server that speaks TLS. */
export function tlsBanner(
  server: MaybeSecure,
): { line: string; fields: Record<string, unknown> } | undefined {
  const cert = server.certificate;
  if (!server.secure || !cert) return undefined;
  const tls = (server.options as { tls?: { cert?: unknown; clientCa?: unknown } }).tls ?? {};
  const throwaway = tls.cert === undefined; // made at start: the server was given none
  const validTo = new Date(cert.validTo).toISOString();
  const what = throwaway ? 'throwaway, self-signed' : `CN=${cn(cert.subject)}`;
  const mtls = tls.clientCa !== undefined ? '; client certificates required' : '';
  const pin = throwaway ? ' — clients pin it with --pin sha256:…' : '';
  return {
    line: `certificate sha256:${cert.fingerprint256} (${what}, valid until ${validTo}${mtls})${pin}`,
    fields: {
      fingerprint256: cert.fingerprint256,
      throwaway,
      subjectCN: cn(cert.subject),
      validTo,
      clientCertificates: tls.clientCa !== undefined,
    },
  };
}

/** The `-v` line of a client once its handshake is done; `tls` tells how the peer was accepted. */
export function secureLine(
  secure: TLSSocket,
  tls: { readonly pin?: string; readonly insecure?: boolean },
): string {
  const cert = peerX509(secure);
  const alpn = secure.alpnProtocol ? `, ALPN ${secure.alpnProtocol}` : '';
  const who = cert ? `, certificate CN=${cn(cert.subject)} sha256:${cert.fingerprint256}` : '';
  const trust = tls.insecure ? 'NOT verified: --insecure' : tls.pin ? 'pinned' : 'verified';
  return `TLS ${secure.getProtocol() ?? '?'} ${secure.getCipher().standardName}${alpn}${who} (${trust})`;
}

/** The TLS part of a probe's `-v` line (after its state), or ''. */
export function probeTlsText(r: ProbeResult): string {
  const tls = r.tls;
  if (!tls) return '';
  if (tls.failure) return ` — ${tls.failure.message.replace(/^TLS: /, '')}`;
  const c = tls.certificate;
  const alpn = tls.alpn ? ` ${tls.alpn}` : '';
  const cert = c
    ? ` CN=${c.subjectCN} issuer=${c.issuerCN} ${c.daysLeft} days left sha256:${c.fingerprint256}`
    : '';
  return ` ${tls.protocol ?? ''} ${tls.cipher ?? ''}${alpn}${cert}`;
}

/** The `tls` field of a probe's JSON object (flat: camelCase like every field), or {}. */
export function probeTlsJson(r: ProbeResult): Record<string, unknown> {
  const tls = r.tls;
  if (!tls) return {};
  const c = tls.certificate;
  return {
    tls: {
      ...(tls.protocol ? { protocol: tls.protocol, cipher: tls.cipher, alpn: tls.alpn } : {}),
      ...(c ? { ...c } : {}),
      ...(tls.failure
        ? { error: tls.failure.code, reason: tls.failure.reason, message: tls.failure.message }
        : {}),
    },
  };
}

/** The certificates of `results` that expire within `days` days, as one line each. */
export function expiringSoon(results: readonly ProbeResult[], days: number): string[] {
  return results.flatMap((r) => {
    const c = r.tls?.certificate;
    if (!c || c.daysLeft >= days) return [];
    const when =
      c.daysLeft < 0
        ? `expired on ${c.validTo}`
        : `expires on ${c.validTo} (in ${c.daysLeft} days)`;
    return [
      `the certificate of ${r.host}:${r.port} (CN=${c.subjectCN}) ${when} — within --warn-days ${days}`,
    ];
  });
}
