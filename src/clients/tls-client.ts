/** The clients' one way to a TLS client: made once, the TLS modules loaded only when asked for. */
import type { TlsClient, TlsClientOptions } from '../net/tls.js';

/**
 * The TLS client of `opts`, made once (bad options fail before any connection).
 * The TLS modules load only here, when asked for.
 */
export async function tlsClientOf(opts: {
  tls?: TlsClientOptions | TlsClient;
}): Promise<TlsClient | undefined> {
  if (opts.tls === undefined) return undefined;
  const { tlsClientFor } = await import('../net/tls.js');
  return tlsClientFor(opts.tls);
}
