/**
 * `-e chat` (ncat --chat): a line chat. Each line a client sends goes to everyone
 * else as `<user3> line`; joins, leaves and renames (`/nick name`) are announced
 * with `* `. Control characters a client sends (an escape sequence, a bell, a
 * carriage return) reach the others escaped as `\x1b`, so that nobody can drive
 * another's terminal. Readers that stop reading are dropped as in the broker.
 * Runs in the async and sequential modes only (the room is shared state).
 */
import { Buffer } from 'node:buffer';
import type { BaseServer } from '../engine/base-server.js';
import { StreamRequestHandler } from '../engine/request-handler.js';
import { roomOf, streamOf, untilLeft, type Member, type Room } from './room.js';

/** A line longer than this is passed on in pieces of this size. */
export const MAX_CHAT_LINE = 64 * 1024;

/** A nickname: 1-32 letters, digits, `_`, `-` or `.`. */
const NICK = /^[A-Za-z0-9_.-]{1,32}$/;

/**
 * A line as text that cannot drive a terminal: UTF-8 (invalid bytes become U+FFFD),
 * with C0 controls but the tab, DEL and C1 controls written as `\xNN`.
 */
export function escapeControls(line: Buffer | string): string {
  const text = typeof line === 'string' ? line : line.toString('utf8');
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x08\x0a-\x1f\x7f-\x9f]/g, (c) => {
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

/** Splits what a member sends into lines (without the line end), keeping the unfinished rest. */
class LineSplitter {
  #carry: Buffer | undefined;

  /** The complete lines in `chunk` (and before it). */
  push(chunk: Buffer): Buffer[] {
    const data = this.#carry ? Buffer.concat([this.#carry, chunk]) : chunk;
    const lines: Buffer[] = [];
    let start = 0;
    for (let nl = data.indexOf(10); nl >= 0; nl = data.indexOf(10, start)) {
      lines.push(data.subarray(start, nl > start && data[nl - 1] === 13 ? nl - 1 : nl));
      start = nl + 1;
    }
    while (data.length - start >= MAX_CHAT_LINE) {
      lines.push(data.subarray(start, start + MAX_CHAT_LINE));
      start += MAX_CHAT_LINE;
    }
    this.#carry = start < data.length ? Buffer.from(data.subarray(start)) : undefined;
    return lines;
  }

  /** What is left when the member goes (a last line without a line end). */
  rest(): Buffer | undefined {
    const rest = this.#carry;
    this.#carry = undefined;
    return rest;
  }
}

function names(room: Room, except: Member): string {
  const others = [...room.members].filter((m) => m !== except).map((m) => m.name);
  return others.length === 0 ? 'nobody else is here' : `here: ${others.join(', ')}`;
}

/** `/nick name`: rename, when the name is valid and free. */
function rename(room: Room, member: Member, wanted: string): void {
  if (!NICK.test(wanted)) {
    room.send(member, "* nicknames are 1-32 letters, digits, '_', '-' or '.'\n");
  } else if ([...room.members].some((m) => m !== member && m.name === wanted)) {
    room.send(member, `* ${wanted} is taken\n`);
  } else if (wanted !== member.name) {
    room.broadcast(`* ${member.name} is now ${wanted}\n`, member);
    member.name = wanted;
    room.send(member, `* you are now ${wanted}\n`);
  }
}

function said(room: Room, member: Member, line: Buffer): void {
  const nick = /^\/nick(?:\s+(.*?))?\s*$/.exec(line.toString('latin1'));
  if (nick) {
    rename(room, member, nick[1] ?? '');
    return;
  }
  if (line.length > 0) room.broadcast(`<${member.name}> ${escapeControls(line)}\n`, member);
}

/** A line chat among every client (see the module comment). */
export class ChatHandler extends StreamRequestHandler {
  override async handle(): Promise<void> {
    const socket = streamOf(this, 'chat');
    const room = roomOf(this.server as BaseServer<unknown>, 'chat');
    const member = room.join(socket, this.clientAddress);
    room.send(
      member,
      `* you are ${member.name}; ${names(room, member)}; /nick <name> renames you\n`,
    );
    room.broadcast(`* ${member.name} joined\n`, member);
    const lines = new LineSplitter();
    await untilLeft(room, member, (chunk: Buffer) => {
      for (const line of lines.push(chunk)) said(room, member, line);
    });
    const rest = lines.rest();
    if (rest) said(room, member, rest);
    room.broadcast(`* ${member.name} left\n`);
  }
}
