/**
 * The TLS options of the commands: `--tls` and its company on the servers
 * (`--cert`, `--key`, `--key-pass-env`, `--client-ca`, `--handshake-timeout`) and
 * on the clients (`--ca`, `--pin`, `--insecure`, `--servername`, `--alpn`,
 * `--cert`, `--key`), and on a server that forwards to `tls://` (`--ca`, `--pin`,
 * `--servername`, `--insecure`: free there, since the server's own certificate
 * options are `--cert`, `--key` and `--client-ca`), turned into the library's options: files read, the key's
 * passphrase taken from the environment (never from the command line), and
 * mistakes reported as one line (exit 2). Kept free of the TLS modules, so that a
 * command without `--tls` loads none of them.
 */
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { UsageError, errnoName, oneLine } from '../net/errors.js';
import { parseDuration } from './options.js';
import type { ServerTlsOptions } from '../net/tls-accept.js';
import type { TlsClientOptions } from '../net/tls.js';

/** The TLS options of a server command, as commander parses them. */
export interface ServerTlsFlags {
  tls?: boolean;
  cert?: string;
  key?: string;
  keyPassEnv?: string;
  clientCa?: string;
  handshakeTimeout?: number;
}

/** The TLS options of a client command, as commander parses them. */
export interface ClientTlsFlags {
  tls?: boolean;
  ca?: string[];
  pin?: string;
  insecure?: boolean;
  servername?: string;
  alpn?: string[];
  cert?: string;
  key?: string;
  keyPassEnv?: string;
  warnDays?: number;
}

/** `--alpn h2,http/1.1` → ['h2', 'http/1.1']. */
function alpnList(value: string, previous: string[] = []): string[] {
  const items = value.split(',').map((v) => v.trim());
  if (items.some((v) => v === '' || v.length > 255)) {
    throw new InvalidArgumentError('expected protocol names such as h2,http/1.1');
  }
  return [...previous, ...items];
}

function envName(value: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(value)) {
    throw new InvalidArgumentError('expected the name of an environment variable');
  }
  return value;
}

