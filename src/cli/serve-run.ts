/**
 * The work behind `sockit serve tcp|udp|unix`: pick the handler, build the
 * server, bind, print the banner, serve (for ever or n requests), and stop
 * gracefully on SIGINT/SIGTERM. Loaded lazily by `commands/serve.ts`.
 */
import { availableParallelism } from 'node:os';
import { AccessList } from '../net/access.js';
import { checkUnixPath, familyOf, formatUrl } from '../net/address.js';
import type { BaseServer, HandlerModule } from '../engine/base-server.js';
import { MODES, type ConcurrencyMode } from '../engine/modes.js';
import { ERR, EXIT, UsageError, oneLine } from '../net/errors.js';
import { resolveBindHost } from '../net/resolve.js';
import { onUncontained } from '../net/containment.js';
import type { AnyHandlerClass } from '../handlers/loader.js';
import { TCPServer, UnixStreamServer } from '../engine/stream-server.js';
import { UDPServer, UnixDatagramServer } from '../engine/datagram-server.js';
import { loadBuiltinHandler } from '../handlers/builtin.js';
import { HANDLER_NAMES } from '../handlers/names.js';
import type { CliContext } from './context.js';
import { ServeLog } from './serve-log.js';
import { jsonPeer } from './events.js';
import { withTap, type TapCliOptions } from './tap-options.js';
import { checkSocketDirectory } from '../net/unix-path.js';
import { onStopSignals, type StopSignal } from './serve-signals.js';
import {
  attachForwardLog,
  checkForwardTls,
  forwardServerOptions,
  type ForwardCliOptions,
} from './forward-options.js';
import { setupHandler } from './serve-handlers.js';
import type { HandlerExtraOptions } from './handler-options.js';
import { serverTlsOf, type ServerTlsFlags } from './tls-options.js';
import { tlsBanner } from './tls-report.js';

/** The transports `sockit serve` has subcommands for. */
export type ServeTransport = 'tcp' | 'udp' | 'unix';

/** Options of `sockit serve …` as commander parses them (each subcommand has a subset). */
export interface ServeOptions
  extends ForwardCliOptions, HandlerExtraOptions, ServerTlsFlags, TapCliOptions {
  host?: string;
  port?: number;
  handler: string;
  mode: ConcurrencyMode;
  workers?: number;
  once?: boolean;
  maxRequests?: number;
  maxConns?: number;
  idleTimeout?: number;
  timeout?: number;
  allow?: string[];
  deny?: string[];
  backlog?: number;
  reuseAddress?: boolean;
  ipv6Only?: boolean;
  socketMode?: number;
  datagram?: boolean;
  drainTimeout: number;
  verbose?: boolean;
  quiet?: boolean;
  json?: boolean;
}

/** Where to listen: a port (tcp, udp) or a socket path (unix). */
export type ServeTarget = { readonly port?: number } | { readonly path: string };

/** The port when none is given, as in Python socketserver's examples. */
export const DEFAULT_PORT = 9999;

interface ResolvedHandler {
  readonly Handler: AnyHandlerClass;
  readonly module: HandlerModule;
}

/** Built-in by name, or a module file; checked against the transport. */
async function resolveHandler(spec: string, datagram: boolean): Promise<ResolvedHandler> {
  const builtin = await loadBuiltinHandler(spec);
  if (builtin) return builtin;
  const { isHandlerPath, loadHandlerModule, checkHandlerTransport } =
    await import('../handlers/loader.js');
  if (!isHandlerPath(spec)) {
    throw new UsageError(
      `unknown handler '${spec}' — expected one of ${HANDLER_NAMES.join(', ')}, or a module file such as ./my-handler.js`,
      ERR.UNKNOWN_HANDLER,
    );
  }
  const loaded = await loadHandlerModule(spec, process.cwd());
  checkHandlerTransport(loaded, datagram);
  return { Handler: loaded.Handler, module: loaded.module };
}

function seconds(s: number): string {
  return `${s}s`;
}

