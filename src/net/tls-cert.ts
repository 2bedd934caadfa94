/**
 * The throwaway certificate of a TLS server started without one (ncat's `--ssl`
 * does the same, but sockit's clients verify): an EC P-256 key and a self-signed
 * certificate valid for one day, for the bind host, `localhost`, `127.0.0.1` and
 * `::1`, made in memory. The X.509 encoding is @peculiar/x509's (no ASN.1 of our
 * own); it is loaded only here, when a certificate is actually made, because its
 * import costs a few hundred milliseconds of start-up.
 */
import { X509Certificate, createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { Buffer } from 'node:buffer';
import { hostname } from 'node:os';
import { isIP } from 'node:net';

/** A certificate and its key, as PEM, with the SHA-256 fingerprint clients pin. */
export interface CertificatePair {
  /** The certificate, PEM. */
  readonly cert: string;
  /** Its private key, PKCS#8 PEM. */
  readonly key: string;
  /** `AB:CD:…`: the SHA-256 fingerprint of the certificate (what `--pin sha256:…` takes). */
  readonly fingerprint256: string;
}

/** How long a throwaway certificate is valid. */
export const THROWAWAY_VALID_MS = 24 * 60 * 60 * 1000;

/** Clock skew tolerated at the start of the validity (a peer whose clock is a bit behind). */
const BACKDATE_MS = 5 * 60 * 1000;

const WILDCARDS = new Set(['', '0.0.0.0', '::', '[::]']);

/** The names a throwaway certificate is for: the bind host (or this machine's name), localhost, 127.0.0.1, ::1. */
export function throwawayNames(bindHost?: string): string[] {
  const host = bindHost?.replace(/^\[(.*)\]$/, '$1');
  const first = host === undefined || WILDCARDS.has(host) ? hostname() : host;
  return [...new Set([first, 'localhost', '127.0.0.1', '::1'].filter((n) => n !== ''))];
}

/** Load the X.509 library (it needs the Reflect metadata polyfill loaded first). */
async function loadX509(): Promise<typeof import('@peculiar/x509')> {
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto as never);
  return x509;
}

/**
 * Make a throwaway self-signed certificate for `names` (IP literals become IP
 * SANs, the rest DNS SANs): EC P-256, ECDSA with SHA-256, valid from five minutes
 * ago for `validMs` (one day), a server certificate that is not a CA.
 */
export async function throwawayCertificate(
  names: readonly string[] = throwawayNames(),
  validMs: number = THROWAWAY_VALID_MS,
): Promise<CertificatePair> {
  const x509 = await loadX509();
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f; // a positive INTEGER
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toString('hex'),
    name: `CN=${names[0] ?? 'localhost'}, O=sockit throwaway`,
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(now + validMs),
    signingAlgorithm: alg,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(
        names.map((n) => ({ type: isIP(n) ? 'ip' : 'dns', value: n })),
      ),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  const key = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' });
  const pem = cert.toString('pem');
  return {
    cert: pem,
    key: key.export({ format: 'pem', type: 'pkcs8' }) as string,
    fingerprint256: new X509Certificate(pem).fingerprint256,
  };
}
