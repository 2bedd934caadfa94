/**
 * How a served stream connection ends, the way netcat's peers expect it: the
 * server half-closes once everything written is flushed, then waits briefly for
 * the peer's FIN (discarding what it still sends) before closing; when the server
 * closes, what is still flushing gets a bounded moment before every connection is
 * destroyed. And reading a connection to its end with `for await` leaves it open
 * for the reply.
 */
import type { Duplex, Readable, Writable } from 'node:stream';
import { settledWithin } from './timing.js';

/**
 * Half-close `socket` (FIN once what was written is flushed), then give the peer
 * `lingerMs` to send its own FIN, discarding what it still sends, before the
 * socket is destroyed. Nothing to do on a socket already destroyed.
 */
export function endAndLinger(socket: Duplex, lingerMs: number): void {
  if (socket.destroyed) return;
  if (!socket.writableEnded) socket.end();
  if (socket.readableEnded) return; // both sides done: the socket closes itself
  socket.resume(); // discard what the peer still sends
  const linger = (): void => {
    const timer = setTimeout(() => socket.destroy(), lingerMs);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  };
  if (socket.writableFinished) linger();
  else socket.once('finish', linger);
}

/**
 * Give the sockets of `open` still flushing at most `flushMs`, then destroy every
 * one left; resolves once all of them have closed. `open` is the live set (a
 * socket leaves it when it closes).
 */
export async function closeEvery(open: ReadonlySet<Duplex>, flushMs: number): Promise<void> {
  if (open.size === 0) return;
  const flushing = [...open]
    .filter((s) => !s.writableFinished)
    .map((s) => new Promise((resolve) => s.once('finish', resolve).once('close', resolve)));
  if (flushing.length > 0) await settledWithin(flushing, flushMs);
  const closed = [...open].map((s) => new Promise((resolve) => s.once('close', resolve)));
  for (const s of open) s.destroy();
  await Promise.all(closed);
}

const keptOpen = new WeakSet<Readable>();

/**
 * Make `for await (… of stream)` stop without destroying the stream: Node's
 * default iterator destroys it at the end, which kills a socket's writable side
 * before the handler has replied.
 */
export function keepOpenAfterIteration(stream: Readable): Readable {
  if (!keptOpen.has(stream) && typeof stream.iterator === 'function') {
    keptOpen.add(stream);
    Object.defineProperty(stream, Symbol.asyncIterator, {
      configurable: true,
      writable: true,
      value: () => stream.iterator({ destroyOnReturn: false }),
    });
  }
  return stream;
}

/**
 * Settles on the next `drain` or `close` of `stream`, leaving no listener behind.
 * Racing a fresh `drain` against one `close` promise instead would add a reaction to
 * that promise at every wait, which a long stream piles up by the hundred thousand.
 */
export function drainedOrClosed(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    const settle = (): void => {
      stream.off('drain', settle);
      stream.off('close', settle);
      resolve();
    };
    stream.on('drain', settle);
    stream.on('close', settle);
  });
}
