#!/usr/bin/env node
// CommonJS on purpose (bin/package.json): the client commands and --version run from
// dist/bundle/main.cjs (scripts/bundle.mjs) and never start Node's ESM loader, start-up
// time being part of the product. Servers, help and completion run from tsc's
// dist/cli/, whose modules workers and handler modules share by URL.
const args = process.argv.slice(2);
const name = args.find((a) => !a.startsWith('-'));
const bundled = name
  ? ['connect', 'send', 'sendto', 'recvfrom'].includes(name)
  : args.length === 1 && (args[0] === '--version' || args[0] === '-V');
const cli = bundled
  ? Promise.resolve(require('../dist/bundle/main.cjs'))
  : import('../dist/cli/main.js');

cli
  .then(({ main }) => main(process.argv))
  .then((code) => {
    process.exitCode = code;
    // The command is done and its output written: whatever a user's handler left behind
    // (a timer, an interval) must not keep the process alive.
    setTimeout(() => process.exit(), 1000).unref();
  });
