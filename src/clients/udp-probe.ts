/**
 * UDP probes: a connected socket sends one datagram and listens. An ICMP port
 * unreachable (ECONNREFUSED) means closed, a reply means open, and silence
 * means open|filtered: never a false open.
 */
import { inetAddress } from '../net/address.js';
import { openDatagramSocket, type DatagramSocket } from '../net/datagram-socket.js';
import { NetworkError, errnoName } from '../net/errors.js';
import type { ResolvedAddress } from '../net/resolve.js';
import { Deferred } from './deferred.js';
import {
  probeResult,
  type ConnectExOptions,
  type ProbeAnswer,
  type ProbeResult,
} from './probe-core.js';

function codeOf(err: unknown): string {
  return (err instanceof NetworkError ? err.errno : errnoName(err)) ?? 'EIO';
}

/** One UDP probe of one address: a datagram out, then a refusal, a reply or the time running out. */
class UdpAttempt {
  readonly #done = new Deferred<ProbeAnswer>();
  readonly #address: string;
  readonly #timer: NodeJS.Timeout;
  #socket: DatagramSocket | undefined;
  #finished = false;

  constructor(address: string, timeoutMs: number) {
    this.#address = address;
    this.#timer = setTimeout(this.#onTimeout, timeoutMs);
  }

  async run(
    port: number,
    family: 4 | 6,
    payload: Uint8Array,
    opts: ConnectExOptions,
  ): Promise<ProbeAnswer> {
    const { localAddress, localPort } = opts;
    try {
      const peer = inetAddress(this.#address, port, family);
      const socket = await openDatagramSocket(peer, { connect: true, localAddress, localPort });
      if (this.#finished) void socket.close();
      else {
        this.#socket = socket;
        // a connected UDP socket reports an ICMP port-unreachable as an ECONNREFUSED error
        socket.on('error', this.#onError);
        socket.on('message', this.#onMessage);
        await socket.send(payload);
      }
    } catch (err) {
      this.#finish(codeOf(err), false);
    }
    return this.#done.promise;
  }

  #finish(code: string, replied: boolean): void {
    if (this.#finished) return;
    this.#finished = true;
    clearTimeout(this.#timer);
    void this.#socket?.close();
    this.#done.resolve({ code, address: this.#address, replied });
  }

  readonly #onError = (err: Error): void => this.#finish(codeOf(err), false);
  readonly #onMessage = (): void => this.#finish('0', true);
  readonly #onTimeout = (): void => this.#finish('0', false);
}

/**
 * Probe one UDP port, each address in turn until one does not refuse; the
 * result as `probe()` reports it.
 */
export async function udpProbe(
  host: string,
  addresses: readonly ResolvedAddress[],
  port: number,
  timeoutMs: number,
  payload: Uint8Array,
  opts: ConnectExOptions,
): Promise<ProbeResult> {
  let last: ProbeAnswer = { code: 'EADDRNOTAVAIL', address: '' };
  for (const a of addresses) {
    last = await new UdpAttempt(a.address, timeoutMs).run(port, a.family, payload, opts);
    if (last.code !== 'ECONNREFUSED') break;
  }
  return probeResult(host, port, 'udp', last);
}