/** Usage mistakes that are not parse errors, and warnings for options that do nothing here. */
function checkCombinations(
  transport: ServeTransport,
  opts: ServeOptions,
  warn: (message: string) => void,
): void {
  if (opts.workers !== undefined && !MODES[opts.mode].pooled) {
    warn(
      `--workers has no effect with --mode ${opts.mode} (only threading and forking use a pool)`,
    );
  }
  if (opts.timeout !== undefined && !opts.once && opts.maxRequests === undefined) {
    warn(
      '--timeout applies to --once and --max-requests only (use --idle-timeout for idle clients)',
    );
  }
  const program = opts.exec !== undefined || opts.shExec !== undefined;
  const capped = program || opts.forward !== undefined;
  if (transport === 'udp' && opts.maxConns !== undefined && !capped) {
    throw new UsageError(
      '--max-conns on udp caps --forward sessions or the programs of --exec and --sh-exec — there is no connection to count',
    );
  }
  if (transport === 'unix' && opts.datagram) {
    for (const [flag, value] of [
      // with a program, --max-conns caps the programs running at once; with --forward, the sessions
      ['--max-conns', capped ? undefined : opts.maxConns],
      ['--idle-timeout', opts.idleTimeout],
      ['--backlog', opts.backlog],
    ] as const) {
      if (value !== undefined) {
        throw new UsageError(`${flag} applies to stream sockets — not to unix --datagram`);
      }
    }
  }
  if (transport === 'tcp' && opts.reuseAddress === false) {
    warn(
      '--no-reuse-address has no effect on tcp — Node always sets SO_REUSEADDR on TCP listeners',
    );
  }
  if (opts.ipv6Only && opts.host !== undefined && familyOf(opts.host) !== 'IPv6') {
    warn('--ipv6-only only matters on an IPv6 address such as -H ::');
  }
}

/** Run `sockit serve <transport>` until it is done; leaves the exit code in `ctx.exitCode`. */
export async function runServe(
  ctx: CliContext,
  transport: ServeTransport,
  target: ServeTarget,
  opts: ServeOptions,
): Promise<void> {
  const out = ctx.out;
  out.quiet = opts.quiet === true;
  out.verbose = opts.verbose === true;
  const datagram = transport === 'udp' || (transport === 'unix' && opts.datagram === true);
  const log = new ServeLog(out, {
    json: opts.json === true,
    verbose: opts.verbose === true,
    handlerName: opts.handler,
    datagram,
    maxConns: opts.maxConns,
  });

  checkCombinations(transport, opts, (m) => log.warn(m));
  const setup = await setupHandler(ctx, opts, datagram, log);
  try {
    const forwarding = forwardServerOptions(opts, datagram, (m) => log.warn(m));
    await checkForwardTls(forwarding.forward);
    const server = await makeServer(ctx, transport, target, opts, {
      ...setup.options,
      ...forwarding,
    });
    const any = server as unknown as BaseServer<unknown>;
    log.attach(any);
    setup.attach(any, log);
    if (forwarding.forward)
      attachForwardLog(any, ctx.out, {
        json: opts.json === true,
        verbose: opts.verbose === true,
        datagram,
      });
    // A failure no request owns is sockit's own: one line, exit 1, never a stack trace.
    onUncontained((err) => {
      log.error(`internal error — ${oneLine(err)}`, { reason: 'internal' });
      process.exit(EXIT.FAILURE);
    });
    await withTap(ctx, opts, true, async (tap) => {
      server.tap = tap;
      await new ServeSession(ctx, any, log, opts).run();
    });
  } finally {
    await setup.done(ctx, log);
  }
}

type AnyServer = UnixDatagramServer | UnixStreamServer | UDPServer | TCPServer;

/** The server a serve run asks for: transport, address, handler and options. */
async function makeServer(
  ctx: CliContext,
  transport: ServeTransport,
  target: ServeTarget,
  opts: ServeOptions,
  handlerOptions: Readonly<Record<string, unknown>>,
): Promise<AnyServer> {
  const datagram = transport === 'udp' || (transport === 'unix' && opts.datagram === true);
  const path = 'path' in target ? checkUnixPath(target.path) : undefined;
  const { Handler, module } = await resolveHandler(opts.handler, datagram);
  const base = {
    mode: opts.mode,
    workers: MODES[opts.mode].pooled ? (opts.workers ?? availableParallelism()) : opts.workers,
    handlerModule: module,
    timeout: opts.timeout ?? null,
    log: (line: string) => ctx.out.always(line),
    ...handlerOptions,
  };
  const tls = serverTlsOf(opts);
  if (tls && datagram) throw new UsageError('--tls works on stream sockets — not on datagrams');
  const stream = {
    requestQueueSize: opts.backlog,
    maxConnections: opts.maxConns,
    idleTimeout: opts.idleTimeout,
    tls,
  };
  const H = Handler as never; // each server checks the handler kind against its transport
  if (path !== undefined) {
    await checkSocketDirectory(path);
    const unix = { ...base, socketMode: opts.socketMode };
    return datagram
      ? new UnixDatagramServer(path, H, unix)
      : new UnixStreamServer(path, H, { ...unix, ...stream });
  }
  const host = await resolveBindHost(opts.host ?? '127.0.0.1');
  const where = { host, port: (target as { port?: number }).port ?? DEFAULT_PORT };
  const accessList =
    opts.allow?.length || opts.deny?.length ? new AccessList(opts.allow, opts.deny) : undefined;
  const inet = { ...base, accessList, ipv6Only: opts.ipv6Only === true };
  if (transport === 'udp') {
    const udp = { ...inet, allowReuseAddress: opts.reuseAddress === true };
    return new UDPServer(where, H, udp);
  }
  return new TCPServer(where, H, { ...inet, ...stream });
}

