/**
 * The one shape of every `--json` line sockit prints (the JSON Schema in
 * `schema/events.schema.json` describes it): `event`, `ts` (ISO 8601 with
 * milliseconds), then the fields of that kind, named in camelCase. A peer is always
 * `{"address","port"}` or `{"path"}`. Serve events go to stderr (stdout stays free
 * for data), client results to stdout. Lines are written with `safeJson()`: valid
 * UTF-8 JSON with no control character a terminal would act on.
 */
import { Buffer, isUtf8 } from 'node:buffer';
import type { SocketAddress, Target } from '../net/address.js';
import { safeJson } from '../net/terminal.js';

/** A peer in a JSON event. */
export type JsonPeer = { address: string; port: number } | { path: string };

/** The JSON shape of an address or a target (a host as given stays a name). */
export function jsonPeer(addr: SocketAddress | Target): JsonPeer {
  if ('path' in addr) return { path: addr.path };
  return 'host' in addr
    ? { address: addr.host, port: addr.port }
    : { address: addr.address, port: addr.port };
}

/** One event as an NDJSON line (with its newline). */
export function eventLine(event: string, fields: Record<string, unknown> = {}): string {
  return `${safeJson({ event, ts: new Date().toISOString(), ...fields })}\n`;
}

/** A payload as JSON fields: UTF-8 text when valid, else base64. */
export function payloadFields(data: Uint8Array): { data: string; encoding: 'utf8' | 'base64' } {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return isUtf8(buf)
    ? { data: buf.toString('utf8'), encoding: 'utf8' }
    : { data: buf.toString('base64'), encoding: 'base64' };
}

/** One datagram as an event: `{"event":"datagram","peer",…,"bytes","data","encoding"}`. */
export function datagramEvent(data: Uint8Array, from: SocketAddress): string {
  return eventLine('datagram', {
    peer: jsonPeer(from),
    bytes: data.length,
    ...payloadFields(data),
  });
}
