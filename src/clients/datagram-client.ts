/**
 * Datagram clients over UDP or unix datagram sockets: `sendto` (datagrams out,
 * replies optionally awaited), `recvfrom` (datagrams in, optionally answered)
 * and the datagram pipe behind `connect -u`. Datagram boundaries are kept:
 * one send is one datagram.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Buffer } from 'node:buffer';
import type { Readable, Writable } from 'node:stream';
import { checkUnixPath, formatEndpoint, inetAddress, type SocketAddress } from '../net/address.js';
import { ERR, NetworkError, bindError, errnoName } from '../net/errors.js';
// the unix datagram modules (a native addon, socket-file helpers) load only for unix targets
type UnixDgramModule = typeof import('../net/unix-dgram.js');
type UnixPathModule = typeof import('../net/unix-path.js');

async function unixModules(): Promise<UnixDgramModule & UnixPathModule> {
  const [dgram, path] = await Promise.all([
    import('../net/unix-dgram.js'),
    import('../net/unix-path.js'),
  ]);
  return { ...dgram, ...path };
}
import { resolveHost, type IpFamily, type ResolvedAddress } from '../net/resolve.js';
import { isPathTarget, type Target } from '../net/address.js';
import { errorCode, oneLine } from '../net/errors.js';
import { pause } from './pause.js';

/** Largest UDP payload over IPv4 (65,535 − 8 UDP − 20 IP header bytes). */
export const UDP_MAX_IPV4 = 65507;
/** Largest UDP payload over IPv6 (65,535 − 8 UDP header bytes). */
export const UDP_MAX_IPV6 = 65527;

/** A datagram that arrived, with its sender. */
export interface ReceivedDatagram {
  readonly data: Buffer;
  /** The sender: an inet address, or a unix path (empty when the sender is unbound). */
  readonly from: SocketAddress;
}

function msgSizeError(size: number, limit: number, what: string): NetworkError {
  const err = Object.assign(new Error('EMSGSIZE'), { code: 'EMSGSIZE' });
  return new NetworkError(
    `datagram too large — ${size} bytes, the limit ${what} is ${limit.toLocaleString('en-US')} bytes (EMSGSIZE)`,
    err,
    ERR.MSGSIZE,
  );
}

/**
 * Addresses for a datagram target: with no connection to tell a live address
 * from a dead one, a name's IPv4 addresses come first (Python's AF_INET
 * default), so `localhost` reaches servers on 127.0.0.1.
 */
async function datagramAddress(host: string, family?: IpFamily): Promise<ResolvedAddress> {
  const all = await resolveHost(host, family);
  return all.find((a) => a.family === 4) ?? all[0]!;
}

interface Endpoint {
  readonly maxPayload: number;
  readonly limitText: string;
  readonly remote: string;
  send(data: Uint8Array): Promise<void>;
  onMessage(fn: (d: ReceivedDatagram) => void): void;
  onError(fn: (err: Error) => void): void;
  close(): void;
}

/** Options shared by the datagram clients. */
export interface DatagramOptions {
  /** Only IPv4 or only IPv6 addresses. */
  family?: IpFamily;
  /** Source address to bind. */
  localAddress?: string;
  /** Source port to bind. */
  localPort?: number;
}

function udpBind(
  socket: UdpSocket,
  opts: { address?: string; port?: number; exclusive?: boolean },
): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    socket.once('error', onError);
    socket.bind({ address: opts.address, port: opts.port ?? 0, exclusive: opts.exclusive }, () => {
      socket.off('error', onError);
      resolve();
    });
  });
}

