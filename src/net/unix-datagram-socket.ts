/**
 * The unix datagram side of datagram-socket.ts: a real AF_UNIX SOCK_DGRAM socket
 * through the unix-dgram addon, opened towards a peer (from a private temporary path
 * that close() removes, so that the peer can answer) or bound at a path. Loaded only
 * when a unix socket is used; it is given the base class rather than importing it,
 * so that the two modules do not import each other.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Buffer } from 'node:buffer';
import { checkUnixPath, type SocketAddress, type UnixAddress } from './address.js';
import { ERR, NetworkError, oneLine } from './errors.js';
import type { DatagramBindOptions, DatagramSocket } from './datagram-socket.js';
import { UNIX_DGRAM_MAX, UnixDgramSocket, bindUnixDgram } from './unix-dgram.js';
import {
  checkBindablePath,
  releaseSocketFile,
  withSocketUmask,
  type BoundPath,
} from './unix-path.js';

/** What a unix datagram socket leaves behind and must clean up. */
interface UnixRemains {
  /** A private directory holding the sender's own socket file. */
  readonly dir?: string;
  /** A socket file bound at the user's path, and how to let it go. */
  readonly bound?: BoundPath;
  readonly release?: (bound: BoundPath) => Promise<void>;
}

/** The unix datagram socket class, built on `Base`. */
function unixSocketClass(Base: typeof DatagramSocket) {
  return class UnixDatagramSocket extends Base {
    readonly #socket: UnixDgramSocket;
    readonly #own: string;
    readonly #remains: UnixRemains;

    constructor(
      socket: UnixDgramSocket,
      peer: UnixAddress | undefined,
      own: string,
      maxPayload: number,
      remains: UnixRemains,
    ) {
      super(peer, maxPayload);
      this.#socket = socket;
      this.#own = own;
      this.#remains = remains;
      socket.on('message', this.#onMessage);
      socket.on('error', this.#onError);
    }

    readonly #onMessage = (data: Buffer, from: string): void =>
      this.deliver(data, { family: 'unix', path: from });

    readonly #onError = (err: Error): void => this.fail(err);

    get address(): SocketAddress {
      return { family: 'unix', path: this.#own };
    }

    protected sendTo(data: Uint8Array, to: SocketAddress): Promise<void> {
      if (to.family !== 'unix') {
        return Promise.reject(new TypeError('a unix datagram socket sends to paths only'));
      }
      const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      // a bound socket answers; it never holds datagrams for a peer that does not read
      return this.#socket.send(buf, to.path, { wait: this.peer !== undefined });
    }

    protected async closeSocket(): Promise<void> {
      this.#socket.close();
      const { dir, bound, release } = this.#remains;
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
      if (bound && release) await release(bound);
    }
  };
}

type UnixSocketClass = ReturnType<typeof unixSocketClass>;

async function open(Unix: UnixSocketClass, peer: UnixAddress): Promise<DatagramSocket> {
  checkUnixPath(peer.path);
  const socket = new UnixDgramSocket();
  // bind a private path so that the peer can answer; close() removes it
  const dir = mkdtempSync(join(tmpdir(), 'sockit-'));
  const own = join(dir, 'c.sock');
  try {
    withSocketUmask(() => socket.bind(own));
  } catch (err) {
    socket.close();
    rmSync(dir, { recursive: true, force: true });
    throw new NetworkError(`cannot bind ${own} — ${oneLine(err)}`, err, ERR.DATAGRAM);
  }
  return new Unix(socket, peer, own, UNIX_DGRAM_MAX, { dir });
}

async function bind(
  Unix: UnixSocketClass,
  local: UnixAddress,
  opts: DatagramBindOptions,
): Promise<DatagramSocket> {
  checkBindablePath(local.path);
  const { socket, bound } = await bindUnixDgram(local.path, opts.mode);
  return new Unix(socket, undefined, local.path, UNIX_DGRAM_MAX, {
    bound,
    release: releaseSocketFile,
  });
}

/**
 * Unix datagram sockets built on `Base` (datagram-socket.ts's DatagramSocket): `open`
 * towards a peer, `bind` at a path.
 */
export function unixSide(Base: typeof DatagramSocket) {
  const Unix = unixSocketClass(Base);
  return {
    open: (peer: UnixAddress) => open(Unix, peer),
    bind: (local: UnixAddress, opts: DatagramBindOptions) => bind(Unix, local, opts),
  };
}
