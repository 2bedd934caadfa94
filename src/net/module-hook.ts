/**
 * One resolve hook: a user's handler module imports `StreamRequestHandler` from the
 * bare specifier 'sockit' while sitting outside this package; the hook maps it to
 * this package's own index, so that the classes a module extends are the very
 * classes the servers check against.
 */
import { register } from 'node:module';
import { oneLine } from './errors.js';

/** The URL of this package's library entry (`dist/index.js`), what `'sockit'` resolves to. */
export const SOCKIT_INDEX_URL = new URL('../index.js', import.meta.url).href;

/** Modules under here (the built package) import the engine relatively: they need no hook. */
const PACKAGE_URL = new URL('../', import.meta.url).href;

/** Running from the TypeScript sources (ts-jest): no hook can point 'sockit' at them. */
const FROM_SOURCES = import.meta.url.endsWith('.ts');

/**
 * The source of the resolve hook: `'sockit'` (the command's name, what handler
 * modules have always imported) and `'sockit-cli'` (the package's name on npm) →
 * {@link SOCKIT_INDEX_URL}; everything else unchanged.
 */
export function sockitResolveHook(indexUrl = SOCKIT_INDEX_URL): string {
  return `export async function resolve(specifier, context, next) {
  if (specifier === 'sockit' || specifier === 'sockit-cli') return { url: ${JSON.stringify(indexUrl)}, shortCircuit: true };
  return next(specifier, context);
}
`;
}

let registered = false;

/**
 * Make imports of the bare specifier 'sockit' resolve to this package's index from
 * any file, wherever it sits. Idempotent: returns true only for the call that
 * registered the hook. Hooks do not reach worker threads on Node 20, so a worker
 * registers it too (the loaders below do that when a module needs it).
 */
export function registerSockitSpecifier(): boolean {
  if (registered) return false;
  register(`data:text/javascript,${encodeURIComponent(sockitResolveHook())}`);
  registered = true;
  return true;
}

/**
 * Does a module at `url` need the hook? Files outside the built package do; the
 * package's own modules do not, and neither does anything while the engine runs
 * from its TypeScript sources (ts-jest), where 'sockit' could not resolve to them.
 */
export function needsSockitHook(url: string): boolean {
  return url.startsWith('file:') && !url.startsWith(PACKAGE_URL) && !FROM_SOURCES;
}

/**
 * Import a user's module (a handler, a server subclass) by URL, registering the
 * hook first when it needs one. What the import throws is the caller's to report
 * ({@link describeLoadError}).
 */
export async function importModule(url: string): Promise<Record<string, unknown>> {
  if (needsSockitHook(url)) registerSockitSpecifier();
  return (await import(url)) as Record<string, unknown>;
}

/**
 * `SyntaxError: Unexpected token '}'`: the error's name and message. Node 20 keeps
 * the location of an ES module syntax error to itself, so point at `node --check`.
 */
export function describeLoadError(err: unknown, spec: string): string {
  if (!(err instanceof Error)) return oneLine(err);
  const head = err.name && err.name !== 'Error' ? `${err.name}: ` : '';
  const hint = err.name === 'SyntaxError' ? ` (node --check ${spec} shows where)` : '';
  return `${head}${oneLine(err)}${hint}`;
}
