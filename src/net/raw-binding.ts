/**
 * Node's own stream handles (`tcp_wrap`'s TCP, `pipe_wrap`'s Pipe, the objects a
 * `net.Socket` is built on) used directly, for hot paths that need no stream: a
 * connection opened with no `net.Socket`, read through `onread` into a buffer the
 * caller chooses, written with `writeBuffer`, half-closed with `shutdown`. The
 * protocol is Node's lib/internal/stream_base_commons.js. The bindings are looked
 * up once and checked for the known shape (Node 20 and 22); {@link rawBinding}
 * is null when they are missing, or when pending deprecations are on (their
 * `process.binding()` warns): callers then take the `net.Socket` path.
 */
import { isInt32Array } from 'node:util/types';
import type { SocketAddress } from './address.js';
import { nodeBinding } from './node-binding.js';

/** A request object a handle completes (`this` in `oncomplete` is the request). */
export interface HandleReq {
  oncomplete: ((this: never, status: number) => void) | null;
  handle?: StreamHandle;
}

/** Node's stream handle (TCP or Pipe): the calls a relay makes. */
export interface StreamHandle {
  /** Called with the handle as `this` after each read; returns the next read buffer, if any. */
  onread: (this: StreamHandle) => Uint8Array | undefined;
  /** Whether `net` believes the handle is reading (kept true while it does). */
  reading?: boolean;
  readStart(): number;
  readStop(): number;
  /** Read into `buffer` from now on (until `onread` returns another). */
  useUserBuffer(buffer: Uint8Array): void;
  /** 0 or a negative errno; {@link RawBinding.lastWriteAsync} says whether `req` completes later. */
  writeBuffer(req: HandleReq, buffer: Uint8Array): number;
  shutdown(req: HandleReq): number;
  close(callback?: () => void): void;
  /** TCP only: close with an RST. */
  reset?(callback?: () => void): number;
  readonly bytesRead: number;
  readonly bytesWritten: number;
}

/** The handle side of Node's stream bindings. */
export interface RawBinding {
  /** A write request (for `writeBuffer`); keep the buffer on it until it completes. */
  readonly WriteWrap: new () => HandleReq & { buffer?: Uint8Array };
  /** A shutdown request (for `shutdown`). */
  readonly ShutdownWrap: new () => HandleReq;
  /** The bytes of the last read (> 0), or EOF / a negative errno; read in `onread`. */
  readBytes(): number;
  /** Whether the last `writeBuffer` left a request in flight (its `oncomplete` runs later). */
  lastWriteAsync(): boolean;
  /** libuv's end-of-stream status. */
  readonly EOF: number;
  /**
   * Start connecting a new handle to `to` (TCP: no Nagle delay): the handle, or a
   * negative errno. `req.oncomplete(status)` runs once it connected or failed.
   */
  connect(to: SocketAddress, req: HandleReq): StreamHandle | number;
  /** A connect request for {@link connect}. */
  connectReq(to: SocketAddress): HandleReq;
}

interface Ctor<T> {
  new (type?: number): T;
  prototype: object;
}

interface Bindings {
  tcp: {
    TCP: Ctor<StreamHandle & TcpConnect>;
    TCPConnectWrap: Ctor<HandleReq>;
    constants: { SOCKET: number };
  };
  pipe: {
    Pipe: Ctor<StreamHandle & { connect(req: HandleReq, path: string): number }>;
    PipeConnectWrap: Ctor<HandleReq>;
    constants: { SOCKET: number };
  };
  stream: {
    WriteWrap: new () => HandleReq;
    ShutdownWrap: new () => HandleReq;
    streamBaseState: Int32Array;
    kReadBytesOrError: number;
    kLastWriteWasAsync: number;
  };
  uv: { UV_EOF: number };
}

interface TcpConnect {
  connect(req: HandleReq, address: string, port: number): number;
  connect6(req: HandleReq, address: string, port: number): number;
  setNoDelay(on: boolean): number;
}

let cached: RawBinding | null | undefined;

/** Node's stream bindings in the known shape, or null (see the file's comment). */
export function rawBinding(): RawBinding | null {
  if (cached === undefined) cached = load();
  return cached;
}

const STREAM_METHODS = ['readStart', 'readStop', 'useUserBuffer', 'writeBuffer', 'shutdown'];

function load(): RawBinding | null {
  const b = {
    tcp: nodeBinding('tcp_wrap'),
    pipe: nodeBinding('pipe_wrap'),
    stream: nodeBinding('stream_wrap'),
    uv: nodeBinding('uv'),
  } as unknown as Bindings;
  return known(b) ? make(b) : null;
}

function known(b: Bindings): boolean {
  const { tcp, pipe, stream, uv } = b;
  const has = (proto: object, names: string[]): boolean =>
    names.every((n) => typeof (proto as Record<string, unknown>)[n] === 'function');
  return (
    typeof tcp?.TCP === 'function' &&
    typeof tcp.TCPConnectWrap === 'function' &&
    typeof pipe?.Pipe === 'function' &&
    typeof pipe.PipeConnectWrap === 'function' &&
    typeof tcp.constants?.SOCKET === 'number' &&
    typeof pipe.constants?.SOCKET === 'number' &&
    typeof stream?.WriteWrap === 'function' &&
    typeof stream.ShutdownWrap === 'function' &&
    isInt32Array(stream.streamBaseState) &&
    typeof stream.kReadBytesOrError === 'number' &&
    typeof stream.kLastWriteWasAsync === 'number' &&
    typeof uv?.UV_EOF === 'number' &&
    has(tcp.TCP.prototype, [...STREAM_METHODS, 'connect', 'connect6', 'setNoDelay', 'reset']) &&
    has(pipe.Pipe.prototype, [...STREAM_METHODS, 'connect'])
  );
}

function make(b: Bindings): RawBinding {
  const { tcp, pipe, stream } = b;
  const state = stream.streamBaseState;
  const kRead = stream.kReadBytesOrError;
  const kAsync = stream.kLastWriteWasAsync;
  return {
    WriteWrap: stream.WriteWrap,
    ShutdownWrap: stream.ShutdownWrap,
    readBytes: () => state[kRead]!,
    lastWriteAsync: () => state[kAsync] !== 0,
    EOF: b.uv.UV_EOF,
    connectReq: (to) =>
      to.family === 'unix' ? new pipe.PipeConnectWrap() : new tcp.TCPConnectWrap(),
    connect(to, req) {
      try {
        if (to.family === 'unix') {
          const handle = new pipe.Pipe(pipe.constants.SOCKET);
          const err = handle.connect(req, to.path);
          return err === 0 ? handle : (handle.close(), err);
        }
        const handle = new tcp.TCP(tcp.constants.SOCKET);
        const err =
          to.family === 'IPv6'
            ? handle.connect6(req, to.address, to.port)
            : handle.connect(req, to.address, to.port);
        if (err !== 0) return (handle.close(), err);
        handle.setNoDelay(true);
        return handle;
      } catch {
        return -22; // EINVAL: the binding refused the arguments
      }
    },
  };
}
