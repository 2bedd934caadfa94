/**
 * The one handler-module loader: what counts as a path, how an export is
 * classified (class kinds, plain functions, mistakes), the transport check,
 * loading by path (the CLI) and by module reference (workers), and the one
 * resolve hook that maps 'sockit' to this package, registered once.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Buffer } from 'node:buffer';
import {
  BaseRequestHandler,
  DatagramRequestHandler,
  StreamRequestHandler,
} from '../../src/engine/request-handler.js';
import { UsageError } from '../../src/net/errors.js';
import { loadHandlerClass } from '../../src/engine/handler-module.js';
import { SOCKIT_INDEX_URL, sockitResolveHook } from '../../src/net/module-hook.js';
import {
  checkHandlerTransport,
  classifyHandlerExport,
  isHandlerPath,
  loadHandlerModule,
} from '../../src/handlers/loader.js';
import { Teardown, tempSocketPath } from '../helpers/loopback.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/handlers/', import.meta.url));
const URL_ = 'file:///somewhere/h.js';
const DEFAULT = { url: URL_, exportName: 'default' };

const teardown = new Teardown();
afterEach(() => teardown.run());

describe('isHandlerPath', () => {
  test.each([
    ['./h.js', true],
    ['../x/h.mjs', true],
    ['/abs/h.js', true],
    ['h.js', true],
    ['dir/handler', true],
    ['echo', false],
    ['upper-case', false],
    ['threaded-echo', false],
  ])('%s → %s', (spec, expected) => {
    expect(isHandlerPath(spec)).toBe(expected);
  });
});

describe('classifyHandlerExport', () => {
  test('class kinds', () => {
    class S extends StreamRequestHandler {}
    class D extends DatagramRequestHandler {}
    class B extends BaseRequestHandler {}
    expect(classifyHandlerExport({ default: S }, 's', DEFAULT)).toMatchObject({
      kind: 'stream',
      Handler: S,
      module: { url: URL_, exportName: 'default' },
      display: 's',
    });
    expect(classifyHandlerExport({ default: D }, 'd', DEFAULT).kind).toBe('datagram');
    expect(classifyHandlerExport({ default: B }, 'b', DEFAULT).kind).toBe('base');
  });

  test('a plain function becomes a StreamRequestHandler named after it', () => {
    function reverse(data: Buffer): Buffer {
      return Buffer.from(data).reverse();
    }
    const loaded = classifyHandlerExport({ default: reverse }, './r.js', DEFAULT);
    expect(loaded.kind).toBe('function');
    expect(loaded.Handler.prototype).toBeInstanceOf(StreamRequestHandler);
    expect(loaded.Handler.name).toBe('reverse');
    const arrow = classifyHandlerExport({ default: (d: Buffer) => d }, './a.js', DEFAULT);
    expect(arrow.Handler.name).toBe('default'); // the name an anonymous default export gets
  });

  test.each([
    [{}, /has no default export — export default a handler class or a function/],
    [{ default: 42 }, /the default export is a number, not a handler class or a function/],
    [{ default: { handle() {} } }, /the default export is an object/],
    [{ default: null }, /the default export is null/],
    [{ default: class Foo {} }, /class Foo does not extend sockit's StreamRequestHandler/],
  ])('%p is refused', (ns, message) => {
    expect(() => classifyHandlerExport(ns as Record<string, unknown>, './x.js', DEFAULT)).toThrow(
      message,
    );
    try {
      classifyHandlerExport(ns as Record<string, unknown>, './x.js', DEFAULT);
    } catch (err) {
      expect(err).toBeInstanceOf(UsageError);
      expect((err as UsageError).exitCode).toBe(2);
    }
  });
});

describe('checkHandlerTransport', () => {
  class D extends DatagramRequestHandler {}
  class S extends StreamRequestHandler {}
  test('a datagram handler only on datagram servers', () => {
    const d = classifyHandlerExport({ default: D }, './d.js', DEFAULT);
    expect(() => checkHandlerTransport(d, true)).not.toThrow();
    expect(() => checkHandlerTransport(d, false)).toThrow(
      /exports a DatagramRequestHandler, which runs only on udp and unix --datagram servers/,
    );
    const s = classifyHandlerExport({ default: S }, './s.js', DEFAULT);
    expect(() => checkHandlerTransport(s, false)).not.toThrow();
    expect(() => checkHandlerTransport(s, true)).not.toThrow();
  });
});

describe('the sockit resolve hook', () => {
  test("maps 'sockit' to the index and passes everything else on", async () => {
    expect(SOCKIT_INDEX_URL).toMatch(/\/index\.js$/);
    const source = sockitResolveHook('file:///pkg/dist/index.js');
    const resolve = new Function(
      `${source.replace('export async function', 'return async function')}`,
    )() as (s: string, c: object, n: (s: string, c: object) => unknown) => Promise<unknown>;
    const next = (s: string) => ({ url: `next:${s}` });
    expect(await resolve('sockit', {}, next)).toEqual({
      url: 'file:///pkg/dist/index.js',
      shortCircuit: true,
    });
    expect(await resolve('sockit-extra', {}, next)).toEqual({ url: 'next:sockit-extra' });
    expect(await resolve('./sockit', {}, next)).toEqual({ url: 'next:./sockit' });
  });
});

describe('classifyHandlerExport with a named export (what workers ask for)', () => {
  test('the export named is used; a missing or wrong one is refused by name', () => {
    class S extends StreamRequestHandler {}
    const named = { url: URL_, exportName: 'Mine' };
    expect(classifyHandlerExport({ Mine: S }, URL_, named)).toMatchObject({
      kind: 'stream',
      Handler: S,
      module: named,
    });
    expect(() => classifyHandlerExport({ default: S }, URL_, named)).toThrow(
      `handler module '${URL_}' has no export 'Mine' — export under that name a handler class or a function (data, info) => reply`,
    );
    expect(() => classifyHandlerExport({ Mine: 'no' }, URL_, named)).toThrow(
      `handler module '${URL_}' — the export 'Mine' is a string, not a handler class or a function`,
    );
    const fn = classifyHandlerExport({ Mine: (d: Buffer) => d }, URL_, named);
    expect(fn.kind).toBe('function');
  });
});

describe('loadHandlerModule (a path, as the CLI gives it)', () => {
  test('loads a function module from the path given, relative to cwd', async () => {
    const loaded = await loadHandlerModule('./shout-function.js', FIXTURES);
    expect(loaded.kind).toBe('function');
    expect(loaded.display).toBe('./shout-function.js');
    expect(loaded.module).toEqual({
      url: pathToFileURL(`${FIXTURES}shout-function.js`).href,
      exportName: 'default',
    });
  });

  test.each([
    ['./missing.js', "handler module './missing.js' not found — no such file"],
    ['./h.cjs', "handler module './h.cjs' — must be an ES module file ending in .js or .mjs"],
    ['./no-default.mjs', 'has no default export'],
    [
      './throws-on-load.mjs',
      "cannot load handler module './throws-on-load.mjs' — missing configuration",
    ],
  ])('%s is refused with a UsageError', async (spec, message) => {
    await expect(loadHandlerModule(spec, FIXTURES)).rejects.toThrow(message);
    await expect(loadHandlerModule(spec, FIXTURES)).rejects.toMatchObject({
      name: 'UsageError',
      code: 'SOCKIT_ERR_HANDLER_MODULE',
    });
  });
});

describe('loadHandlerClass (a module reference, as workers get it)', () => {
  const SHOUT = pathToFileURL(`${FIXTURES}shout-function.js`).href;

  test('a URL or an absolute path; the default export unless another is named', async () => {
    const byUrl = await loadHandlerClass({ url: SHOUT });
    expect(byUrl.prototype).toBeInstanceOf(StreamRequestHandler);
    expect(byUrl.name).toBe('shout');
    const byPath = await loadHandlerClass({ url: `${FIXTURES}shout-function.js` });
    expect(byPath.name).toBe('shout');
    const named = await loadHandlerClass({
      url: `${FIXTURES}no-default.mjs`,
      exportName: 'handler',
    });
    expect(named.name).toBe('handler');
  });

  test.each([
    [{ url: SHOUT, exportName: 'nope' }, /has no export 'nope'/],
    [
      { url: `${FIXTURES}throws-on-load.mjs` },
      /cannot load handler module '.+' — missing configuration/,
    ],
    [{ url: `${FIXTURES}plain-class.mjs` }, /class NotAHandler does not extend sockit's/],
  ])('%p is refused with a one-line UsageError', async (mod, message) => {
    const err = (await loadHandlerClass(mod).catch((e: unknown) => e)) as UsageError;
    expect(err).toBeInstanceOf(UsageError);
    expect(err.code).toBe('SOCKIT_ERR_HANDLER_MODULE');
    expect(err.message).toMatch(message);
    expect(err.message).not.toContain('\n');
  });
});

describe('the one resolve hook, registered once (built engine, in a child process)', () => {
  test("'sockit' resolves outside the package, by path and by reference, with one register()", async () => {
    // Jest cannot register module hooks: a plain Node process runs the built loader.
    const tmp = tempSocketPath();
    teardown.add(tmp.cleanup);
    const outside = join(tmp.dir, 'outside.mjs');
    writeFileSync(
      outside,
      "import { StreamRequestHandler } from 'sockit';\nexport default class Outside extends StreamRequestHandler {}\nexport class Other extends StreamRequestHandler {}\n",
    );
    const loader = new URL('../../dist/engine/handler-module.js', import.meta.url).href;
    const hook = new URL('../../dist/net/module-hook.js', import.meta.url).href;
    const index = new URL('../../dist/index.js', import.meta.url).href;
    const byPathLoader = new URL('../../dist/handlers/loader.js', import.meta.url).href;
    const script = `
      import module from 'node:module';
      let registers = 0;
      const register = module.register;
      module.register = (...args) => { registers += 1; return register(...args); };
      module.syncBuiltinESMExports();
      const loader = await import(${JSON.stringify(loader)});
      const sockit = await import(${JSON.stringify(index)});
      const { loadHandlerModule } = await import(${JSON.stringify(byPathLoader)});
      const byPath = await loadHandlerModule('./outside.mjs', ${JSON.stringify(tmp.dir)});
      const byRef = await loader.loadHandlerClass({ url: ${JSON.stringify(pathToFileURL(outside).href)}, exportName: 'Other' });
      const builtin = await loader.loadHandlerClass({ url: ${JSON.stringify(new URL('../../dist/handlers/echo.js', import.meta.url).href)}, exportName: 'EchoHandler' });
      const again = (await import(${JSON.stringify(hook)})).registerSockitSpecifier();
      console.log(JSON.stringify({
        registers, again, kind: byPath.kind,
        path: byPath.Handler.prototype instanceof sockit.StreamRequestHandler,
        ref: byRef.prototype instanceof sockit.StreamRequestHandler,
        builtin: builtin === sockit.EchoHandler,
      }));
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c));
    child.stderr.on('data', (c: Buffer) => (err += c));
    const [code] = (await once(child, 'close')) as [number];
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(JSON.parse(out)).toEqual({
      registers: 1,
      again: false,
      kind: 'stream',
      path: true,
      ref: true,
      builtin: true,
    });
  });
});
