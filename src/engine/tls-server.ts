/**
 * TLSServer: a TCP server that speaks TLS on every connection (the `tls` option
 * of every stream server, see net/tls-accept.ts, with a throwaway certificate when it
 * is given none). A handler reads `this.request.getPeerCertificate()` and friends.
 */
import { moduleRef } from '../net/built-module.js';
import type { HandlerClass, StreamRequest } from './request-handler.js';
import type { ModuleRef } from './server-spec.js';
import { TCPServer, type TCPServerOptions } from './stream-server.js';

/** Options for TLS servers: those of a TCP server; `tls` defaults to `{}` (a throwaway certificate). */
export type TLSServerOptions = TCPServerOptions;

/** A TCP server speaking TLS (Node's `tls.Server` under the socketserver model). */
export class TLSServer extends TCPServer {
  /** Where workers import this class from. */
  static override readonly module: ModuleRef = moduleRef(import.meta.url, 'TLSServer');

  constructor(
    serverAddress: { host: string; port: number },
    Handler: HandlerClass<StreamRequest>,
    options: TLSServerOptions = {},
  ) {
    super(serverAddress, Handler, { ...options, tls: options.tls ?? {} });
  }
}
