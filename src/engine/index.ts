export * from './request-handler.js';
export * from './base-server.js';
export * from './stream-server.js';
export * from './datagram-server.js';
export {
  DEFAULT_HANDSHAKE_TIMEOUT,
  withCertificate,
  type ServerTlsOptions,
  type TlsHandshakeError,
} from '../net/tls-accept.js';
