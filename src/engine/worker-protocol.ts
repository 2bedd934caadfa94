/**
 * The messages both pooled modes exchange with their workers. A stream connection
 * travels as a channel of the worker's mux in `threading` (a Worker cannot receive a
 * socket) and as the socket's handle in `forking` (threading.ts, forking.ts).
 */
import type { MessagePort } from 'node:worker_threads';
import type { SocketAddress } from '../net/address.js';
import type { WireError } from '../net/wire.js';
import type { TlsFacts } from '../net/tls-info.js';
import type { GateGrant } from '../net/write-gate.js';
import type { RequestOutcome } from './strategy.js';

/** Owner → worker: run the handler on one datagram. */
export interface DatagramJob {
  readonly type: 'datagram';
  readonly id: number;
  readonly data: Uint8Array;
  readonly clientAddress: SocketAddress;
}

/** Owner → worker: the address the server is bound to (sent before a worker's first job). */
export interface AddressMessage {
  readonly type: 'address';
  readonly address: SocketAddress;
}

/** Owner → thread, before its first stream job: the port of its mux (bridge-mux.ts). */
export interface MuxMessage {
  readonly type: 'mux';
  readonly port: MessagePort;
  /** The thread's gates, for writing to sockets itself (net/write-gate.ts). */
  readonly gates: SharedArrayBuffer;
}

/** Owner → thread: serve a connection whose traffic travels on the mux under `id`. */
export interface StreamJob {
  readonly type: 'stream';
  readonly id: number;
  readonly clientAddress: SocketAddress;
  /** The server's end of the connection. */
  readonly localAddress: SocketAddress;
  /** What the TLS handshake (on the owner's thread) established, on a TLS server. */
  readonly tls?: TlsFacts;
  /** The thread may write to the socket itself, through this gate. */
  readonly gate?: GateGrant;
}

/** Owner → worker process: serve the connection whose socket handle comes with this message. */
export interface ConnectionJob {
  readonly type: 'conn';
  readonly id: number;
  readonly clientAddress: SocketAddress;
}

/** Worker → owner: one reply datagram of a datagram job. */
export interface ReplyMessage {
  readonly type: 'reply';
  readonly id: number;
  readonly data: Uint8Array;
}

/** Worker → owner: a job is over (with what it moved, when the owner cannot count it). */
export interface DoneMessage {
  readonly type: 'done';
  readonly id: number;
  readonly error?: WireError;
  readonly outcome?: RequestOutcome;
}

/** Events of a worker's server that the owner's server emits too, so that its log shows them. */
export const FORWARDED_EVENTS = ['forward', 'handlerNote', 'dropped'] as const;

/** Worker → owner: an event of the worker's server, for the owner's server to emit. */
export interface EventMessage {
  readonly type: 'event';
  readonly name: 'idleTimeout' | 'tlsError' | (typeof FORWARDED_EVENTS)[number];
  readonly args: readonly unknown[];
}

/** Messages every pooled worker may send. */
export type FromWorker = ReplyMessage | DoneMessage | EventMessage;
