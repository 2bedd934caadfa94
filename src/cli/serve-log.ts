/**
 * What `sockit serve` says on stderr about its server: the `-v` lines, the
 * `--json` NDJSON events and the summary. Listeners that format per-request
 * lines are attached only when `-v` or `--json` asks for them.
 */
import type { BaseServer, RequestEndInfo, ServerStats } from '../engine/base-server.js';
import { formatEndpoint, type SocketAddress } from '../net/address.js';
import { oneLine } from '../net/errors.js';
import { MAX_LINE, clip, escapeControls, safeValue } from '../net/terminal.js';
import { eventLine, jsonPeer } from './events.js';
import { plural, type Output } from './output.js';
import { Throttle } from './throttle.js';
import { QUICK_DEATH_MS, type WorkerExit } from '../net/worker-pool.js';
import type { TlsHandshakeError } from '../net/tls-accept.js';

/** A worker as the pool's events describe it. */
interface WorkerInfo {
  readonly id: number;
  readonly pid: number | undefined;
  readonly threadId: number | undefined;
}

/** How a serve run reports. */
export interface ServeLogOptions {
  /** NDJSON events instead of text lines. */
  readonly json: boolean;
  /** One line per connection / datagram. */
  readonly verbose: boolean;
  /** The handler as the user named it (`echo`, `./my-handler.js`). */
  readonly handlerName: string;
  /** Datagram server: requests are datagrams, not connections. */
  readonly datagram: boolean;
  /** The `--max-conns` value, for the refusal line. */
  readonly maxConns?: number;
}

/** Why datagrams were dropped, by the reason a `dropped` event gives. */
const DROP_REASONS: Readonly<Record<string, string>> = {
  'queue-full': 'the handler is not keeping up (queue full)',
  'peer-full': 'the handler is not keeping up (queue full)',
  'exec-limit': 'as many programs as allowed are running (--max-conns)',
  'output-full': 'stdout is not keeping up',
};

/** One NDJSON event on stderr: `{"event":…,"ts":…,…}`. */
export function writeEvent(out: Output, event: string, fields: Record<string, unknown> = {}): void {
  out.io.stderr.write(eventLine(event, fields));
}

/** A peer in a text line: controls escaped (a unix peer's path is the peer's to choose). */
function peerText(addr: SocketAddress): string {
  return safeValue(formatEndpoint(addr));
}

function ms(durationMs: number): number {
  return Math.round(durationMs * 10) / 10;
}

/**
 * The reporter of one serve run: diagnostics in text or NDJSON, per `--json`.
 */
export class ServeLog {
  readonly #out: Output;
  readonly #opts: ServeLogOptions;

  constructor(out: Output, opts: ServeLogOptions) {
    this.#out = out;
    this.#opts = opts;
    out.json = opts.json; // errors and warnings are events too
  }

