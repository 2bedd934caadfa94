/**
 * Entry of a `forking` worker process (with worker-main.ts): a connection arrives as
 * its socket handle, served here; the owner learns what it moved when it is done.
 */
import type { Socket } from 'node:net';
import type { ConnectionJob } from './worker-protocol.js';
import { workerMain, type RunningJob } from './worker-main.js';
import { StreamServer } from './stream-server.js';

// The idle timer and the TLS handshake run here, where the socket is: the owner reports them.
const HERE = ['idleTimeout', 'tlsError'] as const;

await workerMain((server, msg, extra): RunningJob | undefined => {
  if (msg.type !== 'conn') return undefined;
  const job = msg as ConnectionJob;
  const socket = extra as Socket;
  // A socket handed over is made with Node's defaults: give it the server's half-close.
  socket.allowHalfOpen = true;
  socket.on('error', () => undefined); // the handler sees failures through its reads and writes
  if (server instanceof StreamServer) return server.serveHandedOver(socket, job.clientAddress);
  return { done: server.runRequest(socket, job.clientAddress), abort: () => socket.destroy() };
}, HERE);
