#!/usr/bin/env node
// The minimal Node TLS echo of bench/tls-bench.mjs, the baseline: `sock.pipe(sock)`
// behind tls.createServer, TCP_NODELAY as the harness's node-echo.js.  node bench/node-tls-echo.mjs PORT HOST CERT KEY
import { createServer } from 'node:tls';
import { readFileSync } from 'node:fs';

const [port, host, cert, key] = process.argv.slice(2);
const options = {
  cert: readFileSync(cert),
  key: readFileSync(key),
  allowHalfOpen: true,
  noDelay: true,
};
createServer(options, (s) => {
  s.on('error', () => s.destroy());
  s.pipe(s);
}).listen(Number(port), host);
