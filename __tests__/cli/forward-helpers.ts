/** Upstreams for the forwarding tests: in-test servers on loopback and unix paths. */
import { createServer, type Server, type Socket } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Buffer } from 'node:buffer';
import type { Served } from './serve-helpers.js';

/** A listening upstream and how to reach it. */
export interface Upstream {
  readonly server: Server;
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Echo every byte back; end when the client ends (half-close aware). */
export function echo(socket: Socket): void {
  socket.on('error', () => undefined);
  socket.pipe(socket);
}

/** Read to EOF, then reply `got N bytes` and end: a server that needs the half-close. */
export function replyAfterEof(socket: Socket): void {
  socket.on('error', () => undefined);
  let n = 0;
  socket.on('data', (c: Buffer) => (n += c.length));
  socket.on('end', () => socket.end(`got ${n} bytes`));
}

/** Listen on 127.0.0.1:0 (or `path`) with `onConnection`. */
export async function upstream(
  onConnection: (socket: Socket) => void,
  path?: string,
): Promise<Upstream> {
  const open = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    onConnection(socket);
  });
  if (path) server.listen(path);
  else server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    server,
    port,
    url: path ? `unix://${path}` : `tcp://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of open) socket.destroy();
      }),
  };
}

/**
 * Send `mib` MiB of random bytes on `socket` (with backpressure), half-close, and
 * read everything back: resolves with the sha256 of what was sent and of what came back.
 */
export async function pumpAndHash(
  socket: Socket,
  mib: number,
): Promise<{ sent: string; received: string; bytes: number }> {
  const block = randomBytes(1024 * 1024);
  const sent = createHash('sha256');
  const received = createHash('sha256');
  let bytes = 0;
  socket.on('data', (c: Buffer) => {
    received.update(c);
    bytes += c.length;
  });
  const closed = once(socket, 'close');
  for (let i = 0; i < mib; i++) {
    block.writeUInt32LE(i, 0); // every block differs: a reordering would show
    sent.update(block);
    if (!socket.write(Buffer.from(block))) await once(socket, 'drain');
  }
  socket.end();
  await closed;
  return { sent: sent.digest('hex'), received: received.digest('hex'), bytes };
}

/** Resolve once stderr holds `text` at least `n` times (checked on every chunk). */
export function untilCount(s: Served, text: string, n: number): Promise<void> {
  const count = (): number => s.stderr().split(text).length - 1;
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (count() >= n) {
        s.child.stderr.off('data', check);
        resolve();
      } else if (s.child.exitCode !== null) reject(new Error(`exited: ${s.stderr()}`));
    };
    s.child.stderr.on('data', check);
    check();
  });
}
