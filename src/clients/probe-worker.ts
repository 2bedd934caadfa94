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
import { AttemptBurst } from './attempt-burst.js';

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

/**
 * Worker → main thread: finished results; `want` asks for more ports; `done` ends.
 * A scan of one address reports its ports as two arrays instead (`ports[i]` ended
 * with `status[i]`, an {@link AttemptBurst} status): numbers clone far faster
 * than result objects.
 */
export interface FromProbeWorker {
  readonly results: ProbeResult[];
  readonly ports: number[];
  readonly status: number[];
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
  #ports: number[] = [];
  #status: number[] = [];
  readonly #burst: AttemptBurst | null;
  #pumping = false;

  constructor(child: PoolChild) {
    this.#child = child;
    const init = (this.#init = child.init as ProbeWorkerInit);
    const [a, more] = init.addresses;
    const plain = !init.opts.useNet && !init.opts.localAddress;
    this.#burst =
      a && !more && plain
        ? AttemptBurst.open(a.address, a.family, init.timeoutMs, this.#onBurst)
        : null;
    child.onMessage((m) => this.#take(m as ToProbeWorker));
  }

  readonly #onBurst = (port: number, status: number): void => {
    this.#inflight -= 1;
    this.#ports.push(port);
    this.#status.push(status);
    if (this.#pumping) return; // an attempt that failed at once: the pump goes on
    this.#pump();
    this.#check();
  };

  #take(m: ToProbeWorker): void {
    for (const p of m.ports) this.#queue.push(p);
    if (m.end) this.#ended = true;
    this.#asked = false;
    this.#pump();
    this.#check();
  }

  #post(want: boolean, done: boolean): void {
    const msg = { results: this.#out, ports: this.#ports, status: this.#status, want, done };
    this.#child.post(msg satisfies FromProbeWorker);
    this.#out = [];
    this.#ports = [];
    this.#status = [];
  }

  #check(): void {
    if (this.#finished) return;
    const remaining = this.#queue.length - this.#head;
    if (this.#ended && remaining === 0 && this.#inflight === 0) {
      this.#finished = true;
      this.#burst?.cancel(); // nothing in flight: closes the sockets kept for reuse
      this.#post(false, true);
    } else if (!this.#ended && !this.#asked && remaining < this.#init.concurrency) {
      this.#asked = true;
      this.#post(true, false);
    } else if (this.#out.length + this.#ports.length >= BATCH) {
      this.#post(false, false);
    }
  }

  #pump(): void {
    const { host, addresses, timeoutMs, opts, concurrency } = this.#init;
    this.#pumping = true;
    while (this.#inflight < concurrency && this.#head < this.#queue.length) {
      const port = this.#queue[this.#head++]!;
      this.#inflight += 1;
      if (this.#burst) {
        this.#burst.start(port);
        continue;
      }
      void tcpProbe(host, addresses, port, timeoutMs, opts).then((r) => {
        this.#inflight -= 1;
        this.#out.push(r);
        this.#pump();
        this.#check();
      });
    }
    this.#pumping = false;
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
