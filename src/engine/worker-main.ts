/**
 * The worker side both pooled modes share: build the server from its spec, take
 * jobs, run each through `server.runRequest()` (contained: what a handler lets escape
 * fails its request, not the worker), report their end, and close gracefully when
 * the pool asks. The mode's entry adds how a stream job arrives.
 */
import { settleMallocHeap } from '../net/heap.js';
import { Buffer } from 'node:buffer';
import type { SocketAddress } from '../net/address.js';
import { poolChild, type PoolChild } from '../net/pool-backend.js';
import { toWire } from '../net/wire.js';
import { settledWithin } from '../net/timing.js';
import type { BaseServer } from './base-server.js';
import { enter } from '../net/containment.js';
import { loadHandlerClass } from './handler-module.js';
import { importModule } from '../net/module-hook.js';
import { DatagramConnection } from './datagram-connection.js';
import type { ServerSpec } from './server-spec.js';
import type { RequestOutcome } from './strategy.js';
import {
  FORWARDED_EVENTS,
  type DatagramJob,
  type DoneMessage,
  type EventMessage,
} from './worker-protocol.js';

/** A job running in this worker. */
export interface RunningJob {
  /** Settles when the request is over: its outcome, or its failure. */
  readonly done: Promise<RequestOutcome | void>;
  /** The grace period is over: end the request now. */
  abort(): void;
  /** The job reports its own end (a thread's stream, on its channel, in order with its data). */
  readonly reportsItself?: boolean;
}

/** What a mode's entry gets for each job message that is not a datagram. */
export type StreamJobRunner = (
  server: BaseServer<unknown>,
  msg: { readonly type: string; readonly id: number },
  extra: unknown,
) => RunningJob | undefined;

/** Build the server a worker serves for: the same class, handler, address and options. */
export async function buildServer(spec: ServerSpec): Promise<BaseServer<unknown>> {
  const ns = await importModule(spec.server.url);
  const Class = ns[spec.server.exportName ?? 'default'] as new (...a: unknown[]) => BaseServer;
  if (typeof Class !== 'function') {
    throw new Error(`${spec.server.url} has no export '${spec.server.exportName ?? 'default'}'`);
  }
  const Handler = await loadHandlerClass(spec.handler);
  return new Class(spec.address, Handler, spec.options);
}

/** A datagram as a worker sees it: replies go back to the owner, which sends them. */
class ForwardedDatagram extends DatagramConnection {
  constructor(
    readonly child: PoolChild,
    readonly id: number,
    data: Buffer,
    clientAddress: SocketAddress,
  ) {
    super(data, clientAddress);
  }

  reply(reply: Uint8Array): Promise<void> {
    const copy = new Uint8Array(reply); // a copy of its own: its buffer is transferred
    this.child.post({ type: 'reply', id: this.id, data: copy }, [copy.buffer]);
    this.bytesOut += reply.byteLength;
    return Promise.resolve();
  }
}

function datagramJob(server: BaseServer<unknown>, child: PoolChild, job: DatagramJob): RunningJob {
  const data = Buffer.from(job.data.buffer, job.data.byteOffset, job.data.byteLength);
  const datagram = new ForwardedDatagram(child, job.id, data, job.clientAddress);
  return {
    done: server.runRequest(datagram, job.clientAddress).then(() => undefined),
    abort: () => datagram.abort(),
  };
}

function report(child: PoolChild, id: number, job: RunningJob): void {
  if (job.reportsItself) return;
  job.done.then(
    (outcome) =>
      child.post({ type: 'done', id, ...(outcome ? { outcome } : {}) } satisfies DoneMessage),
    (err: unknown) => child.post({ type: 'done', id, error: toWire(err) } satisfies DoneMessage),
  );
}

/** Wait for running jobs (at most `graceMs`), end the rest, and let the pool know. */
async function closeWorker(running: Map<number, RunningJob>, graceMs: number): Promise<void> {
  const all = (): Promise<unknown>[] => [...running.values()].map((j) => j.done);
  await settledWithin(all(), graceMs);
  for (const job of running.values()) job.abort();
  await Promise.allSettled(all());
}

/** Run this worker; `events`: what the owner reports besides {@link FORWARDED_EVENTS}. */
export async function workerMain(
  streamJob: StreamJobRunner,
  events: readonly EventMessage['name'][] = [],
): Promise<void> {
  settleMallocHeap(); // a forked worker reads its sockets itself
  const child = await poolChild();
  let server: BaseServer<unknown>;
  try {
    server = await buildServer(child.init as ServerSpec);
  } catch (err) {
    child.fatal(err);
    return;
  }
  enter(); // a handler's escaped failure is its request's, never the worker's end
  for (const name of [...FORWARDED_EVENTS, ...events]) {
    server.on(name, (...args: unknown[]) =>
      child.post({ type: 'event', name, args } satisfies EventMessage),
    );
  }
  const running = new Map<number, RunningJob>();
  child.onMessage((msg, extra) => {
    const m = msg as { type: string; id: number; address?: SocketAddress };
    if (m.type === 'address') return server.adopt(m.address!);
    const job =
      m.type === 'datagram'
        ? datagramJob(server, child, m as DatagramJob)
        : streamJob(server, m, extra);
    if (!job) return;
    running.set(m.id, job);
    report(child, m.id, job);
    void job.done.catch(() => undefined).finally(() => running.delete(m.id));
  });
  let closing: Promise<void> | undefined;
  child.onClose((graceMs) => {
    if (closing) {
      if (graceMs === 0) for (const job of running.values()) job.abort();
      return;
    }
    closing = closeWorker(running, graceMs).then(() => child.closed());
  });
  child.ready();
}
