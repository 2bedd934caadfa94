/**
 * Entry of a `forking` worker process (a cluster worker, see fork-pool.ts). Builds
 * the server class for the transport with the options the primary passed in
 * {@link FORK_CONFIG_ENV}, binds through cluster (the primary shares the socket),
 * serves until the primary says `close`, and reports counters, events and
 * handler failures to the primary in batches.
 */
import cluster from 'node:cluster';
import type { SocketAddress } from '../net/address.js';
import { AccessList } from './access.js';
import type {
  BaseServer,
  ConcurrencyStrategy,
  RequestEndInfo,
  ServerStats,
} from './base-server.js';
import { StreamServer, TCPServer, UnixStreamServer } from './stream-server.js';
import { UDPServer } from './datagram-server.js';
import type { Datagram, HandlerClass, StreamRequest } from './request-handler.js';
import { toWire } from './concurrency.js';
import { loadHandlerClass } from './handler-module.js';
import {
  FORK_CONFIG_ENV,
  type ForkConfig,
  type ForkEvent,
  type FromFork,
  type ToFork,
} from './fork-pool.js';
import { debug } from '../net/debug.js';
import { oneLine } from '../net/errors.js';

/** Events are sent at most this long after they happen. */
const FLUSH_MS = 20;
/** …or as soon as this many are waiting. */
const FLUSH_EVENTS = 256;

function send(msg: FromFork): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected || !process.send) {
      resolve();
      return;
    }
    process.send(msg, undefined, {}, () => resolve());
  });
}

/** Batches a worker server's counters and events for the primary. */
class Reporter {
  readonly #events: ForkEvent[] = [];
  readonly #last: ServerStats = { requests: 0, rejected: 0, errors: 0, bytesIn: 0, bytesOut: 0 };
  #timer: NodeJS.Timeout | undefined;
  server: BaseServer<unknown> | undefined;

