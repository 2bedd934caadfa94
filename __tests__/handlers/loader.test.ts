/**
 * The handler-module loader: what counts as a path, how a default export is
 * classified (class kinds, plain functions, mistakes), the transport check, and
 * the resolve hook that maps 'sockit' to this package.
 */
import { describe, expect, test } from '@jest/globals';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Buffer } from 'node:buffer';
import {
  BaseRequestHandler,
  DatagramRequestHandler,
  StreamRequestHandler,
} from '../../src/engine/request-handler.js';
import { UsageError } from '../../src/net/errors.js';
import {
  SOCKIT_INDEX_URL,
  checkHandlerTransport,
  classifyHandlerExport,
  isHandlerPath,
  loadHandlerModule,
  sockitResolveHook,
} from '../../src/handlers/loader.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/handlers/', import.meta.url));
const URL_ = 'file:///somewhere/h.js';

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
    expect(classifyHandlerExport({ default: S }, 's', URL_)).toMatchObject({
      kind: 'stream',
      Handler: S,
      module: { url: URL_, exportName: 'default' },
      display: 's',
    });
    expect(classifyHandlerExport({ default: D }, 'd', URL_).kind).toBe('datagram');
    expect(classifyHandlerExport({ default: B }, 'b', URL_).kind).toBe('base');
  });

  test('a plain function becomes a StreamRequestHandler named after it', () => {
    function reverse(data: Buffer): Buffer {
      return Buffer.from(data).reverse();
    }
    const loaded = classifyHandlerExport({ default: reverse }, './r.js', URL_);
    expect(loaded.kind).toBe('function');
    expect(loaded.Handler.prototype).toBeInstanceOf(StreamRequestHandler);
    expect(loaded.Handler.name).toBe('reverse');
    const arrow = classifyHandlerExport({ default: (d: Buffer) => d }, './a.js', URL_);
    expect(arrow.Handler.name).toBe('default'); // the name an anonymous default export gets
  });

  test.each([
    [{}, /has no default export — export default a handler class or a function/],
    [{ default: 42 }, /the default export is a number, not a handler class or a function/],
    [{ default: { handle() {} } }, /the default export is an object/],
    [{ default: null }, /the default export is null/],
    [{ default: class Foo {} }, /class Foo does not extend sockit's StreamRequestHandler/],
  ])('%p is refused', (ns, message) => {
    expect(() => classifyHandlerExport(ns as Record<string, unknown>, './x.js', URL_)).toThrow(
      message,
    );
    try {
      classifyHandlerExport(ns as Record<string, unknown>, './x.js', URL_);
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
    const d = classifyHandlerExport({ default: D }, './d.js', URL_);
    expect(() => checkHandlerTransport(d, true)).not.toThrow();
    expect(() => checkHandlerTransport(d, false)).toThrow(
      /exports a DatagramRequestHandler, which runs only on udp and unix --datagram servers/,
    );
    const s = classifyHandlerExport({ default: S }, './s.js', URL_);
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

describe('loadHandlerModule', () => {
  // Jest cannot register module hooks; these fixtures do not import 'sockit'
  // (the black-box tests cover the hook).
  const noHook = { sockitHook: false };

  test('loads a function module from the path given, relative to cwd', async () => {
    const loaded = await loadHandlerModule('./shout-function.js', FIXTURES, noHook);
    expect(loaded.kind).toBe('function');
    expect(loaded.display).toBe('./shout-function.js');
    expect(loaded.module.url).toBe(pathToFileURL(`${FIXTURES}shout-function.js`).href);
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
    await expect(loadHandlerModule(spec, FIXTURES, noHook)).rejects.toThrow(message);
    await expect(loadHandlerModule(spec, FIXTURES, noHook)).rejects.toBeInstanceOf(UsageError);
  });
});
