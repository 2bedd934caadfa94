#!/usr/bin/env node
// The start-up build: `sockit connect|send|sendto|recvfrom|serve|listen` each run from
// dist/bundle/<command>.cjs, one CommonJS file esbuild makes from src/ with commander
// and only that command inside, instead of ~40-70 modules that Node 20's ESM loader
// resolves and reads one by one (a CommonJS launcher and bundle never start the ESM
// loader at all, and the ESM loader is a few MiB a server would hold for its life).
// Everything else (help, completion, the library, workers, handler modules given by
// path) runs from tsc's dist/ as before; bin/sockit.js picks.
//
// Code that locates itself by `import.meta.url` (worker entries, built-in handlers,
// the 'sockit' resolve hook, package.json, the unix-dgram addon) gets the URL of its
// tsc twin in dist/, so every module a worker or a child loads by URL is the one it
// always was.
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { Readable, Writable } from 'node:stream';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SRC = resolve(ROOT, 'src');
const OUT = resolve(ROOT, 'dist/bundle');
const MAIN = resolve(SRC, 'cli/main.ts');

/**
 * The bundled commands, and the arguments that warm each one's code cache: a parse
 * up to a usage error runs the start of the command (see {@link writeCodeCache}).
 */
const COMMANDS = {
  connect: ['connect'],
  send: ['send'],
  sendto: ['sendto'],
  recvfrom: ['recvfrom', 'no-port'],
  serve: ['serve', 'tcp', 'no-port'],
  listen: ['listen', 'no-port'],
};

/** `import.meta.url` in src/<rel>.ts → the URL of dist/<rel>.js, seen from dist/bundle/. */
const distUrls = {
  name: 'dist-urls',
  setup(b) {
    b.onLoad({ filter: /\.ts$/, namespace: 'file' }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      if (!source.includes('import.meta.url')) return { contents: source, loader: 'ts' };
      const rel = relative(SRC, args.path).replace(/\.ts$/, '.js');
      const url = `new URL(${JSON.stringify(`../${rel}`)}, __sockitBundleUrl()).href`;
      return { contents: source.replaceAll('import.meta.url', url), loader: 'ts' };
    });
  },
};

/**
 * main.ts imports each command when argv names it: in the bundle of `command`, the
 * others stay import()s of their tsc build, which this bundle never reaches
 * (bin/sockit.js brings it only its own command).
 */
function onlyCommand(command) {
  return {
    name: 'only-command',
    setup(b) {
      b.onResolve({ filter: /^\.\/commands\/[a-z]+\.js$/ }, (args) => {
        if (args.importer !== MAIN || args.path === `./commands/${command}.js`) return undefined;
        return { path: `../${relative(SRC, resolve(args.resolveDir, args.path))}`, external: true };
      });
    },
  };
}

/**
 * Built-in modules that only some runs use (a TLS connection, a worker pool, a child
 * process, a prompt, a random unix path, a file check, a name lookup), loaded on first use rather than when a
 * module that names them is: each is up to a MiB more for the life of a server that
 * never needs it, and time at every start. The stand-in module has the real one's
 * exports as getters (esbuild copies them as getters, so nothing loads early).
 * Modules on hot paths (net, dgram, stream, buffer) stay as they are.
 */
const LAZY_BUILTINS = [
  'child_process',
  'worker_threads',
  'crypto',
  'tls',
  'readline',
  'fs/promises',
  'dns/promises',
];

/**
 * More of them for the client commands: a `sendto` or a `connect -z` may never need
 * the stream stack that node:net brings (about thirty modules), nor dgram or dns.
 * A server needs them all at once, and calls into them on every connection: its
 * bundles keep plain requires.
 */
const LAZY_CLIENT_BUILTINS = ['net', 'dgram', 'dns', 'tty', 'os'];
const SERVER_COMMANDS = new Set(['serve', 'listen']);

