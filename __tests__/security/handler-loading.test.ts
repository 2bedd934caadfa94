/**
 * Handler modules are loaded only from the path given: a relative path resolves
 * against the working directory and nowhere else (not node_modules, not NODE_PATH);
 * a bare name that is not a built-in is "unknown handler" (exit 2), never a module
 * lookup; URL-looking values are paths too. Every would-be module here writes a
 * marker file when imported, so a lookup that should not happen cannot hide.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BIN, finish, type RunResult } from '../helpers/cli.js';
import { exchange } from '../helpers/loopback.js';
import { waitForText } from '../cli/serve-helpers.js';

let root: string;
let markers: string;
const children: ChildProcessWithoutNullStreams[] = [];

/** A handler module that leaves `markers/<name>` behind when imported and replies `<name>:…`. */
function plantModule(file: string, name: string): void {
  writeFileSync(
    file,
    `import { writeFileSync } from 'node:fs';
writeFileSync(${JSON.stringify(join(markers, name))}, 'imported');
export default function handler(data) {
  return ${JSON.stringify(`${name}:`)} + data;
}
`,
  );
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'sk-load-'));
  markers = join(root, 'markers');
  mkdirSync(markers);
  // the intended module, in "work"
  mkdirSync(join(root, 'work'));
  plantModule(join(root, 'work', 'h.mjs'), 'work');
  // decoys: a package and files in node_modules, a NODE_PATH directory, a parent dir
  const other = join(root, 'other');
  mkdirSync(join(other, 'node_modules', 'evil'), { recursive: true });
  writeFileSync(
    join(other, 'node_modules', 'evil', 'package.json'),
    JSON.stringify({ name: 'evil', type: 'module', main: 'index.js' }),
  );
  plantModule(join(other, 'node_modules', 'evil', 'index.js'), 'node_modules-evil');
  plantModule(join(other, 'node_modules', 'h.mjs'), 'node_modules-h');
  plantModule(join(other, 'node_modules', 'evil.js'), 'node_modules-evil.js');
  mkdirSync(join(root, 'nodepath'));
  plantModule(join(root, 'nodepath', 'h.mjs'), 'nodepath-h');
  plantModule(join(root, 'nodepath', 'evil.js'), 'nodepath-evil.js');
  mkdirSync(join(root, 'nodepath', 'evil'));
  writeFileSync(join(root, 'nodepath', 'evil', 'package.json'), '{"type":"module"}');
  plantModule(join(root, 'nodepath', 'evil', 'index.js'), 'nodepath-evil');
  plantModule(join(root, 'h.mjs'), 'parent-h');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      const closed = once(c, 'close');
      c.kill('SIGKILL');
      await closed;
    }
  }
  for (const m of readdirSync(markers)) rmSync(join(markers, m));
});

/** Start the built CLI in `cwd` with NODE_PATH pointing at the decoys. */
function startIn(cwd: string, args: string[]): ChildProcessWithoutNullStreams {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: { ...process.env, NO_COLOR: '1', NODE_PATH: join(root, 'nodepath') },
    stdio: 'pipe',
  });
  child.stdin.end();
  children.push(child);
  return child;
}

const runIn = (cwd: string, args: string[]): Promise<RunResult> => finish(startIn(cwd, args));

describe('user handler modules come from the path given, and only from there', () => {
  test('a relative path resolves against the working directory (the control)', async () => {
    const child = startIn(join(root, 'work'), ['serve', 'tcp', '0', '-e', './h.mjs']);
    let text = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => (text += c));
    const [, port] = await waitForText(
      child,
      () => text,
      /listening on tcp:\/\/127\.0\.0\.1:(\d+)/,
    );
    expect((await exchange({ port: Number(port) }, 'hi')).toString()).toBe('work:hi');
    expect(readdirSync(markers)).toEqual(['work']);
  });

  test('the same relative path elsewhere: not found, even with decoys in node_modules and NODE_PATH', async () => {
    for (const spec of ['./h.mjs', 'h.mjs']) {
      const r = await runIn(join(root, 'other'), ['serve', 'tcp', '0', '-e', spec]);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`sockit: handler module '${spec}' not found — no such file\n`);
    }
    expect(readdirSync(markers)).toEqual([]);
  });

  test('a bare name that is not a built-in is an unknown handler: no package lookup', async () => {
    for (const spec of ['evil', 'fs', 'node:fs', 'commander', '@scope/evil']) {
      const r = await runIn(join(root, 'other'), ['serve', 'tcp', '0', '-e', spec]);
      expect(r.code).toBe(2);
      expect(r.stdout.length).toBe(0);
      expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
      if (!spec.includes('/')) expect(r.stderr).toMatch(/^sockit: unknown handler '/);
    }
    expect(readdirSync(markers)).toEqual([]);
  });

  test('a bare file name ending in .js is a file in the working directory, not a package', async () => {
    const r = await runIn(join(root, 'other'), ['serve', 'tcp', '0', '-e', 'evil.js']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("sockit: handler module 'evil.js' not found — no such file\n");
    expect(readdirSync(markers)).toEqual([]);
  });

  test('URL-looking values are paths, never fetched or evaluated', async () => {
    const url = pathToFileURL(join(root, 'work', 'h.mjs')).href;
    const specs = [
      url,
      `data:text/javascript,import('node:fs').then(f=>f.writeFileSync('${join(markers, 'data')}','x'))//.js`,
      'http://127.0.0.1:9/h.js',
      'https://example.invalid/h.mjs',
    ];
    for (const spec of specs) {
      const r = await runIn(join(root, 'other'), ['serve', 'tcp', '0', '-e', spec]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^sockit: [^\n]+\n$/);
    }
    expect(readdirSync(markers)).toEqual([]);
  });

  test('a parent-relative path goes exactly where it says', async () => {
    const child = startIn(join(root, 'work'), ['serve', 'tcp', '0', '-e', '../h.mjs']);
    let text = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => (text += c));
    const [, port] = await waitForText(
      child,
      () => text,
      /listening on tcp:\/\/127\.0\.0\.1:(\d+)/,
    );
    expect((await exchange({ port: Number(port) }, 'x')).toString()).toBe('parent-h:x');
    expect(readdirSync(markers)).toEqual(['parent-h']);
    expect(existsSync(join(markers, 'nodepath-h'))).toBe(false);
  });
});