async function openUdp(
  host: string,
  port: number,
  opts: DatagramOptions & { connect: boolean; broadcast?: boolean },
): Promise<Endpoint> {
  const a = await datagramAddress(host, opts.family);
  const socket = createSocket(a.family === 6 ? 'udp6' : 'udp4');
  const remote = formatEndpoint(inetAddress(a.address, port, a.family === 6 ? 'IPv6' : 'IPv4'));
  try {
    if (opts.localAddress !== undefined || opts.localPort !== undefined || opts.broadcast) {
      await udpBind(socket, { address: opts.localAddress, port: opts.localPort });
    }
    if (opts.broadcast) socket.setBroadcast(true);
    if (opts.connect) {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.connect(port, a.address, () => {
          socket.off('error', reject);
          resolve();
        });
      });
    }
  } catch (err) {
    socket.close();
    throw new NetworkError(`cannot use udp://${remote} — ${oneLine(err)}`, err, ERR.DATAGRAM);
  }
  const maxPayload = a.family === 6 ? UDP_MAX_IPV6 : UDP_MAX_IPV4;
  let closed = false;
  return {
    maxPayload,
    limitText: `over IPv${a.family}`,
    remote: `udp://${remote}`,
    send: (data) =>
      new Promise((resolve, reject) => {
        const cb = (err: Error | null): void => (err ? reject(err) : resolve());
        if (opts.connect) socket.send(data, cb);
        else socket.send(data, port, a.address, cb);
      }),
    onMessage: (fn) =>
      socket.on('message', (data, rinfo) =>
        fn({ data, from: inetAddress(rinfo.address, rinfo.port, rinfo.family) }),
      ),
    onError: (fn) => socket.on('error', fn),
    close: () => {
      if (closed) return;
      closed = true;
      try {
        socket.close();
      } catch {
        // already closed
      }
    },
  };
}

async function openUnixDgram(path: string): Promise<Endpoint> {
  checkUnixPath(path);
  const { UnixDgramSocket, UNIX_DGRAM_MAX, withPrivateUmask } = await unixModules();
  const socket = new UnixDgramSocket();
  // bind a private client path so the server can answer; removed on close
  const dir = mkdtempSync(join(tmpdir(), 'sockit-'));
  const own = join(dir, 'c.sock');
  try {
    withPrivateUmask(() => socket.bind(own));
  } catch (err) {
    socket.close();
    rmSync(dir, { recursive: true, force: true });
    throw new NetworkError(`cannot bind ${own} — ${oneLine(err)}`, err, ERR.DATAGRAM);
  }
  return {
    maxPayload: UNIX_DGRAM_MAX,
    limitText: 'for unix datagrams',
    remote: `unix://${path}`,
    send: (data) => socket.send(Buffer.from(data.buffer, data.byteOffset, data.byteLength), path),
    onMessage: (fn) =>
      socket.on('message', (data: Buffer, from: string) =>
        fn({ data, from: { family: 'unix', path: from } }),
      ),
    onError: (fn) => socket.on('error', fn),
    close: () => {
      socket.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function openEndpoint(
  target: Target,
  opts: DatagramOptions & { connect: boolean; broadcast?: boolean },
): Promise<Endpoint> {
  if (isPathTarget(target)) return openUnixDgram(target.path);
  return openUdp(target.host, target.port, opts);
}

function sendError(err: unknown, remote: string): NetworkError {
  const code = errorCode(err);
  // the unix-dgram addon reports errors as numbers (`send -2`): give them their names
  const cause = code && !errnoName(err) ? Object.assign(new Error(code), { code }) : err;
  const text = code && !errnoName(err) ? code : oneLine(err);
  if (code === 'ECONNREFUSED' || code === 'ENOENT') {
    return new NetworkError(
      `${remote} refused the datagram — nothing is listening there (${code})`,
      cause,
      ERR.REFUSED,
    );
  }
  const hint = code === 'EACCES' ? ' (a broadcast address needs --broadcast)' : '';
  return new NetworkError(`cannot send to ${remote} — ${text}${hint}`, cause, ERR.DATAGRAM);
}

/** Options of {@link sendto}. */
export interface SendtoOptions extends DatagramOptions {
  /** Send the whole list this many times (default 1). */
  count?: number;
  /** Milliseconds between two datagrams (default 0). */
  interval?: number;
  /** Allow sending to a broadcast address. */
  broadcast?: boolean;
  /**
   * Seconds to wait for replies after the last datagram (default: none, return
   * right after sending). Waiting stops early once every datagram got a reply
   * (not with `broadcast`).
   */
  wait?: number;
  /** Called for each reply. */
  onReply?: (reply: ReceivedDatagram) => void;
  /** Stop sending and waiting. */
  signal?: AbortSignal;
}

/** What {@link sendto} reports. */
export interface SendtoResult {
  /** Datagrams sent. */
  readonly sent: number;
  /** Payload bytes sent. */
  readonly bytes: number;
  /** Replies received. */
  readonly replies: number;
}

/**
 * Python's `sendto` as a command: send each payload as one datagram to
 * `target` (UDP `host:port`, or a unix datagram path, from a private bound
 * path that is removed afterwards), `count` times, `interval` ms apart; with
 * `wait`, collect replies for that many seconds. Oversized datagrams reject
 * with EMSGSIZE (65,507 bytes over IPv4, 65,527 over IPv6) before anything is sent.
 */
export async function sendto(
  target: Target,
  payloads: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
  opts: SendtoOptions = {},
): Promise<SendtoResult> {
  const list: Uint8Array[] = [];
  if (Symbol.asyncIterator in payloads) {
    for await (const p of payloads) list.push(p);
  } else {
    for (const p of payloads) list.push(p);
  }
  const ep = await openEndpoint(target, { ...opts, connect: false });
  try {
    const tooBig = list.find((p) => p.length > ep.maxPayload);
    if (tooBig) throw msgSizeError(tooBig.length, ep.maxPayload, ep.limitText);
    let replies = 0;
    let sent = 0;
    let bytes = 0;
    let asyncError: Error | undefined;
    let wake: (() => void) | undefined;
    ep.onError((err) => {
      asyncError = err;
      wake?.();
    });
    ep.onMessage((d) => {
      replies += 1;
      opts.onReply?.(d);
      if (!opts.broadcast && replies >= sent) wake?.();
    });
    const rounds = opts.count ?? 1;
    const signal = opts.signal;
    outer: for (let round = 0; round < rounds; round += 1) {
      for (const p of list) {
        if (signal?.aborted) break outer;
        if (sent > 0 && opts.interval) await pause(opts.interval, signal);
        try {
          await ep.send(p);
        } catch (err) {
          if (errorCode(err) === 'EMSGSIZE')
            throw msgSizeError(p.length, ep.maxPayload, ep.limitText);
          throw sendError(err, ep.remote);
        }
        sent += 1;
        bytes += p.length;
      }
    }
    if (opts.wait !== undefined && opts.wait > 0 && !signal?.aborted) {
      if (opts.broadcast || replies < sent) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, opts.wait! * 1000);
          function done(): void {
            clearTimeout(timer);
            wake = undefined;
            signal?.removeEventListener('abort', done);
            resolve();
          }
          wake = done;
          signal?.addEventListener('abort', done, { once: true });
        });
      }
    }
    if (asyncError && replies === 0) throw sendError(asyncError, ep.remote);
    return { sent, bytes, replies };
  } finally {
    ep.close();
  }
}