function lazyBuiltins(command) {
  const names = SERVER_COMMANDS.has(command)
    ? LAZY_BUILTINS
    : [...LAZY_BUILTINS, ...LAZY_CLIENT_BUILTINS];
  return {
    name: 'lazy-builtins',
    setup(b) {
      const filter = new RegExp(`^(node:)?(${names.join('|').replaceAll('/', '\\/')})$`);
      b.onResolve({ filter }, (args) => ({
        path: args.path.replace(/^node:/, ''),
        namespace: 'lazy-builtin',
      }));
      b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => {
        const name = `node:${args.path}`;
        const keys = Object.keys(createRequire(import.meta.url)(name));
        return {
          contents: `let real;
const load = () => (real ??= process.getBuiltinModule(${JSON.stringify(name)}));
for (const key of ${JSON.stringify(keys)})
  Object.defineProperty(exports, key, { get: () => load()[key], enumerable: true });`,
          loader: 'js',
        };
      });
    },
  };
}

/**
 * Packages the bundle leaves in node_modules: the X.509 ones (half a MB, for a
 * throwaway certificate) load when a TLS server without --cert starts, rather than
 * sit in every server's memory. Their import() becomes a require(): an import() in a
 * script compiled from V8's code cache finds no loader on Node 20 ("A dynamic import
 * callback was not specified"), and the main context's one is experimental there.
 */
const REQUIRED_PACKAGES = ['@peculiar/x509', 'reflect-metadata'];

