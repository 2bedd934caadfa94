/**
 * Test certificates, made in the test (nothing committed): two CAs, a server
 * certificate for 127.0.0.1/::1/localhost signed by the first, an expired one, a
 * client certificate from each CA. EC P-256 keys, made with @peculiar/x509 (the
 * library sockit uses for its throwaway certificate). `writePki(dir)` also puts
 * them in PEM files for foreign programs (openssl, curl, Python).
 */
import { X509Certificate, createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Buffer } from 'node:buffer';
import { isIP } from 'node:net';

type X509 = typeof import('@peculiar/x509');
let lib: X509 | undefined;

async function x509(): Promise<X509> {
  if (lib) return lib;
  await import('reflect-metadata');
  lib = await import('@peculiar/x509');
  lib.cryptoProvider.set(webcrypto as never);
  return lib;
}

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const DAY = 24 * 60 * 60 * 1000;

/** A certificate and its key, PEM. */
export interface Pem {
  readonly cert: string;
  readonly key: string;
  /** `AB:CD:…` */
  readonly fingerprint256: string;
}

interface Authority extends Pem {
  readonly keys: webcrypto.CryptoKeyPair;
  readonly name: string;
}

async function keyPem(keys: webcrypto.CryptoKeyPair): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' })
    .export({ format: 'pem', type: 'pkcs8' })
    .toString();
}

function serial(): string {
  const b = randomBytes(12);
  b[0] = b[0]! & 0x7f;
  return b.toString('hex');
}

async function pem(cert: { toString(f: 'pem'): string }, keys: webcrypto.CryptoKeyPair) {
  const text = cert.toString('pem');
  return {
    cert: text,
    key: await keyPem(keys),
    fingerprint256: new X509Certificate(text).fingerprint256,
  };
}

/** A self-signed CA. */
export async function makeCa(cn: string): Promise<Authority> {
  const x = await x509();
  const keys = (await webcrypto.subtle.generateKey(ALG, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const name = `CN=${cn}`;
  const cert = await x.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 30 * DAY),
    signingAlgorithm: ALG,
    keys: keys as never,
    extensions: [
      new x.BasicConstraintsExtension(true, undefined, true),
      new x.KeyUsagesExtension(x.KeyUsageFlags.keyCertSign | x.KeyUsageFlags.cRLSign, true),
    ],
  });
  return { ...(await pem(cert, keys)), keys, name };
}

/** What {@link issue} makes. */
export interface IssueOptions {
  readonly cn: string;
  /** SANs (IP literals become IP entries). */
  readonly names?: readonly string[];
  /** A client certificate (else a server one). */
  readonly client?: boolean;
  /** Validity, relative to now, in days (default -1 … +10). */
  readonly fromDays?: number;
  readonly toDays?: number;
}

/** A certificate signed by `ca`. */
export async function issue(ca: Authority, o: IssueOptions): Promise<Pem> {
  const x = await x509();
  const keys = (await webcrypto.subtle.generateKey(ALG, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const usage = o.client ? x.ExtendedKeyUsage.clientAuth : x.ExtendedKeyUsage.serverAuth;
  const cert = await x.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${o.cn}`,
    issuer: ca.name,
    notBefore: new Date(Date.now() + (o.fromDays ?? -1) * DAY),
    notAfter: new Date(Date.now() + (o.toDays ?? 10) * DAY),
    signingAlgorithm: ALG,
    publicKey: keys.publicKey as never,
    signingKey: ca.keys.privateKey as never,
    extensions: [
      new x.BasicConstraintsExtension(false, undefined, true),
      new x.ExtendedKeyUsageExtension([usage]),
      ...(o.names
        ? [
            new x.SubjectAlternativeNameExtension(
              o.names.map((n) => ({
                type: isIP(n) ? ('ip' as const) : ('dns' as const),
                value: n,
              })),
            ),
          ]
        : []),
    ],
  });
  return pem(cert, keys);
}

/** Everything the TLS tests use, and where its files are. */
export interface Pki {
  readonly ca: Pem;
  readonly otherCa: Pem;
  readonly server: Pem;
  readonly expired: Pem;
  readonly client: Pem;
  readonly otherClient: Pem;
  /** `file(name)`: the path of `<name>.pem` / `<name>.key` written by {@link writePki}. */
  file(name: string, kind?: 'pem' | 'key'): string;
}

const LOOPBACK = ['127.0.0.1', '::1', 'localhost'];

/** Make the test PKI and write it into `dir` (`ca.pem`, `server.pem`, `server.key`, …). */
export async function writePki(dir: string): Promise<Pki> {
  const ca = await makeCa('sockit test CA');
  const otherCa = await makeCa('another CA');
  const pki = {
    ca,
    otherCa,
    server: await issue(ca, { cn: 'localhost', names: LOOPBACK }),
    expired: await issue(ca, { cn: 'localhost', names: LOOPBACK, fromDays: -10, toDays: -2 }),
    client: await issue(ca, { cn: 'client one', client: true }),
    otherClient: await issue(otherCa, { cn: 'client two', client: true }),
  };
  for (const [name, p] of Object.entries(pki)) {
    writeFileSync(join(dir, `${name}.pem`), p.cert);
    writeFileSync(join(dir, `${name}.key`), p.key, { mode: 0o600 });
  }
  return { ...pki, file: (name, kind = 'pem') => join(dir, `${name}.${kind}`) };
}
