/**
 * Entry of a `threading` worker thread (with worker-main.ts): the worker's mux comes
 * first (bridge-mux.ts), then each connection as a job whose traffic travels on the
 * mux under the job's id; its end is reported there, after its last bytes.
 */
import { toWire } from '../net/wire.js';
import { BridgeConnection } from '../net/bridge-connection.js';
import { BridgeMux } from '../net/bridge-mux.js';
import { DirectWriter } from '../net/write-gate.js';
import type { MuxMessage, StreamJob } from './worker-protocol.js';
import { workerMain, type RunningJob } from './worker-main.js';

let mux: BridgeMux | undefined;
let gates: SharedArrayBuffer | undefined;

await workerMain((server, msg): RunningJob | undefined => {
  if (msg.type === 'mux') {
    const { port, gates: table } = msg as unknown as MuxMessage;
    mux = new BridgeMux(port, 'microtask');
    gates = table;
    return undefined;
  }
  if (msg.type !== 'stream' || !mux) return undefined;
  const job = msg as StreamJob;
  const direct = job.gate && gates ? new DirectWriter(gates, job.gate) : undefined;
  const { id, clientAddress, localAddress, tls } = job;
  const conn = new BridgeConnection(mux, id, clientAddress, localAddress, tls, direct);
  conn.on('error', () => undefined); // the handler sees failures through its reads and writes
  const ran = server.runRequest(conn, clientAddress);
  ran.then(
    () => conn.reportDone(),
    (err: unknown) => conn.reportDone(toWire(err)),
  );
  return { done: ran.then(() => undefined), abort: () => conn.destroy(), reportsItself: true };
});
