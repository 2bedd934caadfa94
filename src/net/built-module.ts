/**
 * Where a module runs from in another thread or process. Workers load modules with
 * Node's own loader, which cannot load TypeScript: when sockit runs from its
 * sources (ts-jest, ts-node), a `src/….ts` module's built twin in `dist/` is used.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UnsupportedError } from './errors.js';

/** For a `src/….ts` source, where its built `dist/….js` is (not checked); else `url`. */
function twin(url: URL): { built: URL; rel: string } {
  if (!url.pathname.endsWith('.ts')) return { built: url, rel: url.pathname };
  const at = url.href.lastIndexOf('/src/');
  const rel = url.href.slice(at + '/src/'.length).replace(/\.ts$/, '.js');
  return { built: new URL(`${url.href.slice(0, at)}/dist/${rel}`), rel };
}

/** A class exported by the module at `here` (an `import.meta.url`), as workers import it. */
export function moduleRef(here: string, exportName: string): { url: string; exportName: string } {
  return { url: twin(new URL(here)).built.href, exportName };
}

/** `url` itself, or for a `src/….ts` source its built `dist/….js` (which must exist). */
export function builtUrl(url: URL): URL {
  if (!url.pathname.endsWith('.ts')) return url;
  const { built, rel } = twin(url);
  if (existsSync(fileURLToPath(built))) return built;
  throw new UnsupportedError(
    `${rel} not found in dist/ — sockit runs from its sources; run 'npm run build' first`,
  );
}

/** The built module `name` next to the module at `here` (an `import.meta.url`). */
export function builtSibling(name: string, here: string): URL {
  return builtUrl(new URL(`./${name}.${here.endsWith('.ts') ? 'ts' : 'js'}`, here));
}
