/**
 * Entry of a `threading` worker thread (with worker-main.ts): a connection arrives as
 * a MessagePort; its end is reported on that channel, after its last bytes.
 */
import type { MessagePort } from 'node:worker_threads';
import { toWire } from '../net/wire.js';
import { BridgeConnection } from '../net/bridge-connection.js';
import type { ChannelMessage } from '../net/stream-bridge.js';
import type { StreamJob } from './worker-protocol.js';
import { workerMain, type RunningJob } from './worker-main.js';

function done(port: MessagePort, msg: ChannelMessage): void {
  try {
    port.postMessage(msg);
  } catch {
    // the channel is closed: the owner has given up on this connection already
  }
}

await workerMain((server, msg): RunningJob | undefined => {
  if (msg.type !== 'stream') return undefined;
  const job = msg as StreamJob;
  const conn = new BridgeConnection(job.port, job.clientAddress, job.localAddress, job.tls);
  conn.on('error', () => undefined); // the handler sees failures through its reads and writes
  const ran = server.runRequest(conn, job.clientAddress);
  ran.then(
    () => done(job.port, { t: 'done' }),
    (err: unknown) => done(job.port, { t: 'done', error: toWire(err) }),
  );
  return { done: ran.then(() => undefined), abort: () => conn.destroy(), reportsItself: true };
});
