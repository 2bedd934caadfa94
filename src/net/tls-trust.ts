/**
 * What a TLS client trusts: the system's certificate authorities (Node's bundled
 * Mozilla list, what `NODE_EXTRA_CA_CERTS` adds, and the certificates of the
 * system bundle that are not in the list: a company CA installed with
 * update-ca-certificates), plus the CAs given with `--ca`; and the one
 * certificate a `--pin sha256:…` accepts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { UsageError } from './errors.js';

/** Where Linux distributions and the BSDs keep the system bundle (the first found is read). */
const SYSTEM_BUNDLES = [
  '/etc/ssl/certs/ca-certificates.crt', // Debian, Ubuntu, Alpine, Arch
  '/etc/pki/tls/certs/ca-bundle.crt', // Fedora, RHEL
  '/etc/ssl/ca-bundle.pem', // openSUSE
  '/etc/ssl/cert.pem', // the BSDs, macOS, Alpine
];

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates of a PEM text, one block each. */
export function pemBlocks(text: string): string[] {
  return text.match(PEM_BLOCK) ?? [];
}

/** A PEM block reduced to its base64 body, to compare certificates. */
function body(pem: string): string {
  return pem.replace(/-----[A-Z ]+-----|\s/g, '');
}

function readIf(file: string | undefined): string {
  if (!file || !existsSync(file)) return '';
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

let systemExtras: string[] | undefined;

/**
 * The system's CA certificates that Node's own store lacks (`SSL_CERT_FILE`, else
 * the distribution's bundle, and `NODE_EXTRA_CA_CERTS`): read once.
 */
export function systemCertificates(): string[] {
  if (systemExtras) return systemExtras;
  const known = new Set(rootCertificates.map(body));
  const bundle = readIf(process.env.SSL_CERT_FILE) || readIf(SYSTEM_BUNDLES.find(existsSync));
  const extra = readIf(process.env.NODE_EXTRA_CA_CERTS);
  systemExtras = [...pemBlocks(bundle), ...pemBlocks(extra)].filter((pem) => {
    const b = body(pem);
    if (known.has(b)) return false;
    known.add(b);
    return true;
  });
  return systemExtras;
}

/**
 * The `ca` option of a verifying client: undefined when Node's default store is
 * all there is (it is parsed once per process), else the full list, since an
 * explicit `ca` replaces the default store.
 */
export function trustedCertificates(extra: readonly string[] = []): string[] | undefined {
  const added = [...systemCertificates(), ...extra.flatMap((pem) => pemBlocks(pem))];
  if (added.length === 0) return undefined;
  return [...rootCertificates, ...added];
}

/**
 * A `--pin` value (`sha256:` and 64 hex digits, with or without colons, any case)
 * in the form of Node's `fingerprint256` (`AB:CD:…`). Throws a UsageError otherwise.
 */
export function parsePin(value: string): string {
  const m = /^sha256:((?:[0-9a-f]{2}:?){31}[0-9a-f]{2})$/i.exec(value.trim());
  if (!m) {
    throw new UsageError(
      `invalid pin '${value}' — expected sha256: and the certificate's 64 hex digits (colons allowed), as a sockit server prints it`,
    );
  }
  const hex = m[1]!.replace(/:/g, '').toUpperCase();
  return hex.match(/../g)!.join(':');
}
