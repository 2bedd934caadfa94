/**
 * The published package: `npm pack` holds only what a user needs, and the packed
 * tarball installs into an empty directory and runs.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { testIf } from '../helpers/skip.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PKG = JSON.parse(
  execFileSync('node', ['-p', 'JSON.stringify(require("./package.json"))'], {
    cwd: ROOT,
  }).toString(),
) as {
  name: string;
  version: string;
};
// installing the tarball fetches its dependencies: without the registry, say so and skip
const registry =
  spawnSync('npm', ['ping', '--fetch-retries=0', '--fetch-timeout=10000'], { stdio: 'ignore' })
    .status === 0
    ? undefined
    : 'the npm registry does not answer (npm ping); installing the tarball needs it';

let work: string;
let tarball: string;
let files: string[];

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'sk-pack-'));
  const out = execFileSync(
    'npm',
    ['pack', '--json', '--ignore-scripts', '--pack-destination', work],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  ).toString();
  const [info] = JSON.parse(out) as { filename: string; files: { path: string }[] }[];
  tarball = join(work, info!.filename);
  files = info!.files.map((f) => f.path);
}, 60_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('npm pack', () => {
  test('contains only bin, dist, man, schema, README, LICENSE and package.json', () => {
    const stray = files.filter(
      (f) =>
        !/^(bin|dist|man|schema)\//.test(f) &&
        !['README.md', 'LICENSE', 'package.json'].includes(f),
    );
    expect(stray).toEqual([]);
    expect(files).toEqual(
      expect.arrayContaining([
        'bin/sockit.js',
        'dist/cli/main.js',
        'dist/index.js',
        'dist/index.d.ts',
        'man/sockit.1',
        'schema/events.schema.json',
        'README.md',
        'LICENSE',
      ]),
    );
    expect(files.some((f) => f.startsWith('dist/') && f.includes('.test.'))).toBe(false);
    // no source maps: they would point at src/, which the package does not ship
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
  });

  testIf(registry, import.meta.url)(
    'the tarball installs in an empty directory with no C++ toolchain, and runs',
    () => {
      const app = join(work, 'app');
      execFileSync('mkdir', ['-p', app]);
      writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true }));
      // no compiler: the optional unix-dgram addon cannot build, and the install still succeeds
      const noCompiler = { CC: '/nonexistent', CXX: '/nonexistent', MAKE: '/nonexistent' };
      execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], {
        cwd: app,
        stdio: 'ignore',
        env: { ...process.env, ...noCompiler },
      });
      const version = execFileSync(join(app, 'node_modules', '.bin', 'sockit'), ['--version'], {
        cwd: app,
      })
        .toString()
        .trim();
      expect(version).toBe(PKG.version);
      // the library entry point resolves from the installed package
      const exported = execFileSync(
        'node',
        [
          '--input-type=module',
          '-e',
          `import(${JSON.stringify(PKG.name)}).then((m) => console.log(typeof m.TCPServer, typeof m.connectEx))`,
        ],
        {
          cwd: app,
        },
      )
        .toString()
        .trim();
      expect(exported).toBe('function function');
      // without the addon, a unix datagram command says what is missing and how to get it
      const dgram = spawnSync(
        join(app, 'node_modules', '.bin', 'sockit'),
        ['serve', 'unix', join(work, 'd.sock'), '--datagram'],
        { cwd: app, encoding: 'utf8' },
      );
      expect(dgram.stderr).toBe(
        'sockit: unix datagram sockets need the unix-dgram addon, which is not installed ' +
          '(building it needs a C++ toolchain) — to get it: ' +
          `apt install g++ make python3 && cd ${app} && npm install\n`,
      );
      expect(dgram.status).toBe(1);
    },
    180_000,
  );
});

describe('the start-up build', () => {
  const COMMANDS = ['connect', 'send', 'sendto', 'recvfrom', 'serve', 'listen'];
  // the quick runs of `connect -z` and `sendto host port message` (src/cli/quick-*.ts)
  const QUICK = ['quick-connect', 'quick-sendto'];
  const BUNDLED = [...COMMANDS, ...QUICK];
  const entryOf = (name: string): string => (QUICK.includes(name) ? 'quickMain' : 'main');

  test.each(BUNDLED)('%s: its bundle ships with a V8 code cache that this Node accepts', (name) => {
    const bundle = `dist/bundle/${name}.cjs`;
    expect(files).toEqual(expect.arrayContaining([bundle, `${bundle}.cache`]));
    const probe = [
      "const { readFileSync } = require('node:fs');",
      "const { loadBundle } = require('./bin/sockit.js');",
      `const file = require('node:path').resolve(${JSON.stringify(bundle)});`,
      "const { script, exports } = loadBundle(file, readFileSync(file + '.cache'));",
      `console.log(script.cachedDataRejected, typeof exports.${entryOf(name)});`,
    ].join('\n');
    const out = execFileSync('node', ['-e', probe], { cwd: ROOT }).toString();
    expect(out).toBe('false function\n');
  });

  test('a bundle is pure ASCII (one byte a character in V8), and nothing else ships in dist/bundle/', () => {
    expect(files.filter((f) => f.startsWith('dist/bundle/')).sort()).toEqual(
      BUNDLED.flatMap((name) => [
        `dist/bundle/${name}.cjs`,
        `dist/bundle/${name}.cjs.cache`,
      ]).sort(),
    );
    for (const name of BUNDLED) {
      const bytes = readFileSync(join(ROOT, `dist/bundle/${name}.cjs`));
      expect(bytes.findIndex((b) => b > 0x7f)).toBe(-1);
    }
  });

  test('--version answers without the bundle, as commander would', () => {
    const out = execFileSync('node', [join(ROOT, 'bin/sockit.js'), '--version']).toString();
    expect(out).toBe(`${PKG.version}\n`);
  });
});
