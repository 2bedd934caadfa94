/**
 * The shape of src/: layers import only downwards (cli → clients/handlers → engine → net),
 * there is no import cycle anywhere, and error codes come from the one catalogue.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from '@jest/globals';

const SRC = fileURLToPath(new URL('../src', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Module specifiers a file imports (static, dynamic and type-only alike). */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"]([^'"]+)['"]/g)].map(
    (m) => m[1]!,
  );
}

/** Relative imports of a file as absolute `.ts` paths under src/. */
function localImports(file: string): string[] {
  return imports(file)
    .filter((s) => s.startsWith('.'))
    .map((s) => resolve(dirname(file), s).replace(/\.js$/, '.ts'));
}

/** The layer (top folder under src/) of a file, or '' for src/index.ts. */
function layerOf(file: string): string {
  const rel = relative(SRC, file);
  return rel.includes('/') ? rel.split('/')[0]! : '';
}

/** Which layers each layer may import (besides itself). */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  net: [],
  engine: ['net'],
  handlers: ['engine', 'net'],
  clients: ['net'],
  cli: ['clients', 'handlers', 'engine', 'net'],
  '': ['net', 'engine', 'handlers', 'clients'],
};

/** Packages a layer may import (besides node:*). */
const PACKAGES: Readonly<Record<string, readonly string[]>> = {
  net: ['unix-dgram'],
  cli: ['commander', 'chalk', 'ora'],
};

const ALL = files(SRC);

/** Cycles that exist today and are being removed; nothing may join this list. */
const KNOWN_CYCLES: readonly string[] = [
  'engine/base-server.ts → engine/request-handler.ts → engine/base-server.ts',
  'engine/base-server.ts → engine/concurrency.ts → engine/base-server.ts',
  'engine/base-server.ts → engine/concurrency.ts → engine/thread-pool.ts → engine/base-server.ts',
  'engine/concurrency.ts → engine/thread-pool.ts → engine/concurrency.ts',
  'engine/base-server.ts → engine/concurrency.ts → engine/fork-pool.ts → engine/base-server.ts',
  'engine/concurrency.ts → engine/fork-pool.ts → engine/concurrency.ts',
];

describe('dependency direction', () => {
  test.each(Object.keys(ALLOWED).filter((l) => l !== ''))(
    '%s imports only the layers below it',
    (layer) => {
      const bad = ALL.filter((f) => layerOf(f) === layer).flatMap((f) =>
        localImports(f)
          .filter((target) => {
            const to = layerOf(target);
            return to !== layer && !ALLOWED[layer]!.includes(to);
          })
          .map((target) => `${relative(SRC, f)} → ${relative(SRC, target)}`),
      );
      expect(bad).toEqual([]);
    },
  );

  test.each(Object.keys(ALLOWED))('%s imports only node:* and its own packages', (layer) => {
    const bad = ALL.filter((f) => layerOf(f) === layer).flatMap((f) =>
      imports(f)
        .filter((s) => !s.startsWith('.') && !s.startsWith('node:'))
        .filter((s) => !(PACKAGES[layer] ?? []).includes(s))
        .map((s) => `${relative(SRC, f)}: ${s}`),
    );
    expect(bad).toEqual([]);
  });

  test('there is no import cycle in src/', () => {
    const graph = new Map(ALL.map((f) => [f, localImports(f).filter((t) => ALL.includes(t))]));
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (f: string): void => {
      state.set(f, 'open');
      stack.push(f);
      for (const t of graph.get(f) ?? []) {
        if (state.get(t) === 'open') {
          cycles.push(
            [...stack.slice(stack.indexOf(t)), t].map((p) => relative(SRC, p)).join(' → '),
          );
        } else if (!state.has(t)) visit(t);
      }
      stack.pop();
      state.set(f, 'done');
    };
    for (const f of ALL) if (!state.has(f)) visit(f);
    // A ratchet while the concurrency strategies move out of base-server.ts: no new cycle.
    expect(cycles.filter((c) => !KNOWN_CYCLES.includes(c))).toEqual([]);
  });
});

describe('one catalogue', () => {
  test('SOCKIT_ERR_* codes are spelled only in net/errors.ts', () => {
    const bad = ALL.filter((f) => relative(SRC, f) !== 'net/errors.ts').flatMap((f) =>
      [...readFileSync(f, 'utf8').matchAll(/['"`]SOCKIT_ERR_[A-Z_]*/g)].map(
        (m) => `${relative(SRC, f)}: ${m[0]}`,
      ),
    );
    expect(bad).toEqual([]);
  });
});