function fileList(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Add `--tls`, `--cert`, `--key`, `--key-pass-env`, `--client-ca` and `--handshake-timeout`. */
export function addServerTlsOptions(cmd: Command): Command {
  return cmd
    .option('--tls', 'speak TLS (without --cert: a throwaway self-signed certificate)')
    .option('--cert <pem>', 'with --tls: certificate chain file (PEM)')
    .option('--key <pem>', 'with --tls: private key file (PEM)')
    .option('--key-pass-env <var>', "with --tls: the key's passphrase is in this variable", envName)
    .option('--client-ca <pem>', 'with --tls: demand client certificates signed by this CA')
    .option(
      '--handshake-timeout <s>',
      'with --tls: a client has this long for its handshake (default 10s)',
      parseDuration,
    );
}

/** Add the client TLS options; `probe` adds `--warn-days`. */
export function addClientTlsOptions(cmd: Command, probe = false): Command {
  cmd
    .option('--tls', 'speak TLS; the server is verified (system CAs) unless --insecure')
    .option('--ca <pem>', 'with --tls: also trust this CA (PEM file; repeatable)', fileList)
    .option('--pin <sha256:hex>', 'with --tls: accept exactly the certificate of this fingerprint')
    .option('--insecure', 'with --tls: no verification at all (prints a warning)')
    .option('--servername <name>', 'with --tls: SNI and the name checked (default: the host)')
    .option('--alpn <list>', 'with --tls: ALPN protocols to offer (h2,http/1.1)', alpnList)
    .option('--cert <pem>', 'with --tls: client certificate file (PEM)')
    .option('--key <pem>', 'with --tls: its private key file (PEM)')
    .option(
      '--key-pass-env <var>',
      "with --tls: the key's passphrase is in this variable",
      envName,
    );
  if (probe) {
    cmd.option(
      '--warn-days <n>',
      'with -z --tls: exit 1 when a certificate expires within n days',
      (v) => {
        if (!/^\d+$/.test(v.trim()))
          throw new InvalidArgumentError('expected a whole number of days');
        return Number(v);
      },
    );
  }
  return cmd;
}

/** A PEM file's text; a file that cannot be read is bad input (exit 2). */
export function readPem(file: string, flag: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${flag} ${file} — ${errnoName(err) ?? oneLine(err)}`);
  }
  if (!text.includes('-----BEGIN ')) {
    throw new UsageError(`${flag} ${file} is not a PEM file (no -----BEGIN line)`);
  }
  return text;
}

/** The passphrase named by `--key-pass-env`. */
function passphrase(name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  const value = process.env[name];
  if (value === undefined) throw new UsageError(`--key-pass-env ${name}: the variable is not set`);
  return value;
}

/** The TLS flags given without `--tls`, as a usage error. */
function needTls(flags: object, names: Record<string, string>): void {
  const given = Object.keys(names).filter(
    (k) => (flags as Record<string, unknown>)[k] !== undefined,
  );
  if (given.length > 0) throw new UsageError(`${names[given[0]!]} needs --tls`);
}

/** The `tls` option of a server, or undefined without `--tls`. */
export function serverTlsOf(flags: ServerTlsFlags): ServerTlsOptions | undefined {
  if (!flags.tls) {
    needTls(flags, {
      cert: '--cert',
      key: '--key',
      keyPassEnv: '--key-pass-env',
      clientCa: '--client-ca',
      handshakeTimeout: '--handshake-timeout',
    });
    return undefined;
  }
  if ((flags.cert === undefined) !== (flags.key === undefined)) {
    throw new UsageError('--cert and --key go together (neither: a throwaway certificate)');
  }
  return {
    cert: flags.cert === undefined ? undefined : readPem(flags.cert, '--cert'),
    key: flags.key === undefined ? undefined : readPem(flags.key, '--key'),
    passphrase: passphrase(flags.keyPassEnv),
    clientCa: flags.clientCa === undefined ? undefined : readPem(flags.clientCa, '--client-ca'),
    handshakeTimeout: flags.handshakeTimeout,
  };
}

/**
 * The `tls` option of a client, or undefined without `--tls`; `warn` hears of
 * `--insecure`, whose warning speaks of `whose` certificate.
 */
export function clientTlsOf(
  flags: ClientTlsFlags,
  warn: (message: string) => void,
  whose = "the server's",
): TlsClientOptions | undefined {
  if (!flags.tls) {
    needTls(flags, {
      ca: '--ca',
      pin: '--pin',
      insecure: '--insecure',
      servername: '--servername',
      alpn: '--alpn',
      cert: '--cert',
      key: '--key',
      keyPassEnv: '--key-pass-env',
      warnDays: '--warn-days',
    });
    return undefined;
  }
  if (flags.insecure && (flags.pin !== undefined || flags.ca !== undefined)) {
    throw new UsageError('--insecure turns verification off — it excludes --pin and --ca');
  }
  if ((flags.cert === undefined) !== (flags.key === undefined)) {
    throw new UsageError('--cert and --key go together');
  }
  if (flags.insecure) {
    warn(
      `--insecure: ${whose} certificate is not verified — anyone on the path can read and change the traffic`,
    );
  }
  return {
    ca: flags.ca?.map((f) => readPem(f, '--ca')),
    pin: flags.pin,
    insecure: flags.insecure,
    servername: flags.servername,
    alpn: flags.alpn,
    cert: flags.cert === undefined ? undefined : readPem(flags.cert, '--cert'),
    key: flags.key === undefined ? undefined : readPem(flags.key, '--key'),
    passphrase: passphrase(flags.keyPassEnv),
  };
}

/** The upstream TLS options of `serve … --forward tls://…`, as commander parses them. */
export interface UpstreamTlsFlags {
  ca?: string[];
  pin?: string;
  insecure?: boolean;
  servername?: string;
}

/** Add `--ca`, `--pin`, `--servername` and `--insecure` for a `tls://` forward target. */
export function addUpstreamTlsOptions(cmd: Command): Command {
  return cmd
    .option('--ca <pem>', 'with --forward tls://: also trust this CA (repeatable)', fileList)
    .option('--pin <sha256:hex>', 'with --forward tls://: accept exactly this certificate')
    .option('--servername <name>', 'with --forward tls://: SNI and the name checked')
    .option('--insecure', 'with --forward tls://: no verification of the upstream (warns)');
}

/**
 * The `tls` option of a forward to `tls://` (verified by default), or undefined
 * for another target, where any of these flags is a usage error.
 */
export function upstreamTlsOf(
  flags: UpstreamTlsFlags,
  tlsTarget: boolean,
  warn: (message: string) => void,
): TlsClientOptions | undefined {
  const { ca, pin, insecure, servername } = flags;
  if (!tlsTarget) {
    const names = { ca: '--ca', pin: '--pin', insecure: '--insecure', servername: '--servername' };
    const given = Object.keys(names).find((k) => flags[k as keyof UpstreamTlsFlags] !== undefined);
    if (given) {
      throw new UsageError(`${names[given as keyof typeof names]} needs --forward tls://host:port`);
    }
    return undefined;
  }
  return clientTlsOf({ tls: true, ca, pin, insecure, servername }, warn, "the upstream's");
}
