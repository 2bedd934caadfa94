import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from '@jest/globals';

const SRC = fileURLToPath(new URL('../src', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"]([^'"]+)['"]/g)].map(
    (m) => m[1]!,
  );
}

describe('dependency direction', () => {
  test.each(['engine', 'handlers', 'clients'])(
    '%s never imports the CLI, chalk, ora or commander',
    (layer) => {
      const bad = files(join(SRC, layer)).flatMap((f) =>
        imports(f)
          .filter((s) => /(^|\/)cli\//.test(s) || ['chalk', 'ora', 'commander'].includes(s))
          .map((s) => `${f}: ${s}`),
      );
      expect(bad).toEqual([]);
    },
  );

  test('the engine imports only node:* and its own files', () => {
    const bad = files(join(SRC, 'engine')).flatMap((f) =>
      imports(f)
        .filter((s) => !s.startsWith('node:') && !s.startsWith('./'))
        .map((s) => `${f}: ${s}`),
    );
    expect(bad).toEqual([]);
  });

  test('handlers import only the engine and node', () => {
    const bad = files(join(SRC, 'handlers')).flatMap((f) =>
      imports(f)
        .filter((s) => !s.startsWith('node:') && !s.startsWith('./') && !s.startsWith('../engine/'))
        .map((s) => `${f}: ${s}`),
    );
    expect(bad).toEqual([]);
  });

  test('index.ts does not export the CLI', () => {
    expect(imports(join(SRC, 'index.ts')).filter((s) => /(^|\/)cli\//.test(s))).toEqual([]);
  });
});
