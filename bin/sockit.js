#!/usr/bin/env node
// CommonJS on purpose (bin/package.json): the commands run from dist/bundle/<command>.cjs
// (scripts/bundle.mjs) and never start Node's ESM loader, start-up time and a server's
// footprint being part of the product. Help, completion and servers given a handler
// module run from tsc's dist/cli/, whose modules workers and handler modules share by URL.
const { readFileSync } = require('node:fs');
const { dirname, join } = require('node:path');

const BUNDLES = join(__dirname, '..', 'dist', 'bundle');

/**
 * Load a bundle as require() would, but compiled from V8's code cache when the build
 * left one that this Node accepts: the bundle is then neither resolved through the
 * module loader nor parsed again. V8 rejects a cache from another Node or other flags
 * (`script.cachedDataRejected`), and the bundle compiles as usual. The file is the
 * module's wrapper function itself, in ASCII (scripts/bundle.mjs writes and checks it).
 */
function loadBundle(file, cachedData, source = readFileSync(file, 'latin1')) {
  const vm = require('node:vm');
  const script = new vm.Script(source, {
    filename: file,
    cachedData,
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const module = { exports: {} };
  // this file's require: the bundle requires only builtins and packages, which resolve
  // the same from bin/ (node:module's createRequire would start the ESM loader)
  script.runInThisContext()(module.exports, require, module, file, dirname(file));
  return { exports: module.exports, script };
}

/** The exports of dist/bundle/<name>.cjs, or undefined when the build made none. */
function loadNamed(name) {
  const file = join(BUNDLES, `${name}.cjs`);
  let source;
  try {
    source = readFileSync(file, 'latin1');
  } catch {
    return undefined; // no bundle of that name
  }
  let cache;
  try {
    cache = readFileSync(`${file}.cache`);
  } catch {
    cache = undefined; // a build without one: compile
  }
  return loadBundle(file, cache, source).exports;
}

/**
 * The bundle of the command `args` name, or undefined: help and completion need every
 * command, and a server given a handler module (`-e ./my.js`, the only .js or .mjs a
 * command takes) needs the engine the module imports as 'sockit', dist/index.js.
 */
function bundleFor(args) {
  const name = args.find((a) => !a.startsWith('-'));
  if (!name || !/^[a-z]+$/.test(name) || args.some((a) => /\.m?js$/i.test(a))) return undefined;
  return loadNamed(name);
}

/**
 * The flags each quick run takes (src/cli/quick-args.ts decides; this first look only
 * spares a run that surely is not quick the reading of the quick bundle).
 */
const QUICK_FLAGS = new Map([
  ['connect', /^-[zv46]+$|^--(zero|verbose|ipv4|ipv6|json|all)$/],
  ['sendto', /^-[vn46]+$|^--(verbose|newline|ipv4|ipv6|broadcast)$/],
]);

/** Whether `args` (process.argv without node and the script) may be a quick run. */
function mayBeQuick(args) {
  const [command, ...rest] = args;
  const flags = QUICK_FLAGS.get(command);
  if (flags === undefined || !rest.every((a) => !a.startsWith('-') || flags.test(a))) return false;
  return command === 'connect' ? rest.some((a) => /^-[^-]*z|^--zero$/.test(a)) : rest.length >= 3;
}

/**
 * `connect -z …` and `sendto host port message…` with a few boolean flags run from
 * dist/bundle/quick-<command>.cjs (src/cli/quick-*.ts), without commander: the run,
 * or undefined when the argv is not such a shape (the bundle declines, and the
 * command's own bundle runs it).
 */
function quickRun(args) {
  if (!mayBeQuick(args)) return undefined;
  return loadNamed(`quick-${args[0]}`)?.quickMain(process.argv);
}

function run() {
  const args = process.argv.slice(2);
  if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
    // what commander prints, without loading it
    process.stdout.write(`${require('../package.json').version}\n`);
    return;
  }
  const ran = quickRun(args) ?? fullRun(args);
  ran.then((code) => {
    process.exitCode = code;
    // The command is done and its output written: whatever a user's handler left behind
    // (a timer, an interval) must not keep the process alive.
    setTimeout(() => process.exit(), 1000).unref();
  });
}

/** The commander program: the command's bundle, or tsc's dist/cli/main.js. */
function fullRun(args) {
  const bundled = bundleFor(args);
  const cli = bundled ? Promise.resolve(bundled) : import('../dist/cli/main.js');
  return cli.then(({ main }) => main(process.argv));
}

if (require.main === module) run();
else module.exports = { loadBundle, BUNDLES, mayBeQuick };
