/**
 * Resetting a connection (RST) rather than closing it (FIN), whatever carries it:
 * a TCP socket, a worker thread's bridged connection, or any other stream.
 */
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * Reset `stream`: a TCP socket sends an RST; a bridged connection (a worker
 * thread's end, which has `resetAndDestroy()` too) asks the thread that holds the
 * socket to reset it; any other stream (unix, TLS) is destroyed.
 */
export function resetStream(stream: Duplex): void {
  if (stream.destroyed) return;
  const socket = stream as Partial<Socket> & { _handle?: unknown };
  try {
    // a net.Socket without a handle would ignore the call: destroyed below instead
    if (
      typeof socket.resetAndDestroy === 'function' &&
      (socket._handle || !(stream instanceof Socket))
    ) {
      socket.resetAndDestroy();
      return;
    }
  } catch {
    // not a TCP handle (a unix socket has no RST, a TLS socket wraps its own): a plain close below
  }
  stream.destroy();
}
