/**
 * Entry of a `threading` worker thread (with worker-main.ts): the worker's mux comes
 * first (bridge-mux.ts), then each connection as a job whose traffic travels on the
 * mux under the job's id; its end is reported there, after its last bytes.
 */
import { toWire } from '../net/wire.js';
import { BridgeConnection } from '../net/bridge-connection.js';
import { BridgeMux } from '../net/bridge-mux.js';
import type { MuxMessage, StreamJob } from './worker-protocol.js';
import { workerMain, type RunningJob } from './worker-main.js';

let mux: BridgeMux | undefined;

await workerMain((server, msg): RunningJob | undefined => {
  if (msg.type === 'mux') {
    mux = new BridgeMux((msg as unknown as MuxMessage).port, 'microtask');
    return undefined;
  }
  if (msg.type !== 'stream' || !mux) return undefined;
  const job = msg as StreamJob;
  const conn = new BridgeConnection(mux, job.id, job.clientAddress, job.localAddress, job.tls);
  conn.on('error', () => undefined); // the handler sees failures through its reads and writes
  const ran = server.runRequest(conn, job.clientAddress);
  ran.then(
    () => conn.reportDone(),
    (err: unknown) => conn.reportDone(toWire(err)),
  );
  return { done: ran.then(() => undefined), abort: () => conn.destroy(), reportsItself: true };
});
