/**
 * The client functions behind `sockit connect`, `send`, `sendto` and
 * `recvfrom`, usable from Node without the CLI.
 */
export * from './ports.js';
export { tcpAttempt, type AttemptResult, type AttemptOptions } from './tcp-attempt.js';
export * from './probe.js';
export * from './stream-client.js';
export * from './datagram-client.js';
