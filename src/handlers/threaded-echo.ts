import { Buffer } from 'node:buffer';
import { isMainThread, threadId } from 'node:worker_threads';
import { DatagramConnection, StreamRequestHandler } from '../engine/request-handler.js';
import { answerShaped, replyOptions } from './reply-shape.js';

/**
 * The name of the thread or process running this code, as Python would print
 * `threading.current_thread().name`: `Thread-<id>` in a worker thread,
 * `Process-<id>` in a forked worker, `MainThread` otherwise.
 */
export function workerName(): string {
  if (!isMainThread) return `Thread-${threadId}`;
  const forked = process.env.SOCKIT_WORKER_ID;
  return forked ? `Process-${forked}` : 'MainThread';
}

/** Prefix every line of `data` with `name: `, carrying line state across chunks. */
export class LinePrefixer {
  #atLineStart = true;
  constructor(readonly prefix: Buffer) {}
  apply(data: Buffer): Buffer {
    const parts: Buffer[] = [];
    let start = 0;
    while (start < data.length) {
      if (this.#atLineStart) parts.push(this.prefix);
      const nl = data.indexOf(10, start);
      const end = nl < 0 ? data.length : nl + 1;
      parts.push(data.subarray(start, end));
      this.#atLineStart = nl >= 0;
      start = end;
    }
    return Buffer.concat(parts);
  }
}

/**
 * Echo with every line prefixed by the worker's name (`Thread-2: hello`), Python
 * socketserver's ThreadedTCPRequestHandler; a datagram comes back whole after one
 * prefix (`Thread-2: <datagram>`). Meant for `--mode threading`, where the work runs
 * on the worker pool. With the server option `replyOnce` (see `ReplyOptions`) it
 * answers one read or line after one prefix and closes, as Python's example does.
 */
export class ThreadedEchoHandler extends StreamRequestHandler {
  override handle(): void | Promise<void> {
    const prefix = Buffer.from(`${workerName()}: `);
    const shape = replyOptions(this.server);
    if (shape) {
      const prefixer = new LinePrefixer(prefix);
      const once = (data: Buffer): Buffer => Buffer.concat([prefix, data]);
      return answerShaped(this, shape, once, (chunk) => prefixer.apply(chunk));
    }
    const conn = this.connection;
    if (conn instanceof DatagramConnection) {
      conn.appendReply(prefix);
      conn.appendReply(conn.data);
      return;
    }
    return this.#echoLines(new LinePrefixer(prefix));
  }

  async #echoLines(prefixer: LinePrefixer): Promise<void> {
    for await (const chunk of this.rfile) await this.write(prefixer.apply(chunk as Buffer));
  }
}
