// A user's handler for `sockit serve … --handler ./examples/reverse-lines.js`:
// answer every line with its characters reversed, on any transport.
import { createInterface } from 'node:readline';
import { StreamRequestHandler } from 'sockit';

export default class ReverseLines extends StreamRequestHandler {
  async handle() {
    for await (const line of createInterface({ input: this.rfile, crlfDelay: Infinity })) {
      await this.write(`${[...line].reverse().join('')}\n`);
    }
  }
}
