/**
 * The `forking` concurrency model: the honest ForkingMixIn for Node, a pre-forked
 * pool of worker processes sharing the listening socket.
 *
 * Why `node:cluster` rather than `child_process.fork` with handle passing: with a
 * handle passed to children, the process that bound it keeps an accepting copy it
 * cannot pause (closing it would unlink a unix socket's file), and Linux spreads a
 * shared listener's connections unevenly. cluster binds once in the primary and,
 * for TCP and unix stream sockets, accepts there and hands each connection to the
 * next worker (round-robin, the default scheduling policy on Linux), so load is
 * spread evenly and the primary never serves anything itself; for UDP it shares
 * one socket with every worker (the kernel picks who receives: unevenly).
 *
 * Each worker (fork-worker.ts) builds the same server class in the same options,
 * with the handler imported from `server.handlerModule`, and serves; it reports
 * per-request counters and events to this process in batches, so the primary's
 * `stats` and its `request` / `requestEnd` / `rejected` / `idleTimeout` events
 * keep working, and handler failures go through its `handleError()`.
 *
 * Limits: a server subclass's overrides (e.g. its own `verifyRequest()`) do not
 * reach the workers, which build the plain class for the transport; the primary
 * emits `request` without the request object (it lives in another process);
 * `handleRequest()` has no requests to take here — use `serveForever()`; unix
 * datagram servers cannot fork (the addon's socket cannot be shared).
 *
 * Extra events on the server: `workerStart` ({id, pid}), `workerListening`
 * ({id, pid}), `workerExit` ({id, pid, code, signal, gaveUp}; without a
 * listener a crash is logged through `server.log`). `gaveUp` is true when
 * workers kept dying within a second of their start: the pool then stops
 * replacing them and closes the server.
 *
 * Signals: workers ignore SIGINT (Ctrl-C reaches the whole process group; the
 * primary decides); SIGTERM makes a worker close gracefully and exit, and the
 * primary starts a new one (a second SIGTERM kills it). A worker whose primary
 * dies exits (cluster does that). `cluster.setupPrimary()` is process-wide: it
 * is called before each fork with this pool's entry file.
 */
import cluster, { type Worker } from 'node:cluster';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { fileURLToPath } from 'node:url';
import type { SocketAddress, Transport } from '../net/address.js';
import { formatEndpoint, inetAddress } from '../net/address.js';
import type {
  BaseServer,
  ConcurrencyStrategy,
  HandlerModule,
  RequestEndInfo,
  ServerStats,
} from './base-server.js';
import { ERR, NetworkError, UnsupportedError, oneLine } from '../net/errors.js';
import {
  clearStaleSocket,
  claimSocketFile,
  releaseSocketFile,
  type BoundPath,
} from '../net/unix-path.js';
import { debug } from '../net/debug.js';
import { fromWire, poolSize, workerEntry, type WireError } from './concurrency.js';

/** Environment variable carrying a worker's {@link ForkConfig} (JSON). */
export const FORK_CONFIG_ENV = 'SOCKIT_FORK_CONFIG';

/** A worker dying this soon after its start counts as a failed start. */
const QUICK_DEATH_MS = 1000;
/** Failed starts in a row after which the pool gives up and closes the server. */
const MAX_QUICK_DEATHS = 5;
/** How long a worker that has closed its server may take to exit before it is killed. */
const EXIT_MARGIN_MS = 5000;
/** Tries when the free port picked for a port-0 server is taken before the workers bind it. */
const PORT_TRIES = 3;

/**
 * Addresses the forking servers of this process listen on. cluster gives every
 * worker asking for the same address the same shared socket, so a second
 * forking server on a taken address would silently share the first one's: it
 * is refused here instead, as the kernel would.
 */
const claimed = new Set<string>();

