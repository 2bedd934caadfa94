/** Loopback helpers: temp unix paths, collecting streams, teardown lists. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { Buffer } from 'node:buffer';

/** A fresh temp dir (short path: sun_path is 108 bytes) and a socket path inside it. */
export function tempSocketPath(name = 's.sock'): {
  dir: string;
  path: string;
  cleanup: () => void;
} {
  const dir = mkdtempSync(join(tmpdir(), 'sk-'));
  return {
    dir,
    path: join(dir, name),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Things to close after each test, closed in reverse order. */
export class Teardown {
  readonly #fns: (() => unknown)[] = [];
  add(fn: () => unknown): void {
    this.#fns.push(fn);
  }
  async run(): Promise<void> {
    for (const fn of this.#fns.splice(0).reverse()) await fn();
  }
}

/** Read a stream to its end. */
export async function collect(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(chunks);
}

/** Connect, send `data`, half-close, and return everything the server sent back. */
export async function exchange(
  target: { port: number; host?: string } | { path: string },
  data: Uint8Array | string,
): Promise<Buffer> {
  const socket: Socket =
    'path' in target ? connect(target.path) : connect(target.port, target.host ?? '127.0.0.1');
  await once(socket, 'connect');
  const reply = collect(socket);
  socket.end(data);
  return reply;
}

/** A connection on loopback: the server's accepted socket and the client connected to it. */
export interface SocketPair {
  readonly accepted: Socket;
  readonly client: Socket;
}

/**
 * A TCP server on 127.0.0.1 (half-open allowed) and a function that connects one more
 * pair to it; `teardown` destroys the sockets and closes the server.
 */
export async function loopbackPairs(teardown: Teardown): Promise<() => Promise<SocketPair>> {
  const server = createServer({ allowHalfOpen: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const sockets: Socket[] = [];
  teardown.add(() => new Promise((closed) => server.close(closed)));
  teardown.add(() => sockets.forEach((s) => s.destroy()));
  const { port } = server.address() as { port: number };
  return async () => {
    const client = connect({ port, host: '127.0.0.1' });
    const [accepted] = (await once(server, 'connection')) as [Socket];
    sockets.push(client, accepted);
    return { accepted, client };
  };
}
