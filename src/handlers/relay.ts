/**
 * The stream relay behind the forward handler: bytes both ways with backpressure
 * (`pipe`), each direction ending on its own (a FIN passes through as a FIN), and a
 * reset on either side resetting the other.
 */
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { errnoName } from '../net/errors.js';
import { resetStream } from '../net/reset.js';

/** How a relayed connection ended. */
export type RelayEnd =
  /** Both directions ended with a FIN. */
  | 'done'
  /** The client reset (or failed); the upstream was reset. */
  | 'client-reset'
  /** The upstream reset (or failed); the client was reset. */
  | 'upstream-reset'
  /** The client's connection was closed before both directions ended (idle timeout, shutdown). */
  | 'client-closed'
  /** The upstream closed before both directions ended. */
  | 'upstream-closed';

/** What a relay moved, and how it ended. */
export interface RelayResult {
  /** Bytes from the client to the upstream. */
  readonly bytesUp: number;
  /** Bytes from the upstream to the client. */
  readonly bytesDown: number;
  readonly end: RelayEnd;
  /** The errno name behind a reset, when there is one. */
  readonly code?: string;
}

/** Call `fn` once `stream` has closed: now, when it has already (a client gone while dialing). */
function onClose(stream: Duplex, fn: () => void): void {
  if (stream.closed) queueMicrotask(fn);
  else stream.once('close', fn);
}

/**
 * Relay `client` ⇄ `upstream` until both are closed. Resolves (never rejects) with
 * the bytes each way and how it ended.
 */
export function relay(client: Duplex, upstream: Socket): Promise<RelayResult> {
  return new Promise((resolve) => {
    let end: RelayEnd | undefined;
    let code: string | undefined;
    let open = 2;
    const settle = (why: RelayEnd, err?: unknown): void => {
      if (end !== undefined) return;
      end = why;
      code = err === undefined ? undefined : errnoName(err);
    };
    const closed = (): void => {
      if (--open > 0) return;
      resolve({
        bytesUp: upstream.bytesWritten,
        bytesDown: upstream.bytesRead,
        end: end ?? 'done',
        ...(code ? { code } : {}),
      });
    };
    client.on('error', (err: Error) => {
      settle('client-reset', err);
      resetStream(upstream);
    });
    upstream.on('error', (err: Error) => {
      settle('upstream-reset', err);
      resetStream(client);
    });
    onClose(client, () => {
      if (!(client.readableEnded && client.writableFinished)) {
        settle('client-closed');
        resetStream(upstream);
      }
      closed();
    });
    onClose(upstream, () => {
      if (!(upstream.readableEnded && upstream.writableFinished)) {
        settle('upstream-closed');
        resetStream(client);
      }
      closed();
    });
    client.pipe(upstream);
    upstream.pipe(client);
  });
}