/** What a worker process needs to build its server. */
export interface ForkConfig {
  readonly transport: 'tcp' | 'unix' | 'udp';
  readonly host?: string;
  readonly port?: number;
  readonly path?: string;
  readonly handlerModule: HandlerModule;
  readonly workers: number;
  readonly requestQueueSize?: number;
  /** Per worker: the server's cap divided among the workers (rounded up). */
  readonly maxConnections?: number;
  readonly idleTimeout?: number;
  readonly ipv6Only?: boolean;
  readonly allowReuseAddress?: boolean;
  readonly allow?: readonly string[];
  readonly deny?: readonly string[];
}

/** `requestEnd` info as it crosses the process boundary. */
export interface WireRequestEnd {
  readonly clientAddress: SocketAddress;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly durationMs: number;
  readonly error?: WireError;
}

/** One event a worker's server emitted, in order. */
export type ForkEvent =
  | ['request', SocketAddress]
  | ['requestEnd', WireRequestEnd]
  | ['rejected', SocketAddress, string]
  | ['idleTimeout', SocketAddress]
  | ['error', WireError, SocketAddress];

/** Messages from a worker process. */
export type FromFork =
  | { type: 'listening'; address: SocketAddress }
  | { type: 'fatal'; error: WireError }
  | { type: 'batch'; stats: ServerStats; events: ForkEvent[] }
  | { type: 'closed' };

/** Messages to a worker process: close gracefully (`graceMs` null = wait for every request). */
export type ToFork = { type: 'close'; graceMs: number | null };

/** A worker process of the pool, as the `worker*` events describe it. */
export interface ForkWorkerInfo {
  readonly id: number;
  readonly pid: number | undefined;
}

interface ForkWorker extends ForkWorkerInfo {
  readonly worker: Worker;
  readonly started: number;
  /** Settles with the bound address, or the reason it never listened. */
  readonly listening: Promise<SocketAddress>;
  /** Resolves once the process has exited and its IPC channel is closed. */
  readonly gone: Promise<void>;
  isListening: boolean;
  closed: boolean;
  fatal?: Error;
  code?: number | null;
  signal?: string | null;
}

/** The fields of the concrete server classes a worker needs (read without importing them). */
interface ServerFields {
  transport: Transport;
  serverAddress: SocketAddress;
  requestQueueSize?: number;
  maxConnections?: number;
  idleTimeout?: number;
  ipv6Only?: boolean;
  allowReuseAddress?: boolean;
  socketMode?: number;
  accessList?: { allow?: readonly string[]; deny?: readonly string[] };
}

function forkConfig(server: BaseServer<unknown>, size: number): ForkConfig {
  const s = server as unknown as ServerFields;
  if (s.transport === 'unix-dgram') {
    throw new UnsupportedError(
      "mode 'forking' is not available for unix datagram servers — the unix-dgram addon cannot adopt a socket bound in another process and cluster cannot share it; use --mode threading",
    );
  }
  const a = s.serverAddress;
  const where = a.family === 'unix' ? { path: a.path } : { host: a.address, port: a.port };
  const opt = <K extends keyof ServerFields>(k: K): Partial<Pick<ServerFields, K>> =>
    s[k] === undefined ? {} : ({ [k]: s[k] } as Partial<Pick<ServerFields, K>>);
  return {
    transport: s.transport,
    ...where,
    handlerModule: { ...server.handlerModule! },
    workers: size,
    ...opt('requestQueueSize'),
    ...(s.maxConnections === undefined
      ? {}
      : { maxConnections: Math.ceil(s.maxConnections / size) }),
    ...opt('idleTimeout'),
    ...opt('ipv6Only'),
    ...opt('allowReuseAddress'),
    ...(s.accessList ? { allow: s.accessList.allow ?? [], deny: s.accessList.deny ?? [] } : {}),
  };
}

/** The `forking` strategy: workers bind (through cluster) and serve; this process supervises. */
export class ForkingStrategy implements ConcurrencyStrategy<unknown> {
  readonly #server: BaseServer<unknown>;
  readonly #size: number;
  /** What workers are started with (a port-0 server gets the port picked for it). */
  #config: ForkConfig;
  readonly #exec: string;
  readonly #workers = new Map<number, ForkWorker>();
  #phase: 'idle' | 'starting' | 'running' | 'closing' = 'idle';
  #nextId = 0;
  #quickDeaths = 0;
  #claim: string | undefined;
  #bound: BoundPath | undefined;
  #closing: Promise<void> | undefined;

