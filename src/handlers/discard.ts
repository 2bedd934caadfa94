import { finished } from 'node:stream/promises';
import { DatagramConnection, StreamRequestHandler } from '../engine/request-handler.js';

/** RFC 863 discard: read everything, answer nothing (a datagram gets no reply at all). */
export class DiscardHandler extends StreamRequestHandler {
  override handle(): void | Promise<void> {
    if (this.connection instanceof DatagramConnection) return;
    this.rfile.resume();
    // only the reading side: the writing side stays open until the server ends it
    return finished(this.rfile, { writable: false });
  }
}