/** One serve run: bind, banner, serve (for ever or n requests), stop on a signal. */
class ServeSession {
  readonly #ctx: CliContext;
  readonly #server: BaseServer<unknown>;
  readonly #log: ServeLog;
  readonly #opts: ServeOptions;
  readonly #graceMs: number;
  #stopping: StopSignal | undefined;
  #forced: StopSignal | undefined;
  #forcedNow!: () => void;
  readonly #forcedStop = new Promise<void>((resolve) => (this.#forcedNow = resolve));
  #timedOut = false;
  #unexpectedStop = false;
  #removeSignals: () => void = () => undefined;

  constructor(ctx: CliContext, server: BaseServer<unknown>, log: ServeLog, opts: ServeOptions) {
    this.#ctx = ctx;
    this.#server = server;
    this.#log = log;
    this.#opts = opts;
    this.#graceMs = opts.drainTimeout * 1000;
    server.on('timeout', () => (this.#timedOut = true));
  }

  /** Serve until done; leaves the exit code in the context. */
  async run(): Promise<void> {
    this.#removeSignals = onStopSignals(
      this.#ctx.signals,
      (signal) => this.#stop(signal),
      (signal) => this.#forceStop(signal),
    );
    try {
      try {
        await this.#serve();
      } catch (err) {
        if (!this.#stopping) throw err;
      }
      await Promise.race([this.#server.serverClose({ graceMs: this.#graceMs }), this.#forcedStop]);
    } finally {
      this.#removeSignals();
    }
    this.#finish();
  }

  async #serve(): Promise<void> {
    const server = this.#server;
    const address = await server.listen();
    if (!this.#stopping) {
      const tls = tlsBanner(server);
      this.#log.listening(formatUrl(server.transport, address, tls !== undefined), {
        transport: server.transport,
        ...jsonPeer(address),
        handler: this.#opts.handler,
        mode: server.mode,
        pid: process.pid,
        ...(tls ? { tls: tls.fields } : {}),
      });
      if (tls) this.#log.banner(tls.line);
    }
    const count = this.#opts.once ? 1 : this.#opts.maxRequests;
    if (count !== undefined) {
      for (let i = 0; i < count && !this.#stopping && !this.#timedOut; i++) {
        await server.handleRequest();
      }
    } else if (!this.#stopping) {
      await server.serveForever();
      // serveForever() only returns on a signal, or when a worker pool gave up
      if (!this.#stopping) this.#unexpectedStop = true;
    }
  }

  /** The first SIGINT/SIGTERM: drain, say so when requests are open. */
  #stop(signal: StopSignal): void {
    this.#stopping = signal;
    const open = this.#server.activeRequests;
    if (open > 0) {
      const again = signal === 'SIGINT' ? 'Ctrl-C' : 'SIGINT';
      const what = open === 1 ? 'request' : 'requests';
      this.#log.info(
        `stopping: waiting up to ${seconds(this.#opts.drainTimeout)} for ${open} open ${what} (${again} again to stop now)`,
        'stopping',
        { signal, open, drainMs: this.#graceMs },
      );
    }
    void this.#server.serverClose({ graceMs: this.#graceMs }).catch(() => undefined);
  }

  /** A second signal: stop now. */
  #forceStop(signal: StopSignal): void {
    this.#forced = signal;
    this.#removeSignals();
    void this.#server.serverClose({ graceMs: 0 }).catch(() => undefined);
    this.#forcedNow();
  }

  #finish(): void {
    const ctx = this.#ctx;
    if (this.#forced) {
      ctx.exitCode = { SIGINT: EXIT.SIGINT, SIGTERM: EXIT.SIGTERM, SIGHUP: EXIT.SIGHUP }[
        this.#forced
      ];
    } else if (this.#timedOut && !this.#stopping) {
      this.#log.error(`no request within ${seconds(this.#opts.timeout ?? 0)}`, {
        reason: 'timeout',
      });
      ctx.exitCode = EXIT.FAILURE;
    } else if (this.#stopping) {
      this.#log.summary(this.#server.stats, this.#stopping);
    } else if (this.#unexpectedStop) {
      this.#log.error('the server stopped: its workers could not keep running', {
        reason: 'workers',
      });
      ctx.exitCode = EXIT.FAILURE;
    }
  }
}