/** Where `recvfrom` binds: UDP host and port (0 = any free port), or a unix path. */
export type BindTarget = { host: string; port: number } | { path: string };

/** Options of {@link recvfrom}. */
export interface RecvfromOptions {
  /** Stop after this many datagrams. */
  count?: number;
  /** Stop after this many seconds. */
  timeout?: number;
  /** Send each datagram back to its sender. */
  echo?: boolean;
  /** Answer each sender with these bytes. */
  reply?: Uint8Array;
  /** Called once bound, with the real address (port 0 resolved). */
  onListening?: (address: SocketAddress) => void;
  /** Called for each datagram, in arrival order. */
  onDatagram?: (d: ReceivedDatagram) => void;
  /** On `::`, receive IPv6 only. */
  ipv6Only?: boolean;
  /** Stop. */
  signal?: AbortSignal;
}

/** What {@link recvfrom} reports. */
export interface RecvfromResult {
  /** Datagrams received. */
  readonly received: number;
  /** Why it stopped. */
  readonly reason: 'count' | 'timeout' | 'aborted';
  /** The address it was bound to. */
  readonly address: SocketAddress;
}

interface Listener {
  address: SocketAddress;
  onMessage(fn: (d: ReceivedDatagram) => void): void;
  onError(fn: (err: Error) => void): void;
  answer(d: ReceivedDatagram, data: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

async function bindUdp(host: string, port: number, ipv6Only?: boolean): Promise<Listener> {
  const a = await datagramAddress(host);
  const socket = createSocket({ type: a.family === 6 ? 'udp6' : 'udp4', ipv6Only });
  try {
    await udpBind(socket, { address: a.address, port, exclusive: true });
  } catch (err) {
    socket.close();
    throw bindError(
      err,
      formatEndpoint(inetAddress(a.address, port, a.family === 6 ? 'IPv6' : 'IPv4')),
      'bind',
    );
  }
  const bound = socket.address();
  return {
    address: inetAddress(bound.address, bound.port, bound.family),
    onMessage: (fn) =>
      socket.on('message', (data, rinfo) =>
        fn({ data, from: inetAddress(rinfo.address, rinfo.port, rinfo.family) }),
      ),
    onError: (fn) => socket.on('error', fn),
    answer: (d, data) =>
      new Promise((resolve, reject) => {
        if (d.from.family === 'unix') return resolve();
        socket.send(data, d.from.port, d.from.address, (err) => (err ? reject(err) : resolve()));
      }),
    close: () =>
      new Promise<void>((resolve) => {
        try {
          socket.close(() => resolve());
        } catch {
          resolve();
        }
      }),
  };
}

async function bindUnixListener(path: string): Promise<Listener> {
  const { bindUnixDgram, checkBindablePath, releaseSocketFile } = await unixModules();
  checkBindablePath(path);
  const { socket, bound: claimed } = await bindUnixDgram(path);
  return {
    address: { family: 'unix', path },
    onMessage: (fn) =>
      socket.on('message', (data: Buffer, from: string) =>
        fn({ data, from: { family: 'unix', path: from } }),
      ),
    onError: (fn) => socket.on('error', fn),
    answer: async (d, data) => {
      if (d.from.family !== 'unix' || d.from.path === '') return; // an unbound sender cannot be answered
      await socket.send(Buffer.from(data.buffer, data.byteOffset, data.byteLength), d.from.path);
    },
    close: async () => {
      socket.close();
      await releaseSocketFile(claimed);
    },
  };
}

/**
 * Python's `recvfrom` as a command: bind (UDP host and port, or a unix datagram
 * path) and hand each datagram to `onDatagram` as it arrives, until `count`
 * datagrams came, `timeout` seconds passed, or `signal` aborts. With `echo` or
 * `reply`, each sender is answered. Rejects when the bind fails.
 */
export async function recvfrom(
  bind: BindTarget,
  opts: RecvfromOptions = {},
): Promise<RecvfromResult> {
  const listener =
    'path' in bind
      ? await bindUnixListener(bind.path)
      : await bindUdp(bind.host, bind.port, opts.ipv6Only);
  opts.onListening?.(listener.address);
  let received = 0;
  try {
    const reason = await new Promise<RecvfromResult['reason']>((resolve) => {
      const signal = opts.signal;
      let timer: NodeJS.Timeout | undefined;
      const done = (why: RecvfromResult['reason']): void => {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve(why);
      };
      const onAbort = (): void => done('aborted');
      if (signal?.aborted) return done('aborted');
      signal?.addEventListener('abort', onAbort, { once: true });
      if (opts.timeout !== undefined)
        timer = setTimeout(() => done('timeout'), opts.timeout * 1000);
      if (opts.count !== undefined && opts.count <= 0) return done('count');
      let stopped = false;
      listener.onError(() => undefined); // ICMP noise on an unconnected socket is not fatal
      listener.onMessage((d) => {
        if (stopped || signal?.aborted) return;
        received += 1;
        opts.onDatagram?.(d);
        const answer = opts.echo ? d.data : opts.reply;
        if (answer) listener.answer(d, answer).catch(() => undefined);
        if (opts.count !== undefined && received >= opts.count) {
          stopped = true;
          done('count');
        }
      });
    });
    return { received, reason, address: listener.address };
  } finally {
    await listener.close();
  }
}

/** Options of {@link datagramPipe}. */
export interface DatagramPipeOptions extends DatagramOptions {
  /** After input EOF, keep receiving until aborted. */
  keepOpen?: boolean;
  /** Seconds to keep receiving after input EOF (default 1). */
  quitAfterEof?: number;
  /** Never read the input. */
  recvOnly?: boolean;
  /** Discard what arrives. */
  sendOnly?: boolean;
  /** End after this many seconds without a datagram either way. */
  idleTimeout?: number;
  /** Translate bare LF to CRLF in what is sent. */
  transform?: (chunk: Buffer) => Buffer;
  /** Stop. */
  signal?: AbortSignal;
  /** Called once the socket is ready. */
  onReady?: (remote: string) => void;
}

/** Default seconds `connect -u` keeps listening after input EOF. */
export const DEFAULT_DATAGRAM_LINGER = 1;

/**
 * `sockit connect -u` / `--unix --datagram`: every chunk read from `input` is
 * sent as one datagram (chunks above the datagram limit are split), every
 * datagram from the peer is written to `output`. After input EOF it keeps
 * receiving for `quitAfterEof` seconds (default 1), or until aborted with
 * `keepOpen`. A UDP refusal (ICMP port unreachable) rejects with ECONNREFUSED.
 */
export async function datagramPipe(
  target: Target,
  input: Readable,
  output: Writable,
  opts: DatagramPipeOptions = {},
): Promise<{ sent: number; received: number; reason: string }> {
  const ep = await openEndpoint(target, { ...opts, connect: true });
  opts.onReady?.(ep.remote);
  return new Promise((resolve, reject) => {
    let sent = 0;
    let received = 0;
    let settled = false;
    let quitTimer: NodeJS.Timeout | undefined;
    let idleTimer: NodeJS.Timeout | undefined;
    let sending = Promise.resolve();
    const finish = (reason: string, err?: NetworkError): void => {
      if (settled) return;
      settled = true;
      if (quitTimer) clearTimeout(quitTimer);
      if (idleTimer) clearTimeout(idleTimer);
      input.off('data', onInput);
      input.off('end', onInputEnd);
      input.pause();
      output.off('error', onOutputError);
      output.on('error', () => undefined);
      opts.signal?.removeEventListener('abort', onAbort);
      ep.close();
      if (err) reject(err);
      else resolve({ sent, received, reason });
    };
    const touch = (): void => {
      if (opts.idleTimeout === undefined || opts.idleTimeout <= 0) return;
      if (idleTimer) clearTimeout(idleTimer);
      idleTimer = setTimeout(() => finish('idle-timeout'), opts.idleTimeout * 1000);
    };
    const onInput = (chunk: Buffer | string): void => {
      let data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (opts.transform) data = opts.transform(data);
      touch();
      input.pause();
      const pieces: Buffer[] = [];
      for (let i = 0; i < data.length; i += ep.maxPayload) {
        pieces.push(data.subarray(i, i + ep.maxPayload));
      }
      sending = sending.then(async () => {
        for (const p of pieces) {
          if (settled) return;
          try {
            await ep.send(p);
            sent += 1;
          } catch (err) {
            finish('error', sendError(err, ep.remote));
            return;
          }
        }
        if (!settled) input.resume();
      });
    };
    const onInputEnd = (): void => {
      void sending.then(() => {
        if (settled || opts.keepOpen) return;
        const linger = opts.quitAfterEof ?? DEFAULT_DATAGRAM_LINGER;
        if (linger <= 0) finish('quit-timer');
        else quitTimer = setTimeout(() => finish('quit-timer'), linger * 1000);
      });
    };
    const onOutputError = (err: unknown): void => {
      const code = errnoName(err);
      if (code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED') finish('output-closed');
      else
        finish(
          'error',
          new NetworkError(`cannot write the output — ${oneLine(err)}`, err, ERR.OUTPUT),
        );
    };
    const onAbort = (): void => finish('aborted');
    ep.onError((err) => finish('error', sendError(err, ep.remote)));
    ep.onMessage((d) => {
      received += 1;
      touch();
      if (!opts.sendOnly) output.write(d.data);
    });
    output.on('error', onOutputError);
    if (opts.signal?.aborted) return finish('aborted');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    touch();
    if (!opts.recvOnly) {
      input.on('data', onInput);
      input.once('end', onInputEnd);
      input.resume();
    }
  });
}
