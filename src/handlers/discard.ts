import { DatagramRequestHandler, StreamRequestHandler } from '../engine/request-handler.js';
import { finished } from 'node:stream/promises';

/** RFC 863 discard: read everything, answer nothing. */
export class DiscardHandler extends StreamRequestHandler {
  override async handle(): Promise<void> {
    this.rfile.resume();
    await finished(this.rfile);
  }
}

/** RFC 863 discard for datagrams: no reply at all. */
export class DiscardDatagramHandler extends DatagramRequestHandler {
  override finish(): void {}
}
