/**
 * The `forking` mode, Python's ForkingMixIn for Node: worker processes started
 * ahead, each building the same server from its spec. This process binds, accepts,
 * checks access and limits, and hands each socket to the least-loaded worker (as
 * `cluster` does), which serves it. So a connection made at once waits for a ready
 * worker, the unix socket file is protected, and `--max-conns` counts server-wide.
 */
import type { Socket } from 'node:net';
import type { SocketAddress } from '../net/address.js';
import { systemError } from '../net/errors.js';
import { nearFileLimit, openFileLimit } from '../net/limits.js';
import type { PoolWorker } from '../net/worker-pool.js';
import { PooledStrategy } from './pooled.js';
import type { ConnectionJob, DatagramJob } from './worker-protocol.js';

/** The `forking` strategy. */
export class ForkingStrategy extends PooledStrategy {
  readonly mode = 'forking' as const;
  protected readonly backend = 'process' as const;
  protected readonly entry = 'fork-worker' as const;

  protected post(worker: PoolWorker, msg: DatagramJob): void {
    worker.send(msg);
  }

  /** Workers inherit this process's limit on open files. */
  readonly #fileLimit = openFileLimit();

  protected runStream(worker: PoolWorker, connection: unknown, clientAddress: SocketAddress) {
    const socket = connection as Socket;
    // A worker at its open-file limit could not take the socket (Node would drop it with
    // a process warning and the request would never end): close it here, and say so.
    const limit = this.#fileLimit;
    if (nearFileLimit(worker.load, limit)) {
      socket.destroy();
      const why = `worker process ${worker.id} is near the open-file limit (ulimit -n ${limit}): ${worker.load} connections open, new ones are closed`;
      this.host.emit('acceptError', systemError('EMFILE', why));
      return Promise.resolve();
    }
    return this.track(worker, (id) => {
      this.host.handedOff(socket);
      worker.send({ type: 'conn', id, clientAddress } satisfies ConnectionJob, socket);
    });
  }
}
