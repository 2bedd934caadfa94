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

/**
 * Checks of a session's silence per timeout: a datagram only marks its session seen
 * (a timer refresh per datagram costs a clock read and a timer-list move), and a
 * session ends at the first check that finds it silent for the whole timeout, that
 * is between 1 and 1 + 1/8 timeouts after its last datagram, never sooner.
 */
const SILENCE_CHECKS = 8;

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
  /** A datagram passed, either way, since the last check of its silence. */
  seen = true;
  /** When a check last found it seen: its silence began no sooner. */
  seenAt = this.started;
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

  /**
   * Send a datagram on at once when its sender's UDP session is open (the server's
   * shortcut: no request); false leaves it to {@link send}.
   */
  forwardNow(data: Buffer, from: SocketAddress): boolean {
    const session = this.#closed ? undefined : this.#sessions.get(sessionKey(from));
    const socket = session?.ready;
    if (socket === undefined || socket.peer!.family === 'unix' || data.length > socket.maxPayload) {
      return false;
    }
    session!.seen = true;
    socket.sendNow(data, socket.peer!, undefined);
    session!.bytesUp += data.length;
    return true;
  }

  #forward(
    key: string,
    session: Session,
    socket: DatagramSocket,
    data: Buffer,
  ): void | Promise<void> {
    session.seen = true;
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
        session.seen = true;
        // the reply as the server sends its own (UDP: no promise, no callback)
        const latest = session.latest;
        latest.appendReply(data);
        const sent = latest.flushReply();
        if (sent !== undefined) sent.catch(ignore); // a sender gone: the reply is lost
      });
      socket.on('error', (err: Error) => this.#end(key, session, 'upstream-failed', err));
      const step = this.#opts.timeoutMs / SILENCE_CHECKS;
      session.timer = setInterval(() => this.#checkSilence(key, session), step);
      if (this.#sessions.get(key) !== session) void socket.close(); // ended while opening
      session.ready = socket;
      return socket;
    } catch (err) {
      this.#end(key, session, 'upstream-failed', err);
      throw err;
    }
  }

  /** End a session silent for its whole timeout (see {@link SILENCE_CHECKS}). */
  #checkSilence(key: string, session: Session): void {
    const now = performance.now();
    if (session.seen) {
      session.seen = false;
      session.seenAt = now;
    } else if (now - session.seenAt >= this.#opts.timeoutMs) {
      this.#end(key, session, 'session-timeout');
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
    clearInterval(session.timer);
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
