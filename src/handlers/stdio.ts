/**
 * `-e stdio`, netcat's listen mode as a handler: what the peer sends goes to
 * stdout, stdin goes to the peer. The terminal is one, so the handler keeps its
 * state across connections in a {@link StdioPort} given as the server option
 * `stdio`: connections are served one at a time (the next one waits for its
 * turn), stdin goes to the connection open at that moment, and its EOF
 * half-closes every connection from then on. On datagram servers every
 * datagram's payload goes to stdout and stdin goes, in datagrams, to the most
 * recent sender (nothing is read from stdin before a first datagram arrived).
 * Runs in the modes that share state (async, sequential) only.
 */
import { Buffer } from 'node:buffer';
import type { Duplex, Readable, Writable } from 'node:stream';
import { once } from 'node:events';
import { formatEndpoint } from '../net/address.js';
import { UsageError, oneLine } from '../net/errors.js';
import type { BaseServer } from '../engine/base-server.js';
import { DatagramConnection, StreamRequestHandler } from '../engine/request-handler.js';
import { emitNote } from './notes.js';
import { StdioSession, releaseStream, type InputConsumer } from './stdio-stream.js';

/** The largest datagram stdin is cut into (UDP over IPv4). */
export const MAX_STDIN_DATAGRAM = 65507;

/** Output held for stdout at most; datagrams beyond it are dropped, as a full buffer would. */
export const MAX_OUTPUT_QUEUE = 16 * 1024 * 1024;

/** The terminal's ends, as the stdio handler uses them. */
export interface StdioEnds {
  /** Where the handler reads what it sends (stdin). */
  readonly input: Readable;
  /** Where what peers send goes (stdout). */
  readonly output: Writable;
  /** On datagram servers: one datagram per line of input instead of one per read. */
  readonly lines?: boolean;
}

/**
 * The state the stdio handler shares across connections; give one to the server
 * as its `stdio` option. Who reads the input is decided here: one consumer at a
 * time, the input paused while nobody holds it.
 */
export class StdioPort {
  readonly input: Readable;
  readonly output: Writable;
  readonly lines: boolean;
  /** The input has ended: every later connection is half-closed at once. */
  inputEnded = false;
  /** Connections that ended with a reset. */
  resets = 0;
  #turn: Promise<void> = Promise.resolve();
  #consumer: InputConsumer | undefined;
  #datagrams: DatagramSender | undefined;

  constructor(ends: StdioEnds) {
    this.input = ends.input;
    this.output = ends.output;
    this.lines = ends.lines === true;
  }

  /** Serve one stream connection once the ones before it are done. */
  async serve(socket: Duplex): Promise<void> {
    const before = this.#turn;
    let release!: () => void;
    this.#turn = new Promise((resolve) => (release = resolve));
    await before;
    try {
      await new StdioSession(this, socket).run();
    } finally {
      release();
    }
  }

