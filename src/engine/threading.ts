/**
 * The `threading` mode, Python's ThreadingMixIn made honest for Node: socket I/O
 * stays on this thread and every request's handler runs on a pool of worker
 * threads, so CPU-heavy handlers use every core. A connection is bridged to its
 * worker (stream-bridge.ts); a datagram travels whole (pooled.ts).
 */
import { MessageChannel } from 'node:worker_threads';
import { localAddress, type SocketAddress } from '../net/address.js';
import type { PoolWorker } from '../net/worker-pool.js';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import { tlsFacts } from '../net/tls-info.js';
import { PooledStrategy } from './pooled.js';
import { StreamBridge } from '../net/stream-bridge.js';
import type { DatagramJob, StreamJob } from './worker-protocol.js';

/** The `threading` strategy. */
export class ThreadingStrategy extends PooledStrategy {
  readonly mode = 'threading' as const;
  protected readonly backend = 'thread' as const;
  protected readonly entry = 'thread-worker' as const;

  protected post(worker: PoolWorker, msg: DatagramJob): void {
    // Copied, not transferred: the datagram stays readable here (stats, listeners).
    const data = new Uint8Array(msg.data);
    worker.send({ ...msg, data }, [data.buffer]);
  }

  protected runStream(worker: PoolWorker, connection: unknown, clientAddress: SocketAddress) {
    const socket = connection as Duplex;
    return this.track(worker, (id, settle) => {
      const { port1, port2 } = new MessageChannel();
      const bridge = new StreamBridge(socket, port1, (err) => settle(err));
      const job: StreamJob = {
        type: 'stream',
        id,
        port: port2,
        clientAddress,
        localAddress: localAddress(socket, this.host.serverAddress()),
        ...(socket instanceof TLSSocket ? { tls: tlsFacts(socket) } : {}),
      };
      worker.send(job, [port2]);
      bridge.start();
    });
  }
}