const requiredPackages = {
  name: 'required-packages',
  setup(b) {
    const filter = new RegExp(`^(${REQUIRED_PACKAGES.join('|').replaceAll('/', '\\/')})$`);
    b.onResolve({ filter }, (args) =>
      args.kind === 'require-call'
        ? { path: args.path, external: true }
        : { path: args.path, namespace: 'required-package' },
    );
    b.onLoad({ filter: /.*/, namespace: 'required-package' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};

/**
 * chalk and ora (with cli-spinners, 80 KB of a 200 KB client bundle) colour and spin
 * only on a terminal, yet every start reads and keeps them: the bundles require them
 * from node_modules when a run first needs them (ESM packages: Node >= 20.19 requires
 * them as such). The stand-in re-exports the package's names, so that `await
 * import('ora')` still finds its default export.
 */
const TERMINAL_PACKAGES = ['chalk', 'ora'];

const terminalPackages = {
  name: 'terminal-packages',
  setup(b) {
    const filter = new RegExp(`^(${TERMINAL_PACKAGES.join('|')})$`);
    b.onResolve({ filter }, (args) =>
      args.kind === 'require-call'
        ? { path: args.path, external: true }
        : { path: args.path, namespace: 'terminal-package' },
    );
    b.onLoad({ filter: /.*/, namespace: 'terminal-package' }, async (args) => {
      const names = Object.keys(await import(args.path)).filter((k) => k !== 'default');
      const name = JSON.stringify(args.path);
      return {
        contents: `const ns = require(${name});
export default ns.default;
export const { ${names.join(', ')} } = ns;`,
        loader: 'js',
      };
    });
  },
};

/**
 * What the quick runs never reach (src/cli/quick-args.ts admits no TLS, no unix path,
 * no tap, no UDP probe, fewer ports than a threaded scan): left out of their bundles,
 * each import() of one a module that throws. The warm-up runs of
 * {@link writeQuickCaches} and the quick e2e tests would meet one that is reached.
 */
const QUICK_ABSENT = [
  'net/tls.ts',
  'net/tap.ts',
  'net/unix-datagram-socket.ts',
  'clients/tls-probe.ts',
  'clients/stream-client.ts',
  'clients/probe-threads.ts',
  'clients/udp-probe.ts',
].map((rel) => resolve(SRC, rel));

const quickAbsent = {
  name: 'quick-absent',
  setup(b) {
    b.onResolve({ filter: /\.js$/ }, (args) => {
      if (args.kind !== 'dynamic-import') return undefined;
      const path = resolve(args.resolveDir, args.path).replace(/\.js$/, '.ts');
      return QUICK_ABSENT.includes(path) ? { path, namespace: 'quick-absent' } : undefined;
    });
    b.onLoad({ filter: /.*/, namespace: 'quick-absent' }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`${relative(SRC, args.path)} is not in the quick bundles`)});`,
      loader: 'js',
    }));
  },
};

/** Bundle one command into dist/bundle/<command>.cjs; resolves with its path. */
async function bundle(command, entry = MAIN, extraPlugins = []) {
  const file = resolve(OUT, `${command}.cjs`);
  await build({
    entryPoints: [entry],
    outfile: file,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    charset: 'ascii',
    // the addon is loaded by createRequire from its dist/ twin's URL, never bundled
    external: ['unix-dgram'],
    // the file is the function bin/sockit.js compiles, as Node's CommonJS wrapper
    // would make it: no wrapped copy of a large string to build and flatten at start-up
    banner: {
      // the bundle's own URL is made when first asked for: most runs never do
      js: "(function (exports, require, module, __filename, __dirname) {let __sockitUrl; const __sockitBundleUrl = () => (__sockitUrl ??= require('node:url').pathToFileURL(__filename).href);",
    },
    footer: { js: '\n})' },
    minifySyntax: true,
    minifyWhitespace: true,
    legalComments: 'none',
    plugins: [
      distUrls,
      onlyCommand(command),
      lazyBuiltins(command),
      requiredPackages,
      terminalPackages,
      ...extraPlugins,
    ],
    logLevel: 'warning',
  });
  // one character over 127 and V8 holds the whole source as two bytes a character
  const bytes = await readFile(file);
  const at = bytes.findIndex((b) => b > 0x7f);
  if (at >= 0) {
    const around = JSON.stringify(bytes.subarray(Math.max(0, at - 30), at + 10).toString());
    throw new Error(`${file}: non-ASCII at byte ${at} (${around}) — write it as \\u…`);
  }
  const source = bytes.toString('latin1');
  // A package's import() would fail from the code cache (see REQUIRED_PACKAGES); the
  // other commands' are never reached (onlyCommand), and the import(url) of a user's
  // handler module never runs here (bin/sockit.js sends those servers to dist/).
  const left = source.match(/\bimport\("(?!\.\.\/cli\/commands\/)[^"]*"\)/);
  if (left) throw new Error(`${file}: ${left[0]} left in the bundle (see REQUIRED_PACKAGES)`);
  return file;
}

/**
 * V8's code cache for a bundle (bin/sockit.js loads it with the bundle): compiled by
 * running the start of the command (parsing, up to a usage error), so that what every
 * start runs is in it, not only the top level.
 */
async function writeCodeCache(file, args) {
  const require = createRequire(import.meta.url);
  const { loadBundle } = require('../bin/sockit.js');
  const { exports: main, script } = loadBundle(file, undefined);
  const sink = new Writable({ write: (_chunk, _enc, done) => done() });
  const io = { stdin: Readable.from([]), stdout: sink, stderr: sink, env: {} };
  const signals = { on: () => undefined, off: () => undefined };
  await main.main(['node', 'sockit', ...args], io, signals);
  await writeFile(`${file}.cache`, script.createCachedData());
}

/**
 * The quick runs' bundles (src/cli/quick-connect.ts, quick-sendto.ts: `connect -z`
 * and `sendto host port message`, no commander), each code cache warmed by real runs
 * on the process's own IO (they print nothing): a probe of a loopback port a server
 * here accepts and of one nobody listens on, a datagram to a bound socket. What a
 * quick run runs is then all in its cache.
 */
async function writeQuickCaches() {
  const require = createRequire(import.meta.url);
  const { loadBundle } = require('../bin/sockit.js');
  const server = createServer((s) => s.destroy());
  await new Promise((done) => server.listen(0, '127.0.0.1', done));
  const closed = createServer();
  await new Promise((done) => closed.listen(0, '127.0.0.1', done));
  const refused = String(closed.address().port);
  await new Promise((done) => closed.close(done));
  const udp = createSocket('udp4');
  await new Promise((done) => udp.bind(0, '127.0.0.1', done));
  const runs = {
    connect: [
      ['-z', '127.0.0.1', String(server.address().port)],
      ['-z', '127.0.0.1', refused],
    ],
    sendto: [['127.0.0.1', String(udp.address().port), 'x']],
  };
  try {
    for (const [command, list] of Object.entries(runs)) {
      const entry = resolve(SRC, `cli/quick-${command}.ts`);
      const file = await bundle(`quick-${command}`, entry, [quickAbsent]);
      const { exports: quick, script } = loadBundle(file, undefined);
      for (const args of list) {
        const code = await quick.quickMain(['node', 'sockit', command, ...args]);
        if (code === undefined) throw new Error(`quick-${command} declined ${args.join(' ')}`);
      }
      await writeFile(`${file}.cache`, script.createCachedData());
    }
  } finally {
    server.close();
    udp.close();
  }
}

for (const [command, args] of Object.entries(COMMANDS)) {
  await writeCodeCache(await bundle(command), args);
}
await writeQuickCaches();
