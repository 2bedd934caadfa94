/**
 * Datagram forwarding: one upstream socket per sender (a session), so that the
 * upstream's replies go back to the sender they belong to. A session ends after
 * a silence of its timeout (no datagram either way), when the upstream fails, or
 * when the server closes; the number of sessions is capped.
 */
import type { Buffer } from 'node:buffer';
import { performance } from 'node:perf_hooks';
import type { SocketAddress } from '../net/address.js';
import { openDatagramSocket, type DatagramSocket } from '../net/datagram-socket.js';
import type { DatagramDialTarget } from '../net/dial.js';
import { errorCode, oneLine } from '../net/errors.js';
import { resolveHost } from '../net/resolve.js';
import type { DatagramConnection } from '../engine/datagram-connection.js';

/** How a session ended. */
export type SessionEnd = 'session-timeout' | 'upstream-failed' | 'server-closed';

/** What a session reports when it ends. */
export interface SessionReport {
  readonly client: SocketAddress;
  readonly upstreamAddress?: SocketAddress;
  readonly bytesUp: number;
  readonly bytesDown: number;
  readonly durationMs: number;
  readonly end: SessionEnd;
  readonly code?: string;
  readonly message?: string;
}

/** How sessions are kept. */
export interface SessionOptions {
  readonly timeoutMs: number;
  /** Sessions at most; a datagram from a new sender beyond it is dropped. */
  readonly max?: number;
  /** A session ended. */
  readonly report: (report: SessionReport) => void;
  /** A datagram from a new sender was dropped: no room for its session. */
  readonly refused: (client: SocketAddress) => void;
}

/** A failed reply is a datagram lost on the way (the sender is gone). */
const ignore = (): void => undefined;

/** The session of a sender: its path, or its address and port (no formatting per datagram). */
function sessionKey(from: SocketAddress): string {
  return from.family === 'unix' ? from.path : `${from.address}|${from.port}`;
}

class Session {
  /** The sender's latest datagram: its `reply()` sends to the sender. */
  latest: DatagramConnection;
  bytesUp = 0;
  bytesDown = 0;
  upstreamAddress: SocketAddress | undefined;
  readonly started = performance.now();
  readonly socket: Promise<DatagramSocket>;
  /** The socket once open. */
  ready: DatagramSocket | undefined;
  timer: NodeJS.Timeout | undefined;

  constructor(first: DatagramConnection, open: (s: Session) => Promise<DatagramSocket>) {
    this.latest = first;
    this.socket = open(this);
  }
}

/** The sessions of one server towards one target. */
export class DatagramSessions {
  readonly #target: DatagramDialTarget;
  readonly #opts: SessionOptions;
  readonly #sessions = new Map<string, Session>();
  #closed = false;

  constructor(target: DatagramDialTarget, opts: SessionOptions) {
    this.#target = target;
    this.#opts = opts;
  }

  /** Sessions open now. */
  get size(): number {
    return this.#sessions.size;
  }

  /** Send `conn`'s datagram upstream on its sender's session (opened on first use). */
  send(conn: DatagramConnection): void | Promise<void> {
    if (this.#closed) return;
    const key = sessionKey(conn.clientAddress);
    let session = this.#sessions.get(key);
    if (session === undefined) {
      if (this.#opts.max !== undefined && this.#sessions.size >= this.#opts.max) {
        this.#opts.refused(conn.clientAddress);
        return;
      }
      session = new Session(conn, (s) => this.#open(key, s));
      this.#sessions.set(key, session);
    }
    session.latest = conn;
    const s = session;
    // the session's socket is open after its first datagram: no extra await per datagram
    if (s.ready !== undefined) return this.#forward(key, s, s.ready, conn.data);
    return s.socket.then(
      (socket) => this.#forward(key, s, socket, conn.data),
      () => undefined, // reported once by #open
    );
  }

  #forward(
    key: string,
    session: Session,
    socket: DatagramSocket,
    data: Buffer,
  ): void | Promise<void> {
    session.timer?.refresh();
    const peer = socket.peer!;
    // UDP: handed over with no promise and no callback (a callback costs a tick per
    // datagram); an ICMP refusal still ends the session (an `error` on the connected
    // socket). Unix waits for room at the peer; a datagram too long fails here.
    if (peer.family !== 'unix' && data.length <= socket.maxPayload) {
      socket.sendNow(data, peer, undefined);
      session.bytesUp += data.length;
      return;
    }
    return socket.send(data).then(
      () => void (session.bytesUp += data.length),
      (err: unknown) => this.#end(key, session, 'upstream-failed', err),
    );
  }

  /** End every session (the server closes). */
  closeAll(): void {
    this.#closed = true;
    for (const [key, session] of [...this.#sessions]) this.#end(key, session, 'server-closed');
  }

  async #open(key: string, session: Session): Promise<DatagramSocket> {
    try {
      const peer = await this.#peer();
      session.upstreamAddress = peer;
      const socket = await openDatagramSocket(peer, { connect: true });
      socket.on('message', (data: Buffer) => {
        session.bytesDown += data.length;
        session.timer?.refresh();
        // the reply as the server sends its own (UDP: no promise, no callback)
        const latest = session.latest;
        latest.appendReply(data);
        const sent = latest.flushReply();
        if (sent !== undefined) sent.catch(ignore); // a sender gone: the reply is lost
      });
      socket.on('error', (err: Error) => this.#end(key, session, 'upstream-failed', err));
      session.timer = setTimeout(
        () => this.#end(key, session, 'session-timeout'),
        this.#opts.timeoutMs,
      );
      if (this.#sessions.get(key) !== session) void socket.close(); // ended while opening
      session.ready = socket;
      return socket;
    } catch (err) {
      this.#end(key, session, 'upstream-failed', err);
      throw err;
    }
  }

  /** The upstream's address now: a name is resolved for every session. */
  async #peer(): Promise<SocketAddress> {
    const t = this.#target;
    if (t.kind === 'unix-dgram') return { family: 'unix', path: t.path };
    const [first] = await resolveHost(t.host);
    return { family: first!.family === 6 ? 'IPv6' : 'IPv4', address: first!.address, port: t.port };
  }

  #end(key: string, session: Session, end: SessionEnd, err?: unknown): void {
    if (this.#sessions.get(key) !== session) return;
    this.#sessions.delete(key);
    clearTimeout(session.timer);
    session.socket.then((s) => s.close()).catch(() => undefined);
    const cause = (err as { cause?: unknown } | undefined)?.cause ?? err;
    this.#opts.report({
      client: session.latest.clientAddress,
      ...(session.upstreamAddress ? { upstreamAddress: session.upstreamAddress } : {}),
      bytesUp: session.bytesUp,
      bytesDown: session.bytesDown,
      durationMs: performance.now() - session.started,
      end,
      ...(err === undefined ? {} : { code: errorCode(cause) ?? 'EUNKNOWN', message: oneLine(err) }),
    });
  }
}
