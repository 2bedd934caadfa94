/**
 * A connection as a handler in a worker thread sees it: reads yield what the peer
 * sent, writes go to the peer, with backpressure both ways (see stream-bridge.ts).
 *
 * It has the `net.Socket` members handlers reach for: `remoteAddress`,
 * `remotePort`, `remoteFamily`, `localAddress`, `localPort`, `bytesRead`,
 * `bytesWritten`, `setNoDelay()` and `setKeepAlive()` (both applied to the real
 * socket on the main thread) and `setTimeout()` (timed here, on the traffic this
 * end sees). It is not a `net.Socket`: there is no file descriptor in this thread.
 * On a TLS server it also has the `tls.TLSSocket` members a handler reads
 * (`encrypted`, `authorized`, `getPeerCertificate()`, `getProtocol()`,
 * `getCipher()`, `alpnProtocol`), from the facts the main thread read after the handshake.
 */
import { Buffer } from 'node:buffer';
import { Duplex } from 'node:stream';
import type { SocketAddress } from './address.js';
import { PACK_LIMIT, type BridgeChannel, type BridgeMux } from './bridge-mux.js';
import { SlabWriter } from './slab-writer.js';
import { GROW_AFTER, ackBatchFor, windowFor, type ChannelMessage } from './stream-bridge.js';
import type { TlsFacts } from './tls-info.js';
import type { WireError } from './wire.js';
import type { DirectWriter } from './write-gate.js';

/** An error with the code the main thread saw on the socket (ECONNRESET…). */
function peerError(code: string): Error {
  return Object.assign(new Error(`connection closed (${code})`), { code });
}

/** See the module comment. */
export class BridgeConnection extends Duplex {
  readonly #channel: BridgeChannel;
  /** Input bytes pushed but not yet acknowledged. */
  #unacked = 0;
  /** Output bytes posted and not yet acknowledged, and all acknowledged so far. */
  #outstanding = 0;
  #sent = 0;
  #waiting: ((err?: Error | null) => void) | undefined;
  /** What the handler writes, packed into reusable slabs. */
  readonly #slabs = new SlabWriter((buf, len) => this.#post({ t: 'data', buf, len }, [buf]));
  #timeoutMs = 0;
  #timer: NodeJS.Timeout | undefined;
  /** Writes to the socket itself (net/write-gate.ts), while the owner has none of ours queued. */
  #direct: DirectWriter | undefined;
  /** Bytes written directly: the owner's socket does not count them. */
  #directBytes = 0;
  /** Peer address, as `net.Socket` has it (undefined on unix sockets). */
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly remoteFamily: string | undefined;
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;
  /** Bytes received from the peer / sent to it, as `net.Socket` counts them. */
  bytesRead = 0;
  bytesWritten = 0;
  /** A TLS connection (as `tls.TLSSocket` has it); its facts are {@link tls}. */
  readonly encrypted: boolean;
  /** The TLS facts of the connection, when the server speaks TLS. */
  readonly tls: TlsFacts | undefined;

