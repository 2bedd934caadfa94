/**
 * What `connect -z` prints while and after it probes: a spinner with a progress
 * count (`12,288/65,535 ports`), one `-v` line per port on stderr and one `probe`
 * event per port on stdout (`--json`), written in bursts, in port order.
 */
import type { CliContext } from './context.js';
import type { Spinner } from './output.js';
import type { InterruptScope } from './client-output.js';
import type { ProbeResult } from '../clients/probe.js';
import { eventLine } from './events.js';
import { probeTlsJson, probeTlsText } from './tls-report.js';

/** One probe result as a `probe` event (`--json`). */
function probeJson(r: ProbeResult): string {
  const { host, address, port, proto, open, state, errno, errnum } = r;
  const self = r.selfConnect ? { selfConnect: true } : {};
  const peer = { address, port };
  const tls = probeTlsJson(r);
  return eventLine('probe', { host, peer, proto, open, state, errno, errnum, ...self, ...tls });
}

/** What `-z` prints: a spinner while it runs, then lines written in bursts, one call each. */
export class ProbeReport {
  readonly #io: CliContext['io'];
  readonly #host: string;
  readonly #verbose: boolean;
  readonly #json: boolean;
  readonly #outputClosed: () => boolean;
  readonly #out: string[] = [];
  readonly #err: string[] = [];
  #spinner: Spinner = { text() {}, stop() {} };
  #scheduled = false;
  #lastSpin = 0;

  constructor(
    ctx: CliContext,
    host: string,
    opts: { readonly verbose?: boolean; readonly json?: boolean },
    scope: InterruptScope,
  ) {
    this.#io = ctx.io;
    this.#host = host;
    this.#verbose = opts.verbose === true;
    this.#json = opts.json === true;
    this.#outputClosed = scope.outputClosed;
  }

  /** A spinner while many ports (or a `--wait`) run, never with `-v`. */
  async showSpinner(out: CliContext['out'], count: number, wait: boolean): Promise<void> {
    if (this.#verbose || (count <= 1 && !wait)) return;
    // ora loops forever on a terminal that reports 0 columns (script(1), some CI ptys)
    if ((this.#io.stderr as { columns?: number }).columns === 0) return;
    this.#spinner = await out.spinner(`probing ${this.#host}: 0/${grouped(count)} ports`);
  }

  readonly progress = (done: number, total: number, open: number): void => {
    const now = Date.now();
    if (now - this.#lastSpin < 80 && done < total) return;
    this.#lastSpin = now;
    const of = `${grouped(done)}/${grouped(total)}`;
    this.#spinner.text(`probing ${this.#host}: ${of} ports, ${open} open`);
  };

  readonly result = (r: ProbeResult): void => {
    if (this.#verbose) {
      const why = r.state === 'open' || r.errno === '0' ? '' : ` ${r.errno}`;
      const self = r.selfConnect ? ' (self-connect)' : '';
      this.#err.push(`${this.#host} ${r.port} ${r.state}${why}${self}${probeTlsText(r)}\n`);
    }
    if (this.#json && !this.#outputClosed()) this.#out.push(probeJson(r));
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#flush);
  };

  /** The probe is done: stop the spinner, print what is left. */
  end(): void {
    this.stopSpinner();
    this.#flush();
  }

  stopSpinner(): void {
    this.#spinner.stop();
  }

  // each stream is touched only to write: a quiet scan never makes either
  readonly #flush = (): void => {
    this.#scheduled = false;
    if (this.#err.length > 0) this.#io.stderr.write(this.#err.splice(0).join(''));
    if (this.#out.length > 0 && !this.#outputClosed()) this.#io.stdout.write(this.#out.join(''));
    this.#out.length = 0;
  };
}

/**
 * `12345` → `12,345`. Not `toLocaleString()`: its first call loads ICU's data,
 * about 50 ms of a scan's main thread.
 */
function grouped(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}