  /** One datagram: its payload to the output; its sender is where stdin goes from now on. */
  async receive(datagram: DatagramConnection, server: BaseServer<unknown>): Promise<void> {
    this.#datagrams ??= new DatagramSender(this, server);
    this.#datagrams.sender = datagram;
    if (this.#consumer === undefined && !this.inputEnded) this.attachInput(this.#datagrams);
    const output = this.output;
    if (output.writableLength > MAX_OUTPUT_QUEUE) {
      server.emit('dropped', datagram.clientAddress, 'output-full');
      return;
    }
    if (!output.write(datagram.data)) await once(output, 'drain');
  }

  /** `consumer` reads the input now (until it ends or detaches). */
  attachInput(consumer: InputConsumer): void {
    this.#consumer = consumer;
    if (this.inputEnded) {
      consumer.end();
      return;
    }
    this.input.on('data', this.#onData);
    this.input.once('end', this.#onEnd);
    this.input.once('error', this.#onEnd);
    this.input.resume();
  }

  /** `consumer` lets go of the input; it is paused until the next one takes it. */
  detachInput(consumer: InputConsumer): void {
    if (this.#consumer !== consumer) return;
    this.#consumer = undefined;
    this.input.off('data', this.#onData);
    this.input.off('end', this.#onEnd);
    this.input.off('error', this.#onEnd);
    this.input.pause();
  }

  /** The consumer asked for a pause and is ready again. */
  resumeInput(): void {
    if (this.#consumer !== undefined) this.input.resume();
  }

  reset(): void {
    this.resets += 1;
  }

  /** Let the input go (the run is over): the process can exit while its writer is open. */
  release(): void {
    if (this.#consumer) this.detachInput(this.#consumer);
    releaseStream(this.input);
  }

  readonly #onData = (chunk: Buffer | string): void => {
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (this.#consumer && !this.#consumer.data(data)) this.input.pause();
  };

  readonly #onEnd = (): void => {
    this.inputEnded = true;
    const consumer = this.#consumer;
    if (consumer) {
      this.detachInput(consumer);
      consumer.end();
    }
  };
}

/** Stdin in datagrams to the most recent sender: one per read (or per line), in order. */
class DatagramSender implements InputConsumer {
  /** Where the next datagram goes. */
  sender: DatagramConnection | undefined;
  readonly #port: StdioPort;
  readonly #server: BaseServer<unknown>;
  /** A line not finished yet (`lines`). */
  #carry: Buffer | undefined;

  constructor(port: StdioPort, server: BaseServer<unknown>) {
    this.#port = port;
    this.#server = server;
  }

  data(chunk: Buffer): boolean {
    void this.#sendAll(this.#port.lines ? this.#lines(chunk) : [chunk]);
    return false;
  }

  end(): void {
    const rest = this.#carry;
    this.#carry = undefined;
    if (rest && rest.length > 0) void this.#sendAll([rest]);
  }

  /** Whole lines, newline included; the unfinished rest waits for the next chunk. */
  #lines(chunk: Buffer): Buffer[] {
    const data = this.#carry ? Buffer.concat([this.#carry, chunk]) : chunk;
    const lines: Buffer[] = [];
    let start = 0;
    for (let nl = data.indexOf(10); nl >= 0; nl = data.indexOf(10, start)) {
      lines.push(data.subarray(start, nl + 1));
      start = nl + 1;
    }
    const rest = data.subarray(start);
    // a "line" longer than a datagram goes as it is rather than grow without end
    this.#carry = rest.length >= MAX_STDIN_DATAGRAM ? undefined : rest;
    if (rest.length >= MAX_STDIN_DATAGRAM) lines.push(rest);
    return lines;
  }

  async #sendAll(pieces: Buffer[]): Promise<void> {
    for (const piece of pieces) {
      for (let off = 0; off < piece.length; off += MAX_STDIN_DATAGRAM) {
        await this.#send(piece.subarray(off, off + MAX_STDIN_DATAGRAM));
      }
    }
    this.#port.resumeInput();
  }

  async #send(data: Buffer): Promise<void> {
    const to = this.sender;
    if (!to) return;
    try {
      await to.reply(data);
    } catch (err) {
      const peer = formatEndpoint(to.clientAddress);
      emitNote(this.#server, {
        level: 'warn',
        event: 'send-failed',
        message: `cannot send stdin to ${peer} — ${oneLine(err)}`,
        fields: { peer, error: oneLine(err) },
      });
    }
  }
}

/** The {@link StdioPort} a server was given, or a one-line UsageError. */
function portOf(server: BaseServer<unknown>): StdioPort {
  const port = (server.options as { stdio?: unknown }).stdio;
  if (port instanceof StdioPort) return port;
  throw new UsageError(
    'the stdio handler needs the server option stdio: new StdioPort({ input, output })',
  );
}

/**
 * netcat's listen mode: socket to stdout, stdin to the socket, one connection at
 * a time (see the module comment). Needs the server option `stdio`.
 */
export class StdioHandler extends StreamRequestHandler {
  override handle(): Promise<void> {
    const port = portOf(this.server as BaseServer<unknown>);
    const conn = this.connection;
    return conn instanceof DatagramConnection
      ? port.receive(conn, this.server as BaseServer<unknown>)
      : port.serve(conn);
  }
}
