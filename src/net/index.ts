/**
 * The ground floor, for library users: addresses, errors, name resolution, unix
 * datagram sockets, and the client side of TLS (verified by default).
 */
export * from './access.js';
export * from './address.js';
export * from './errors.js';
export { resolveHost, type IpFamily, type ResolvedAddress, type Resolver } from './resolve.js';
export { UnixDgramSocket, UNIX_DGRAM_MAX } from './unix-dgram.js';
export * from './datagram-socket.js';
export * from './dial.js';
export {
  execCommand,
  shellCommand,
  splitArgv,
  checkProgram,
  execEnv,
  type ExecCommand,
  type ExecPeers,
  type ExecProto,
} from './exec-command.js';
export { exitCodeOf, type ExitStatus } from './child-run.js';
export {
  DEFAULT_TLS_HANDSHAKE_TIMEOUT,
  TlsClient,
  TlsError,
  tlsClientFor,
  tlsConnect,
  type TlsClientOptions,
  type TlsConnectHow,
  type TlsFailure,
} from './tls.js';
export type { CertificateSummary } from './tls-info.js';