  private constructor(server: BaseServer<unknown>) {
    this.#server = server;
    this.#size = poolSize(server);
    this.#config = forkConfig(server, this.#size);
    this.#exec = fileURLToPath(workerEntry('fork-worker'));
  }

  /** Check that the server can fork; the workers start in `listen()`. */
  static create(server: BaseServer<unknown>): ForkingStrategy {
    if (!cluster.isPrimary) {
      throw new UnsupportedError("mode 'forking' cannot start inside a cluster worker");
    }
    return new ForkingStrategy(server);
  }

  /** Worker processes alive right now (pids). */
  get pids(): number[] {
    return [...this.#workers.values()].flatMap((w) => (w.pid === undefined ? [] : [w.pid]));
  }

  /**
   * Fork the workers and let them bind; resolves with the shared bound address
   * once every worker listens, or rejects with the first failure (a bind error
   * as the NetworkError the worker's server raised). Unix sockets: the stale
   * socket check, the private umask and the file mode happen here, once — the
   * cluster primary is the process that binds. Port 0: cluster would give every
   * port-0 listener of this process the same socket, so a free port is picked
   * here first and the workers bind that one.
   */
  async listen(): Promise<SocketAddress> {
    this.#phase = 'starting';
    const wanted = this.#config;
    if (wanted.transport === 'unix') await clearStaleSocket(wanted.path!);
    for (let attempt = 1; ; attempt++) {
      const port = wanted.port === 0 ? await freePort(wanted) : wanted.port;
      this.#config = { ...wanted, ...(port === undefined ? {} : { port }) };
      const key = claimKey(this.#config);
      if (claimed.has(key)) throw addressInUse(this.#config);
      claimed.add(key);
      this.#claim = key;
      try {
        const address = await this.#startAll();
        this.#phase = 'running';
        return address;
      } catch (err) {
        claimed.delete(key);
        this.#claim = undefined;
        const retry = wanted.port === 0 && port !== 0 && attempt < PORT_TRIES;
        if (!retry || !(err instanceof NetworkError) || err.errno !== 'EADDRINUSE') {
          this.#phase = 'idle';
          throw err;
        }
        debug('picked port %d was taken before the workers bound it: trying another', port);
      }
    }
  }

  async #startAll(): Promise<SocketAddress> {
    const unixPath = this.#config.transport === 'unix' ? this.#config.path : undefined;
    // cluster binds in this process when the first worker asks: a 0600 socket from
    // the first instant needs the private umask until then (see withPrivateUmask).
    const oldMask = unixPath !== undefined ? process.umask(0o177) : undefined;
    let address: SocketAddress;
    try {
      const starts = Array.from({ length: this.#size }, () => this.#spawn().listening);
      address = (await Promise.all(starts))[0]!;
    } catch (err) {
      if (oldMask !== undefined) process.umask(oldMask);
      await this.#stop(0);
      throw err;
    }
    if (oldMask !== undefined) process.umask(oldMask);
    if (unixPath !== undefined) {
      const mode = (this.#server as unknown as ServerFields).socketMode;
      this.#bound = await claimSocketFile(unixPath, mode);
    }
    return address;
  }

  #spawn(): ForkWorker {
    const id = ++this.#nextId;
    cluster.setupPrimary({ exec: this.#exec, args: [], silent: false });
    const worker = cluster.fork({
      SOCKIT_WORKER_ID: String(id),
      [FORK_CONFIG_ENV]: JSON.stringify(this.#config),
    });
    let listened!: (address: SocketAddress) => void;
    let failed!: (err: Error) => void;
    const listening = new Promise<SocketAddress>((resolve, reject) => {
      listened = resolve;
      failed = reject;
    });
    listening.catch(() => undefined); // replacements' failures are handled in #onGone
    const gone = new Promise<void>((resolve) => {
      let exited = false;
      let disconnected = false;
      const check = (): void => {
        if (exited && disconnected) resolve();
      };
      worker.once('exit', (code: number | null, signal: string | null) => {
        rec.code = code;
        rec.signal = signal;
        exited = true;
        disconnected ||= !worker.isConnected();
        check();
      });
      worker.once('disconnect', () => {
        disconnected = true;
        check();
      });
    });
    const rec: ForkWorker = {
      id,
      pid: worker.process.pid,
      worker,
      started: Date.now(),
      listening,
      gone,
      isListening: false,
      closed: false,
    };
    this.#workers.set(id, rec);
    worker.on('error', (err: Error) => debug('worker %d: %s', id, oneLine(err)));
    worker.on('message', (msg: FromFork) => {
      switch (msg.type) {
        case 'listening':
          rec.isListening = true;
          listened(msg.address);
          this.#emit('workerListening', { id, pid: rec.pid });
          break;
        case 'fatal':
          rec.fatal = fromWire(msg.error);
          failed(rec.fatal);
          break;
        case 'batch':
          this.#apply(msg);
          break;
        case 'closed':
          rec.closed = true;
          break;
      }
    });
    void gone.then(() => {
      failed(
        rec.fatal ??
          new Error(
            `worker process ${id} exited (${rec.signal ?? `code ${rec.code}`}) before listening`,
          ),
      );
      this.#onGone(rec);
    });
    this.#emit('workerStart', { id, pid: rec.pid });
    return rec;
  }

  #emit(event: string, info: unknown): boolean {
    return this.#server.emit(event, info);
  }

  /** Apply a worker's counters and replay its events on the primary's server. */
  #apply(batch: Extract<FromFork, { type: 'batch' }>): void {
    const server = this.#server;
    const stats = server.stats;
    stats.requests += batch.stats.requests;
    stats.rejected += batch.stats.rejected;
    stats.errors += batch.stats.errors;
    stats.bytesIn += batch.stats.bytesIn;
    stats.bytesOut += batch.stats.bytesOut;
    for (const ev of batch.events) {
      switch (ev[0]) {
        case 'request':
          server.emit('request', ev[1], undefined);
          break;
        case 'requestEnd': {
          const { error, ...rest } = ev[1];
          const info: RequestEndInfo = error ? { ...rest, error: fromWire(error) } : rest;
          server.emit('requestEnd', info);
          break;
        }
        case 'rejected':
          server.emit('rejected', ev[1], ev[2]);
          break;
        case 'idleTimeout':
          server.emit('idleTimeout', ev[1]);
          break;
        case 'error':
          try {
            // handleError is a protected hook: the worker's failure is the primary's to report.
            (server as unknown as { handleError(e: unknown, a: SocketAddress): void }).handleError(
              fromWire(ev[1]),
              ev[2],
            );
          } catch (err) {
            debug('handleError threw: %s', oneLine(err));
          }
          break;
      }
    }
  }

  #onGone(rec: ForkWorker): void {
    this.#workers.delete(rec.id);
    if (this.#phase !== 'running') return;
    const quick = !rec.isListening || Date.now() - rec.started < QUICK_DEATH_MS;
    this.#quickDeaths = quick ? this.#quickDeaths + 1 : 0;
    const giveUp = this.#quickDeaths >= MAX_QUICK_DEATHS;
    const info = {
      id: rec.id,
      pid: rec.pid,
      code: rec.code ?? null,
      signal: rec.signal ?? null,
      gaveUp: giveUp,
    };
    const why = rec.fatal ? oneLine(rec.fatal) : (rec.signal ?? `exit code ${rec.code}`);
    if (!this.#emit('workerExit', info)) {
      this.#server.log(
        `sockit: worker process ${rec.id} (pid ${rec.pid}) died — ${why}${giveUp ? '' : '; starting a new one'}`,
      );
    }
    if (!giveUp) {
      try {
        this.#spawn();
        return;
      } catch (err) {
        this.#server.log(`sockit: cannot start a worker process — ${oneLine(err)}`);
        if (this.#workers.size > 0) return;
      }
    }
    this.#server.log(
      giveUp
        ? `sockit: worker processes keep dying within ${QUICK_DEATH_MS / 1000} s of their start — giving up, closing the server`
        : 'sockit: no worker process left — closing the server',
    );
    void this.#server.serverClose();
  }

  /**
   * Tell every worker to stop accepting and finish its requests (at most
   * `graceMs`, as `serverClose()` does), then wait for the processes to exit;
   * a worker still there after the grace period is killed. Releases a unix
   * socket file.
   */
  close(graceMs = Infinity): Promise<void> {
    this.#closing ??= (async () => {
      this.#phase = 'closing';
      await this.#stop(graceMs);
      await releaseSocketFile(this.#bound);
      if (this.#claim) claimed.delete(this.#claim);
    })();
    return this.#closing;
  }

  /** Cut the grace period short: workers destroy what still runs (a second Ctrl-C). */
  endGrace(): void {
    for (const w of this.#workers.values()) this.#send(w, { type: 'close', graceMs: 0 });
  }

  #send(w: ForkWorker, msg: ToFork): void {
    try {
      if (w.worker.isConnected()) w.worker.send(msg);
    } catch (err) {
      debug('worker %d: %s', w.id, oneLine(err));
    }
  }

  async #stop(graceMs: number): Promise<void> {
    const timers: NodeJS.Timeout[] = [];
    const kill = (w: ForkWorker): void => {
      if (w.worker.isDead()) return;
      debug('killing worker %d (pid %s)', w.id, w.pid);
      w.worker.process.kill('SIGKILL');
    };
    const workers = [...this.#workers.values()];
    for (const w of workers) {
      if (!w.isListening) {
        kill(w); // still starting: nothing to drain
        continue;
      }
      this.#send(w, { type: 'close', graceMs: Number.isFinite(graceMs) ? graceMs : null });
      if (Number.isFinite(graceMs))
        timers.push(setTimeout(() => kill(w), graceMs + EXIT_MARGIN_MS));
      // Once its server is closed a worker exits as soon as its last connection is.
      w.worker.on('message', (msg: FromFork) => {
        if (msg.type === 'closed') timers.push(setTimeout(() => kill(w), EXIT_MARGIN_MS));
      });
    }
    await Promise.all(workers.map((w) => w.gone));
    for (const t of timers) clearTimeout(t);
  }
}

function claimKey(config: ForkConfig): string {
  return config.transport === 'unix'
    ? `unix:${config.path}`
    : `${config.transport}:${config.host}:${config.port}`;
}

function addressInUse(config: ForkConfig): NetworkError {
  const where: SocketAddress =
    config.transport === 'unix'
      ? { family: 'unix', path: config.path! }
      : inetAddress(config.host!, config.port!);
  return new NetworkError(
    `cannot listen on ${formatEndpoint(where)} — address in use (EADDRINUSE): another forking server of this process has it`,
    { code: 'EADDRINUSE' },
    ERR.ADDRESS_IN_USE,
  );
}

/** A port free right now on the server's host, or undefined (the workers then report why). */
function freePort(config: ForkConfig): Promise<number | undefined> {
  return new Promise((resolve) => {
    if (config.transport === 'tcp') {
      const probe = createServer();
      probe.once('error', () => resolve(undefined));
      probe.listen(
        { host: config.host, port: 0, ipv6Only: config.ipv6Only, exclusive: true },
        () => {
          const a = probe.address();
          probe.close(() => resolve(a && typeof a === 'object' ? a.port : undefined));
        },
      );
      return;
    }
    const probe = createSocket({
      type: config.host?.includes(':') ? 'udp6' : 'udp4',
      ipv6Only: config.ipv6Only,
    });
    probe.once('error', () => {
      probe.close();
      resolve(undefined);
    });
    probe.bind({ address: config.host, port: 0, exclusive: true }, () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}
