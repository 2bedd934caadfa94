/**
 * `npm run dev -- <args>` runs sockit from src/ through ts-node's ESM loader
 * (`node --import scripts/dev-register.mjs`, transpile only), for quick experiments:
 * a server starts, answers, and exits as it would from dist/.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { exchange } from '../helpers/loopback.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PKG = JSON.parse(readFileSync(`${ROOT}/package.json`, 'utf8')) as {
  scripts: Record<string, string>;
};

let child: ChildProcess | undefined;
afterEach(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    process.kill(-child.pid!, 'SIGKILL'); // npm, its shell and node: the whole group
    await once(child, 'close');
  }
});

describe('npm run dev', () => {
  test('runs src/ through ts-node/esm, registered with node --import, transpile only', () => {
    expect(PKG.scripts.dev).toBe('node --import ./scripts/dev-register.mjs scripts/dev.ts');
    const register = readFileSync(`${ROOT}/scripts/dev-register.mjs`, 'utf8');
    expect(register).toContain("register('ts-node/esm'");
    expect(register).toContain("process.env.TS_NODE_TRANSPILE_ONLY ??= '1'");
    expect(readFileSync(`${ROOT}/scripts/dev.ts`, 'utf8')).toContain("'../src/cli/main.js'");
  });

  test('-- serve tcp 0 --once: starts, answers one client, exits 0', async () => {
    child = spawn('npm', ['run', '--silent', 'dev', '--', 'serve', 'tcp', '0', '--once'], {
      cwd: ROOT,
      detached: true,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const closed = once(child, 'close');
    let stderr = '';
    let stdout = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    const port = await new Promise<number>((resolve, reject) => {
      child!.stderr!.on('data', (c: Buffer) => {
        stderr += c.toString();
        const m = /^listening on tcp:\/\/127\.0\.0\.1:(\d+)$/m.exec(stderr);
        if (m) resolve(Number(m[1]));
      });
      void closed.then(() => reject(new Error(`npm run dev exited before listening: ${stderr}`)));
    });
    expect((await exchange({ port }, 'from src\n')).toString()).toBe('from src\n');
    const [code] = (await closed) as [number | null];
    expect(code).toBe(0);
    expect(stdout).toBe('');
  }, 90_000);
});