  push(ev: ForkEvent): void {
    this.#events.push(ev);
    if (this.#events.length >= FLUSH_EVENTS) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), FLUSH_MS);
  }

  flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const now = this.server?.stats;
    if (!now) return Promise.resolve();
    const stats: ServerStats = {
      requests: now.requests - this.#last.requests,
      rejected: now.rejected - this.#last.rejected,
      errors: now.errors - this.#last.errors,
      bytesIn: now.bytesIn - this.#last.bytesIn,
      bytesOut: now.bytesOut - this.#last.bytesOut,
    };
    Object.assign(this.#last, now);
    const events = this.#events.splice(0);
    if (events.length === 0 && Object.values(stats).every((v) => v === 0)) return Promise.resolve();
    return send({ type: 'batch', stats, events });
  }

  /** A handler failure: the primary's handleError() reports it. */
  error(err: unknown, clientAddress: SocketAddress): void {
    this.push(['error', toWire(err), clientAddress]);
  }
}

const reporter = new Reporter();

// Worker servers never fork again, and their failures are the primary's to report.
class WorkerTCPServer extends TCPServer {
  protected override async createStrategy(): Promise<
    ConcurrencyStrategy<StreamRequest> | undefined
  > {
    return undefined;
  }
  protected override handleError(err: unknown, clientAddress: SocketAddress): void {
    reporter.error(err, clientAddress);
  }
}

class WorkerUnixServer extends UnixStreamServer {
  protected override async createStrategy(): Promise<
    ConcurrencyStrategy<StreamRequest> | undefined
  > {
    return undefined;
  }
  protected override handleError(err: unknown, clientAddress: SocketAddress): void {
    reporter.error(err, clientAddress);
  }
  /**
   * The primary checked for a stale socket, set the umask and owns the file: here,
   * only the plain stream bind (which cluster forwards to the primary).
   */
  protected override serverBind(): Promise<SocketAddress> {
    const plain = StreamServer.prototype as unknown as {
      serverBind(this: StreamServer): Promise<SocketAddress>;
    };
    return plain.serverBind.call(this);
  }
}

class WorkerUDPServer extends UDPServer {
  protected override async createStrategy(): Promise<ConcurrencyStrategy<Datagram> | undefined> {
    return undefined;
  }
  protected override handleError(err: unknown, clientAddress: SocketAddress): void {
    reporter.error(err, clientAddress);
  }
}

function build(config: ForkConfig, Handler: HandlerClass<unknown>): BaseServer<unknown> {
  const common = {
    mode: 'forking' as const,
    workers: config.workers,
    handlerModule: config.handlerModule,
  };
  const accessList =
    config.allow || config.deny ? new AccessList(config.allow, config.deny) : undefined;
  const stream = {
    ...common,
    accessList,
    requestQueueSize: config.requestQueueSize,
    maxConnections: config.maxConnections,
    idleTimeout: config.idleTimeout,
  };
  switch (config.transport) {
    case 'tcp':
      return new WorkerTCPServer(
        { host: config.host!, port: config.port! },
        Handler as HandlerClass<StreamRequest>,
        { ...stream, ipv6Only: config.ipv6Only },
      ) as BaseServer<unknown>;
    case 'unix':
      return new WorkerUnixServer(
        config.path!,
        Handler as HandlerClass<StreamRequest>,
        stream,
      ) as BaseServer<unknown>;
    case 'udp':
      return new WorkerUDPServer(
        { host: config.host!, port: config.port! },
        Handler as HandlerClass<Datagram>,
        {
          ...common,
          accessList,
          ipv6Only: config.ipv6Only,
          allowReuseAddress: config.allowReuseAddress,
        },
      ) as BaseServer<unknown>;
  }
}

async function main(): Promise<void> {
  // Ctrl-C reaches the whole process group: the primary decides how workers stop.
  process.on('SIGINT', () => debug('worker %s: SIGINT left to the primary', process.pid));
  const config = JSON.parse(process.env[FORK_CONFIG_ENV] ?? 'null') as ForkConfig | null;
  if (!config || !cluster.isWorker) {
    throw new Error('fork-worker.js runs as a cluster worker of a forking sockit server');
  }
  const Handler = await loadHandlerClass(config.handlerModule);
  const server = build(config, Handler);
  reporter.server = server;
  server.on('request', (clientAddress: SocketAddress) => reporter.push(['request', clientAddress]));
  server.on('requestEnd', ({ error, ...rest }: RequestEndInfo) => {
    reporter.push(['requestEnd', error === undefined ? rest : { ...rest, error: toWire(error) }]);
  });
  server.on('rejected', (clientAddress: SocketAddress, reason: string) =>
    reporter.push(['rejected', clientAddress, String(reason)]),
  );
  server.on('idleTimeout', (clientAddress: SocketAddress) =>
    reporter.push(['idleTimeout', clientAddress]),
  );
  const address = await server.listen();

  let closing: Promise<void> | undefined;
  const close = (graceMs: number): void => {
    if (closing) {
      if (graceMs === 0) void server.serverClose({ graceMs: 0 }); // cut the grace short
      return;
    }
    closing = (async () => {
      await server.serverClose({ graceMs });
      await reporter.flush();
      await send({ type: 'closed' });
      // Closes the IPC channel; the process exits once its last connection is gone.
      cluster.worker?.disconnect();
    })();
  };
  process.on('message', (msg: ToFork) => {
    if (msg?.type === 'close') close(msg.graceMs ?? Infinity);
  });
  // SIGTERM: finish what runs and exit (once: a second SIGTERM kills).
  process.once('SIGTERM', () => close(Infinity));
  void server.serveForever().catch((err: unknown) => reporter.error(err, address));
  await send({ type: 'listening', address });
}

main().catch(async (err: unknown) => {
  debug('worker %s failed: %s', process.pid, oneLine(err));
  await send({ type: 'fatal', error: toWire(err) });
  process.exit(1);
});
