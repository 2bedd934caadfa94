/**
 * What the broker and the chat share: the connections of one server in one
 * room, and a fan-out that never lets a slow reader grow memory. Every message
 * is one write per member (never interleaved with another inside it). A sender
 * waits (its socket paused) while every other member has a full buffer, and goes
 * on as soon as one of them drains: the readers set the pace. A member that
 * stops reading falls behind the others; once more than the room's limit is
 * queued for it, it is dropped with a note, and the others keep going.
 */
import { Buffer } from 'node:buffer';
import type { Duplex } from 'node:stream';
import { formatEndpoint, type SocketAddress } from '../net/address.js';
import { UsageError } from '../net/errors.js';
import type { BaseServer } from '../engine/base-server.js';
import { DatagramConnection, type StreamRequestHandler } from '../engine/request-handler.js';
import { emitNote } from './notes.js';

/** Bytes queued for one member before it is dropped, by default (1 MiB). */
export const DEFAULT_BROKER_BUFFER = 1024 * 1024;

/** The server option the broker and the chat read. */
export interface RoomOptions {
  /** Bytes queued for a member that does not read before it is dropped (default 1 MiB). */
  readonly brokerBuffer?: number;
}

/** One connection in a room. */
export class Member {
  /** The name others see (the chat's nickname). */
  name: string;
  /** Left or dropped. */
  gone = false;

  constructor(
    readonly socket: Duplex,
    readonly peer: string,
    name: string,
  ) {
    this.name = name;
  }
}

/** The connections of one server; see the module comment. */
export class Room {
  readonly members = new Set<Member>();
  /** Senders paused until some member has room again. */
  readonly #waiting = new Set<Member>();
  readonly #server: BaseServer<unknown>;
  readonly #limit: number;
  readonly #what: string;
  #joined = 0;

  constructor(server: BaseServer<unknown>, what: string) {
    this.#server = server;
    this.#what = what;
    this.#limit = (server.options as RoomOptions).brokerBuffer ?? DEFAULT_BROKER_BUFFER;
  }

  /** A connection joins; it is named `user<n>`, n counting every join of this room. */
  join(socket: Duplex, clientAddress: SocketAddress): Member {
    const member = new Member(socket, formatEndpoint(clientAddress), `user${++this.#joined}`);
    this.members.add(member);
    socket.on('drain', this.#onDrain);
    return member;
  }

  /** A member leaves (idempotent); if it was the one reader left, the senders go on. */
  leave(member: Member): void {
    if (member.gone) return;
    member.gone = true;
    this.members.delete(member);
    this.#waiting.delete(member);
    member.socket.off('drain', this.#onDrain);
    this.#onDrain();
  }

  /**
   * Send `data` to every member but `from`; when none of them has room left,
   * `from` waits until one drains.
   */
  broadcast(data: Buffer | string, from?: Member): void {
    let room = false;
    let others = 0;
    for (const m of this.members) {
      if (m === from) continue;
      others += 1;
      if (this.send(m, data)) room = true;
    }
    if (from && others > 0 && !room && !from.gone) {
      from.socket.pause();
      this.#waiting.add(from);
    }
  }

  /** Send `data` to one member, or drop it when it has stopped reading. True: it has room for more. */
  send(member: Member, data: Buffer | string): boolean {
    const socket = member.socket;
    if (member.gone || socket.destroyed) return false;
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    if (socket.writableLength + size > this.#limit) {
      this.#drop(member, socket.writableLength);
      return false;
    }
    return socket.write(data);
  }

  /** A member's buffer drained: the senders waiting for room go on. */
  readonly #onDrain = (): void => {
    for (const m of this.#waiting) if (!m.gone) m.socket.resume();
    this.#waiting.clear();
  };

  #drop(member: Member, queued: number): void {
    this.leave(member);
    member.socket.destroy();
    emitNote(this.#server, {
      level: 'warn',
      event: `${this.#what}-drop`,
      message: `${this.#what}: dropped ${member.peer} (${member.name}) — it does not read: ${queued} bytes queued, --broker-buffer is ${this.#limit}`,
      fields: { peer: member.peer, name: member.name, queued, limit: this.#limit },
    });
  }
}

const rooms = new WeakMap<object, Room>();

/** The room of `server` for `what` (`broker`, `chat`): one per server. */
export function roomOf(server: BaseServer<unknown>, what: string): Room {
  let room = rooms.get(server);
  if (!room) {
    room = new Room(server, what);
    rooms.set(server, room);
  }
  return room;
}

/** The handler's connection; a datagram server gets a one-line UsageError. */
export function streamOf(handler: StreamRequestHandler, what: string): Duplex {
  const conn = handler.connection;
  if (conn instanceof DatagramConnection) {
    throw new UsageError(
      `the ${what} handler serves stream connections (tcp, unix), not datagrams`,
    );
  }
  return conn;
}

/**
 * Call `onData` with every chunk the member sends until it leaves (its end, a
 * close or a reset); resolves then, after it has left the room.
 */
export function untilLeft(
  room: Room,
  member: Member,
  onData: (chunk: Buffer) => void,
): Promise<void> {
  const socket = member.socket;
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off('data', onData);
      socket.off('end', done);
      socket.off('close', done);
      room.leave(member);
      resolve();
    };
    if (socket.destroyed) return done();
    socket.on('data', onData);
    socket.once('end', done);
    socket.once('close', done);
  });
}
