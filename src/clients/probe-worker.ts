/**
 * A probe worker thread of the scanner's pool: probes the TCP ports the main
 * thread hands it, up to `concurrency` at once, and posts the results back in
 * batches, asking for more ports before it runs dry. Large scans split across
 * threads finish about twice as fast on two cores, since most of a loopback
 * probe's cost is the kernel's connect() and close().
 */
import { poolChild, type PoolChild } from '../net/pool-backend.js';
import type { ResolvedAddress } from '../net/resolve.js';
import { tcpProbe, type ConnectExOptions, type ProbeResult } from './probe-core.js';

/** What the main thread starts a worker with. */
export interface ProbeWorkerInit {
  readonly host: string;
  readonly addresses: readonly ResolvedAddress[];
  readonly timeoutMs: number;
  readonly concurrency: number;
  readonly opts: Pick<ConnectExOptions, 'useNet' | 'localAddress'>;
}

/** Main thread → worker: more ports, and whether these are the last. */
export interface ToProbeWorker {
  readonly ports: number[];
  readonly end: boolean;
}

/** Worker → main thread: finished results; `want` asks for more ports; `done` ends. */
export interface FromProbeWorker {
  readonly results: ProbeResult[];
  readonly want: boolean;
  readonly done: boolean;
}

const BATCH = 512;

/** The ports this worker has to probe, and what it owes the main thread. */
class Prober {
  readonly #child: PoolChild;
  readonly #init: ProbeWorkerInit;
  #queue: number[] = [];
  #head = 0;
  #inflight = 0;
  #ended = false;
  /** The main thread sends a first block unasked. */
  #asked = true;
  #finished = false;
  #out: ProbeResult[] = [];

  constructor(child: PoolChild) {
    this.#child = child;
    this.#init = child.init as ProbeWorkerInit;
    child.onMessage((m) => this.#take(m as ToProbeWorker));
  }

  #take(m: ToProbeWorker): void {
    for (const p of m.ports) this.#queue.push(p);
    if (m.end) this.#ended = true;
    this.#asked = false;
    this.#pump();
    this.#check();
  }

  #post(want: boolean, done: boolean): void {
    this.#child.post({ results: this.#out, want, done } satisfies FromProbeWorker);
    this.#out = [];
  }

  #check(): void {
    if (this.#finished) return;
    const remaining = this.#queue.length - this.#head;
    if (this.#ended && remaining === 0 && this.#inflight === 0) {
      this.#finished = true;
      this.#post(false, true);
    } else if (!this.#ended && !this.#asked && remaining < this.#init.concurrency) {
      this.#asked = true;
      this.#post(true, false);
    } else if (this.#out.length >= BATCH) {
      this.#post(false, false);
    }
  }

  #pump(): void {
    const { host, addresses, timeoutMs, opts, concurrency } = this.#init;
    while (this.#inflight < concurrency && this.#head < this.#queue.length) {
      const port = this.#queue[this.#head++]!;
      this.#inflight += 1;
      void tcpProbe(host, addresses, port, timeoutMs, opts).then((r) => {
        this.#inflight -= 1;
        this.#out.push(r);
        this.#pump();
        this.#check();
      });
    }
    if (this.#head > 4096 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }
}

const child = await poolChild();
new Prober(child);
child.onClose(() => child.closed());
child.ready();
