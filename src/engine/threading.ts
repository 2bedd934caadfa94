/**
 * The `threading` mode, Python's ThreadingMixIn made honest for Node: socket I/O
 * stays on this thread and every request's handler runs on a pool of worker
 * threads, so CPU-heavy handlers use every core. A connection is bridged to its
 * worker (stream-bridge.ts) over the one mux of that worker (bridge-mux.ts); a
 * datagram travels whole (pooled.ts).
 */
import { MessageChannel } from 'node:worker_threads';
import { localAddress, type SocketAddress } from '../net/address.js';
import type { PoolWorker } from '../net/worker-pool.js';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import { tlsFacts } from '../net/tls-info.js';
import { PooledStrategy } from './pooled.js';
import { StreamBridge } from '../net/stream-bridge.js';
import { BridgeMux } from '../net/bridge-mux.js';
import { GateTable } from '../net/write-gate.js';
import type { DatagramJob, MuxMessage, StreamJob } from './worker-protocol.js';

/** The `threading` strategy. */
export class ThreadingStrategy extends PooledStrategy {
  readonly mode = 'threading' as const;
  protected readonly backend = 'thread' as const;
  protected readonly entry = 'thread-worker' as const;
  readonly #sides = new WeakMap<PoolWorker, { mux: BridgeMux; gates: GateTable }>();

  protected post(worker: PoolWorker, msg: DatagramJob): void {
    // Copied, not transferred: the datagram stays readable here (stats, listeners).
    const data = new Uint8Array(msg.data);
    worker.send({ ...msg, data }, [data.buffer]);
  }

  protected runStream(worker: PoolWorker, connection: unknown, clientAddress: SocketAddress) {
    const socket = connection as Duplex;
    return this.track(worker, (id, settle) => {
      const { mux, gates } = this.#sidesOf(worker);
      const bridge = new StreamBridge(socket, settle);
      const gate = bridge.openGate(gates);
      const job: StreamJob = {
        type: 'stream',
        id,
        clientAddress,
        localAddress: localAddress(socket, this.host.serverAddress()),
        ...(socket instanceof TLSSocket ? { tls: tlsFacts(socket) } : {}),
        ...(gate ? { gate } : {}),
      };
      worker.send(job);
      bridge.start(mux, id);
    });
  }

  /** The mux and the gates of `worker`, made (and sent) on its first connection. */
  #sidesOf(worker: PoolWorker): { mux: BridgeMux; gates: GateTable } {
    let sides = this.#sides.get(worker);
    if (!sides) {
      const { port1, port2 } = new MessageChannel();
      sides = { mux: new BridgeMux(port1, 'turn'), gates: new GateTable() };
      const msg: MuxMessage = { type: 'mux', port: port2, gates: sides.gates.buffer };
      worker.send(msg, [port2]);
      this.#sides.set(worker, sides);
    }
    return sides;
  }
}
