/**
 * The shape of src/: layers import only downwards (cli → clients/handlers → engine → net),
 * there is no import cycle anywhere, and error codes come from the one catalogue.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from '@jest/globals';
import ts from 'typescript';

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

/**
 * Module specifiers a file imports at run time: `import type …`, `export type …` and
 * imports whose every name is a `type` are erased by the compiler and left out.
 */
function runtimeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const statics = [
    ...text.matchAll(/^(import|export)\s+(type\s+)?([^'";]*?)\s*from\s+['"]([^'"]+)['"]/gms),
  ]
    .filter(([, , typeOnly, names]) => {
      if (typeOnly) return false;
      const list = /\{([^}]*)\}/.exec(names ?? '')?.[1];
      const bare = (names ?? '').replace(/\{[^}]*\}/, '').replace(/[,\s]/g, '');
      if (list === undefined || bare !== '') return true;
      const items = list
        .split(',')
        .map((n) => n.trim())
        .filter(Boolean);
      return items.length === 0 || !items.every((n) => n.startsWith('type '));
    })
    .map((m) => m[4]!);
  const dynamic = [...text.matchAll(/import\s*\(\s*['"]([^'"]+)['"]/g)].map((m) => m[1]!);
  const bare = [...text.matchAll(/^import\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
  return [...statics, ...dynamic, ...bare];
}

/** Relative imports of a file as absolute `.ts` paths under src/ (all, or run-time ones only). */
function localImports(file: string, runtimeOnly = false): string[] {
  return (runtimeOnly ? runtimeImports(file) : imports(file))
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
  net: ['unix-dgram', '@peculiar/x509', 'reflect-metadata'],
  cli: ['commander', 'chalk', 'ora'],
};

const ALL = files(SRC);

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

  // Type-only imports are erased: a handler's `server` may be typed as the server class.
  test('there is no run-time import cycle in src/', () => {
    const graph = new Map(
      ALL.map((f) => [f, localImports(f, true).filter((t) => ALL.includes(t))]),
    );
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
    expect(cycles).toEqual([]);
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

/** The files that may name a concurrency mode in a test: the strategies themselves. */
const STRATEGY_FILES = [
  'engine/modes.ts',
  'engine/strategy.ts',
  'engine/strategies.ts',
  'engine/pooled.ts',
  'engine/threading.ts',
  'engine/forking.ts',
];

describe('one engine, one way', () => {
  test('no mode string is tested outside the strategy files', () => {
    const test =
      /(===|!==|case)\s*'(async|sequential|threading|forking)'|'(async|sequential|threading|forking)'\s*(===|!==)/;
    const bad = ALL.filter((f) => !STRATEGY_FILES.includes(relative(SRC, f))).flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .flatMap((line, i) =>
          test.test(line) ? [`${relative(SRC, f)}:${i + 1}: ${line.trim()}`] : [],
        ),
    );
    expect(bad).toEqual([]);
  });

  test('no file in src/ is longer than 400 lines', () => {
    const long = ALL.map(
      (f) => [relative(SRC, f), readFileSync(f, 'utf8').split('\n').length] as const,
    )
      .filter(([, n]) => n > 400)
      .map(([f, n]) => `${f}: ${n} lines`);
    expect(long).toEqual([]);
  });

  test('no function in src/ is longer than 60 lines', () => {
    const long: string[] = [];
    for (const f of ALL) {
      const text = readFileSync(f, 'utf8');
      const source = ts.createSourceFile(f, text, ts.ScriptTarget.ES2022, true);
      const visit = (node: ts.Node): void => {
        if (ts.isFunctionLike(node) && 'body' in node && node.body) {
          const start = source.getLineAndCharacterOfPosition(node.body.getStart(source)).line;
          const end = source.getLineAndCharacterOfPosition(node.body.getEnd()).line;
          if (end - start + 1 > 60) {
            const name = node.name?.getText(source) ?? '(anonymous)';
            long.push(`${relative(SRC, f)}:${start + 1}: ${name} (${end - start + 1} lines)`);
          }
        }
        ts.forEachChild(node, visit);
      };
      visit(source);
    }
    expect(long).toEqual([]);
  });
});
