#!/usr/bin/env node
// CommonJS on purpose (bin/package.json): the client commands run from
// dist/bundle/main.cjs (scripts/bundle.mjs) and never start Node's ESM loader, start-up
// time being part of the product. Servers, help and completion run from tsc's
// dist/cli/, whose modules workers and handler modules share by URL.
const { readFileSync } = require('node:fs');
const { dirname, join } = require('node:path');

const BUNDLE = join(__dirname, '..', 'dist', 'bundle', 'main.cjs');
/** V8's code cache for the bundle, made by scripts/bundle.mjs with {@link loadBundle}. */
const BUNDLE_CACHE = `${BUNDLE}.cache`;

/**
 * Load the bundle as require() would, but compiled from V8's code cache when the build
 * left one that this Node accepts: the bundle is then neither resolved through the
 * module loader nor parsed again. V8 rejects a cache from another Node or other flags
 * (`script.cachedDataRejected`), and the bundle compiles as usual.
 */
function loadBundle(cachedData) {
  const vm = require('node:vm');
  const source = readFileSync(BUNDLE, 'utf8');
  const script = new vm.Script(
    `(function (exports, require, module, __filename, __dirname) {${source}\n})`,
    {
      filename: BUNDLE,
      cachedData,
      importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    },
  );
  const module = { exports: {} };
  // this file's require: the bundle requires only builtins and packages, which resolve
  // the same from bin/ (node:module's createRequire would start the ESM loader)
  script.runInThisContext()(module.exports, require, module, BUNDLE, dirname(BUNDLE));
  return { exports: module.exports, script };
}

function readCache() {
  try {
    return readFileSync(BUNDLE_CACHE);
  } catch {
    return undefined; // no cache (a build without one): compile
  }
}

function run() {
  const args = process.argv.slice(2);
  if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
    // what commander prints, without loading it
    process.stdout.write(`${require('../package.json').version}\n`);
    return;
  }
  const name = args.find((a) => !a.startsWith('-'));
  const bundled = ['connect', 'send', 'sendto', 'recvfrom'].includes(name);
  const cli = bundled
    ? Promise.resolve(loadBundle(readCache()).exports)
    : import('../dist/cli/main.js');
  cli
    .then(({ main }) => main(process.argv))
    .then((code) => {
      process.exitCode = code;
      // The command is done and its output written: whatever a user's handler left behind
      // (a timer, an interval) must not keep the process alive.
      setTimeout(() => process.exit(), 1000).unref();
    });
}

if (require.main === module) run();
else module.exports = { loadBundle, BUNDLE_CACHE };
