import { DatagramRequestHandler, StreamRequestHandler } from '../engine/request-handler.js';
import { finished } from 'node:stream/promises';

/** RFC 863 discard: read everything, answer nothing. */
export class DiscardHandler extends StreamRequestHandler {
  override async handle(): Promise<void> {
    this.rfile.resume();
    // only the reading side: the writing side stays open until the server ends it
    await finished(this.rfile, { writable: false });
  }
}

/** RFC 863 discard for datagrams: no reply at all. */
export class DiscardDatagramHandler extends DatagramRequestHandler {
  override finish(): void {}
}