  /** The `listening on …` banner (printed even with --quiet), or the `listening` event. */
  listening(url: string, fields: Record<string, unknown>): void {
    if (this.#opts.json) writeEvent(this.#out, 'listening', { url, ...fields });
    else this.#out.always(`listening on ${escapeControls(url)}`);
  }

  /** A second banner line (printed even with --quiet; not in --json, where the banner event has it). */
  banner(line: string): void {
    if (!this.#opts.json) this.#out.always(line);
  }

  /** A `sockit: warning: …` line, or a `warning` event. */
  warn(message: string, fields: Record<string, unknown> = {}): void {
    this.#out.warn(message, fields);
  }

  /** A `sockit: …` error line that does not end the run's output, or an `error` event. */
  error(message: string, fields: Record<string, unknown> = {}): void {
    this.#out.error(message, fields);
  }

  /** An informational line (dropped with --quiet), or an event. */
  info(line: string, event: string, fields: Record<string, unknown>): void {
    if (this.#out.quiet) return;
    if (this.#opts.json) writeEvent(this.#out, event, fields);
    else this.#out.info(line);
  }

  /** The one-line summary after a stop (unless --quiet). */
  summary(stats: ServerStats, signal: string): void {
    const what = this.#opts.datagram ? 'datagram' : 'connection';
    const line = [
      `stopped: ${plural(stats.requests, what)}`,
      `${stats.rejected} refused`,
      plural(stats.errors, 'error'),
      `${plural(stats.bytesIn, 'byte')} in`,
      `${plural(stats.bytesOut, 'byte')} out`,
    ].join(', ');
    this.info(line, 'summary', { signal, ...stats });
  }

  /** Attach the listeners this run needs. */
  attach(server: BaseServer<unknown>): void {
    const { json, verbose, handlerName } = this.#opts;
    const out = this.#out;
    // A failing handler: always one line (the engine's default would name the class).
    server.on('requestError', (err: unknown, addr: SocketAddress) => {
      const message = `handler '${handlerName}' failed for ${peerText(addr)}: ${oneLine(err)}`;
      out.error(message, { peer: jsonPeer(addr), handler: handlerName, reason: 'handler' });
    });
    this.#attachRefusals(server);
    this.#attachDrops(server);
    this.#attachWorkers(server);
    if (!json && !verbose) return;
    if (json) this.#attachJson(server);
    else this.#attachVerbose(server);
  }

  /** Refusals, throttled: --max-conns always says so; access-list refusals with -v / --json. */
  #attachRefusals(server: BaseServer<unknown>): void {
    const { json, verbose, maxConns } = this.#opts;
    const out = this.#out;
    let last: SocketAddress | undefined; // the peer of the line reported at once
    const report = (reason: 'max-conns' | 'access', why: string, print: (line: string) => void) =>
      new Throttle((count, first, peer) => {
        if (json && first && last) writeEvent(out, 'rejected', { peer: jsonPeer(last), reason });
        else if (json) writeEvent(out, 'rejected', { reason, count });
        else print(`refused ${first ? peer : plural(count, 'more client')} — ${why}`);
      });
    const full = report('max-conns', `too many connections (--max-conns ${maxConns})`, (l) =>
      out.error(l),
    );
    const denied = report('access', 'not allowed by --allow/--deny', (l) => out.detail(l));
    server.on('rejected', (addr: SocketAddress, reason: string) => {
      last = addr;
      if (reason === 'max-conns') full.hit(peerText(addr));
      else if (json || verbose) denied.hit(peerText(addr));
    });
    server.on('close', () => {
      full.flush();
      denied.flush();
    });
  }

  /** Datagrams dropped (queue full, a peer that does not read) and accept errors, throttled. */
  #attachDrops(server: BaseServer<unknown>): void {
    const { json } = this.#opts;
    const out = this.#out;
    const drops = new Map<string, Throttle>();
    const dropsOf = (reason: string): Throttle => {
      let throttle = drops.get(reason);
      if (!throttle) {
        const why = DROP_REASONS[reason] ?? DROP_REASONS['queue-full']!;
        throttle = new Throttle((count) => {
          if (json) writeEvent(out, 'dropped', { count, reason });
          else out.warn(`dropped ${plural(count, 'datagram')} — ${why}`);
        });
        drops.set(reason, throttle);
      }
      return throttle;
    };
    const accepts = new Throttle((count, _first, message) => {
      if (json) writeEvent(out, 'accept-error', { count, message });
      else out.warn(`${message}${count > 1 ? ` (${count} times since the last line)` : ''}`);
    });
    server.on('dropped', (_peer: unknown, reason?: string) =>
      dropsOf(reason ?? 'queue-full').hit(),
    );
    server.on('acceptError', (err: unknown) => accepts.hit(oneLine(err)));
    server.on('close', () => {
      for (const throttle of drops.values()) throttle.flush();
      accepts.flush();
    });
  }

  /** Pooled modes: a worker that dies is one line; a pool that gives up, one more. */
  #attachWorkers(server: BaseServer<unknown>): void {
    server.on('workerExit', (info: WorkerExit) => {
      const what =
        info.pid !== undefined
          ? `worker process ${info.id} (pid ${info.pid})`
          : `worker thread ${info.threadId}`;
      const why = info.error ? oneLine(info.error) : (info.signal ?? `exit code ${info.code}`);
      if (this.#opts.json) {
        const error = info.error && clip(oneLine(info.error), MAX_LINE);
        writeEvent(this.#out, 'worker-exit', { ...info, error });
      } else this.#out.warn(`${what} died — ${why}${info.gaveUp ? '' : '; starting a new one'}`);
    });
    // What a worker writes to its stderr (a crash dump, a handler's console.error):
    // one escaped line each, or one event each, never raw.
    server.on('workerOutput', (worker: WorkerInfo, line: string) => {
      if (this.#opts.json)
        writeEvent(this.#out, 'worker-output', { ...worker, text: clip(line, MAX_LINE) });
      else this.#out.always(`[worker ${worker.id}] ${line}`);
    });
    server.on('giveUp', () =>
      this.error(
        `workers keep dying within ${QUICK_DEATH_MS / 1000} s of their start — giving up, closing the server`,
        {
          reason: 'workers',
        },
      ),
    );
  }

  #attachJson(server: BaseServer<unknown>): void {
    const out = this.#out;
    const datagram = this.#opts.datagram;
    if (!datagram) {
      server.on('request', (addr: SocketAddress) =>
        writeEvent(out, 'connection', { peer: jsonPeer(addr) }),
      );
    }
    server.on('requestEnd', (info: RequestEndInfo) => {
      writeEvent(out, datagram ? 'request' : 'close', {
        peer: jsonPeer(info.clientAddress),
        bytesIn: info.bytesIn,
        bytesOut: info.bytesOut,
        durationMs: ms(info.durationMs),
        ...(info.error === undefined ? {} : { error: clip(oneLine(info.error), MAX_LINE) }),
      });
    });
    server.on('idleTimeout', (addr: SocketAddress) =>
      writeEvent(out, 'idle-timeout', { peer: jsonPeer(addr) }),
    );
    server.on('tlsError', (err: TlsHandshakeError, addr: SocketAddress) =>
      writeEvent(out, 'tls-error', {
        peer: formatEndpoint(addr),
        code: err.code,
        message: err.message,
      }),
    );
  }

  #attachVerbose(server: BaseServer<unknown>): void {
    const out = this.#out;
    const what = this.#opts.datagram ? 'datagram from' : 'connection from';
    server.on('requestEnd', (info: RequestEndInfo) => {
      out.detail(
        `${what} ${peerText(info.clientAddress)}: ${plural(info.bytesIn, 'byte')} in, ${plural(info.bytesOut, 'byte')} out, ${ms(info.durationMs)} ms${info.error === undefined ? '' : ', failed'}`,
      );
    });
    server.on('idleTimeout', (addr: SocketAddress) =>
      out.detail(`closed idle connection from ${peerText(addr)} (--idle-timeout)`),
    );
    server.on('tlsError', (err: TlsHandshakeError, addr: SocketAddress) =>
      out.detail(`TLS handshake with ${formatEndpoint(addr)} failed — ${err.message}`),
    );
  }
}
