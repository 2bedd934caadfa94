#!/usr/bin/env node
// The start-up build: `sockit --version` and the client commands (connect, send, sendto,
// recvfrom) run from dist/bundle/main.cjs, one CommonJS file esbuild makes from src/ with
// commander inside, instead of ~40 modules that Node 20's ESM loader resolves and reads
// one by one (a CommonJS launcher and bundle never start the ESM loader at all).
// Everything else (serve, listen, help, completion, the library, workers, handler
// modules) runs from tsc's dist/ as before; bin/sockit.js picks.
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
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SRC = resolve(ROOT, 'src');
const OUT = resolve(ROOT, 'dist/bundle');

/** The commands that stay in dist/ (bin/sockit.js never sends them to the bundle). */
const UNBUNDLED = /\/commands\/(serve|listen|completion)\.js$/;

/** `import.meta.url` in src/<rel>.ts → the URL of dist/<rel>.js, seen from dist/bundle/. */
const distUrls = {
  name: 'dist-urls',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      if (!source.includes('import.meta.url')) return { contents: source, loader: 'ts' };
      const rel = relative(SRC, args.path).replace(/\.ts$/, '.js');
      const url = `new URL(${JSON.stringify(`../${rel}`)}, __sockitBundleUrl).href`;
      return { contents: source.replaceAll('import.meta.url', url), loader: 'ts' };
    });
    // left as import() of the tsc build; bin/sockit.js never brings these to the bundle
    b.onResolve({ filter: UNBUNDLED }, (args) => ({
      path: `../${relative(SRC, resolve(args.resolveDir, args.path))}`,
      external: true,
    }));
  },
};

/**
 * commander requires node:child_process at load time for executable subcommands, which
 * sockit has none of; loading it (and dgram, net with it) only if one is ever spawned
 * keeps it off every start.
 */
const lazyChildProcess = {
  name: 'lazy-child-process',
  setup(b) {
    b.onResolve({ filter: /^node:child_process$/ }, (args) =>
      /[\\/]node_modules[\\/]commander[\\/]/.test(args.importer)
        ? { path: 'child_process', namespace: 'lazy-builtin' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, () => ({
      contents:
        "module.exports = new Proxy({}, { get: (_, key) => process.getBuiltinModule('node:child_process')[key] });",
      loader: 'js',
    }));
  },
};

await build({
  entryPoints: { main: resolve(SRC, 'cli/main.ts') },
  outdir: OUT,
  outExtension: { '.js': '.cjs' },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // the addon is loaded by createRequire from its dist/ twin's URL, never bundled
  external: ['unix-dgram'],
  banner: { js: "const __sockitBundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  minifySyntax: true,
  minifyWhitespace: true,
  legalComments: 'none',
  plugins: [distUrls, lazyChildProcess],
  logLevel: 'warning',
});

// V8's code cache for the bundle (bin/sockit.js loads it with the bundle): compiled by
// running the start of each bundled command (parsing, up to a usage error), so that
// what every start runs is in it, not only the top level.
const require = createRequire(import.meta.url);
const { loadBundle, BUNDLE_CACHE } = require('../bin/sockit.js');
const { exports: bundle, script } = loadBundle(undefined);
const sink = new Writable({ write: (_chunk, _enc, done) => done() });
const io = { stdin: Readable.from([]), stdout: sink, stderr: sink, env: {} };
const signals = { on: () => undefined, off: () => undefined };
for (const args of [['connect'], ['send'], ['sendto'], ['recvfrom', 'no-port']]) {
  await bundle.main(['node', 'sockit', ...args], io, signals);
}
await writeFile(BUNDLE_CACHE, script.createCachedData());
