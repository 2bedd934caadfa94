/**
 * `-e broker` (ncat --broker): every byte a client sends goes to all the other
 * clients connected at that moment, each chunk in one write. A client that does
 * not read is dropped once `brokerBuffer` bytes wait for it (default 1 MiB); the
 * others never notice. A client leaves when it closes its side. The clients are
 * shared across connections, so it runs in the async and sequential modes only.
 */
import type { Buffer } from 'node:buffer';
import type { BaseServer } from '../engine/base-server.js';
import { StreamRequestHandler } from '../engine/request-handler.js';
import { roomOf, streamOf, untilLeft } from './room.js';

/** Relay every client's bytes to all the others (see the module comment). */
export class BrokerHandler extends StreamRequestHandler {
  override handle(): Promise<void> {
    const socket = streamOf(this, 'broker');
    const room = roomOf(this.server as BaseServer<unknown>, 'broker');
    const member = room.join(socket, this.clientAddress);
    return untilLeft(room, member, (chunk: Buffer) => room.broadcast(chunk, member));
  }
}