  /** The connection on channel `id` of `mux` (traffic that came early is delivered at once). */
  constructor(
    mux: BridgeMux,
    id: number,
    clientAddress: SocketAddress,
    localAddress: SocketAddress,
    tls?: TlsFacts,
    direct?: DirectWriter,
  ) {
    // a handler writing to a peer that does not read stops after 4 KiB here, on top of
    // the small window in flight: 500 such connections stay within 2x async's memory
    super({ allowHalfOpen: true, decodeStrings: true, writableHighWaterMark: 4096 });
    this.tls = tls;
    this.encrypted = tls !== undefined;
    this.#direct = direct;
    if (clientAddress.family !== 'unix') {
      this.remoteAddress = clientAddress.address;
      this.remotePort = clientAddress.port;
      this.remoteFamily = clientAddress.family;
    }
    if (localAddress.family !== 'unix') {
      this.localAddress = localAddress.address;
      this.localPort = localAddress.port;
    }
    this.#channel = mux.open(id, {
      message: (msg) => this.#onMessage(msg),
      data: (buf, off, len) => this.#received(buf, off, len),
      close: () => this.destroy(),
    });
  }

  /** The client certificate was verified (mutual TLS), as on a `tls.TLSSocket`. */
  get authorized(): boolean {
    return this.tls?.authorized ?? false;
  }

  /** The protocol ALPN chose, as on a `tls.TLSSocket`. */
  get alpnProtocol(): string | false | null {
    return this.tls?.alpnProtocol ?? null;
  }

  /** The peer's certificate, as `tls.TLSSocket#getPeerCertificate()` gives it (`{}` without one). */
  getPeerCertificate(detailed = false): TlsFacts['peerCertificate'] {
    const cert = this.tls?.peerCertificate ?? {};
    if (detailed || !('issuerCertificate' in cert)) return cert;
    const { issuerCertificate: _issuers, ...own } = cert;
    return own as TlsFacts['peerCertificate'];
  }

  /** `TLSv1.3`…, or null on a plain connection. */
  getProtocol(): string | null {
    return this.tls?.protocol ?? null;
  }

  /** The negotiated cipher, or undefined on a plain connection. */
  getCipher(): TlsFacts['cipher'] | undefined {
    return this.tls?.cipher;
  }

  #onMessage(msg: ChannelMessage): void {
    switch (msg.t) {
      case 'data':
        this.#received(msg.buf, msg.off, msg.len ?? msg.buf.byteLength);
        break;
      case 'end':
        this.push(null);
        break;
      case 'ack':
        if (msg.slabs) this.#slabs.reclaim(msg.slabs);
        this.#acknowledged(msg.n);
        break;
      case 'abort':
        this.destroy(peerError(msg.code));
        break;
    }
  }

  /** `n` bytes of `buf` (at `off`: a batch's, else a buffer of its own) from the peer. */
  #received(buf: ArrayBuffer, off: number | undefined, n: number): void {
    this.#unacked += n;
    this.bytesRead += n;
    this.#touch();
    // a pack's bytes are copied (from Buffer's pool): a chunk kept must not pin the pack
    const bytes =
      off === undefined ? Buffer.from(buf, 0, n) : Buffer.from(new Uint8Array(buf, off, n));
    if (this.push(bytes)) this.#ack();
  }

  #acknowledged(n: number): void {
    this.#outstanding -= n;
    this.#sent += n;
    if (this.#sent >= GROW_AFTER) this.#slabs.grow();
    const cb = this.#waiting;
    if (cb && this.#outstanding <= windowFor(this.#sent)) {
      this.#waiting = undefined;
      cb();
    }
  }

  #ack(): void {
    if (this.#unacked < ackBatchFor(this.bytesRead)) return;
    this.#post({ t: 'ack', n: this.#unacked });
    this.#unacked = 0;
  }

  #post(msg: ChannelMessage, transfer?: ArrayBuffer[]): void {
    this.#channel.post(msg, transfer);
  }

  /** Tell the owner the handler is done (after the last bytes it wrote), with its failure if any. */
  reportDone(error?: WireError): void {
    this.#direct = undefined;
    this.#slabs.flush();
    const direct = this.#directBytes;
    this.#post({ t: 'done', ...(error ? { error } : {}), ...(direct > 0 ? { direct } : {}) });
  }

  /** Disable or enable Nagle's algorithm on the real socket. */
  setNoDelay(noDelay = true): this {
    this.#post({ t: 'option', noDelay });
    return this;
  }

  /** Enable or disable TCP keep-alive on the real socket. */
  setKeepAlive(enable = false, initialDelay = 0): this {
    this.#post({ t: 'option', keepAlive: [enable, initialDelay] });
    return this;
  }

  /**
   * Reset the connection, as `net.Socket#resetAndDestroy()` does: the main thread
   * resets the real socket (RST, where the transport has one), and this end is destroyed.
   */
  resetAndDestroy(): this {
    if (this.destroyed) return this;
    this.#post({ t: 'reset' }); // dropped if the owner has let the socket go already
    return this.destroy();
  }

  /** Emit `timeout` after `ms` without traffic (0 turns it off), as `net.Socket` does. */
  setTimeout(ms: number, callback?: () => void): this {
    this.#timeoutMs = ms;
    if (callback) this.once('timeout', callback);
    this.#touch();
    return this;
  }

  #touch(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#timeoutMs > 0 && !this.destroyed) {
      this.#timer = setTimeout(() => this.emit('timeout'), this.#timeoutMs);
      this.#timer.unref();
    }
  }

  override _read(): void {
    this.#ack(); // the consumer wants more: let the main thread send it
  }

  /** Write `chunk` to the socket directly, or copy it into a slab, or into the batch when small. */
  #send(chunk: Buffer): void {
    if (this.#direct && this.#outstanding === 0) {
      // nothing of ours waits at the owner: the kernel gets these bytes in order
      const n = this.#direct.write(chunk);
      if (n < 0) {
        this.#direct = undefined; // the owner is closing the socket
      } else {
        this.bytesWritten += n;
        this.#directBytes += n;
        if (n === chunk.byteLength) return;
        chunk = chunk.subarray(n); // what the kernel did not take goes the owner's way
      }
    }
    if (chunk.byteLength > PACK_LIMIT) {
      this.#slabs.write(chunk);
    } else {
      this.#slabs.flush(); // what it holds goes first
      this.#channel.postBytes(chunk);
    }
    this.#outstanding += chunk.byteLength;
    this.bytesWritten += chunk.byteLength;
  }

  /** The write is done, unless the window is full: then its callback waits for an ack. */
  #wrote(cb: (err?: Error | null) => void): void {
    this.#touch();
    if (this.#outstanding <= windowFor(this.#sent)) cb();
    else this.#waiting = cb;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#send(chunk);
    this.#wrote(cb);
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    for (const c of chunks) this.#send(c.chunk);
    this.#wrote(cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#slabs.flush(); // the last bytes go before the end
    this.#post({ t: 'end' });
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    clearTimeout(this.#timer);
    this.#direct = undefined;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.(err ?? peerError('ERR_STREAM_DESTROYED'));
    cb(err);
  }
}
