/** Error classes: stable codes and exit codes. */
import { describe, expect, test } from '@jest/globals';
import {
  AlreadyListeningError,
  EXIT,
  MissingAddonError,
  NetworkError,
  SockitError,
  UnsupportedError,
  UsageError,
  errnoName,
  oneLine,
} from '../../src/net/errors.js';

describe('error classes', () => {
  test('UsageError: exit 2, SOCKIT_ERR_USAGE by default', () => {
    const e = new UsageError('bad port');
    expect(e).toBeInstanceOf(SockitError);
    expect(e).toBeInstanceOf(Error);
    expect(e).toMatchObject({
      name: 'UsageError',
      code: 'SOCKIT_ERR_USAGE',
      exitCode: EXIT.USAGE,
      message: 'bad port',
    });
    expect(new UsageError('x', 'SOCKIT_ERR_X').code).toBe('SOCKIT_ERR_X');
  });

  test('NetworkError: exit 1, keeps the cause and its errno name', () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), {
      code: 'ECONNREFUSED',
    });
    const e = new NetworkError('connection refused', cause);
    expect(e).toMatchObject({
      name: 'NetworkError',
      code: 'SOCKIT_ERR_NETWORK',
      exitCode: EXIT.FAILURE,
      errno: 'ECONNREFUSED',
    });
    expect(e.cause).toBe(cause);
    expect(new NetworkError('no cause').errno).toBeUndefined();
  });

  test('UnsupportedError and AlreadyListeningError', () => {
    expect(new UnsupportedError('no')).toMatchObject({
      name: 'UnsupportedError',
      code: 'SOCKIT_ERR_UNSUPPORTED',
      exitCode: 2,
    });
    expect(new AlreadyListeningError()).toMatchObject({
      name: 'AlreadyListeningError',
      code: 'SOCKIT_ERR_ALREADY_LISTENING',
      message: 'server is already listening',
    });
  });

  test('MissingAddonError: exit 1, SOCKIT_ERR_MISSING_ADDON, keeps the cause', () => {
    const cause = Object.assign(new Error("Cannot find module 'unix-dgram'"), {
      code: 'MODULE_NOT_FOUND',
    });
    const e = new MissingAddonError('the addon is not installed', cause);
    expect(e).toBeInstanceOf(SockitError);
    expect(e).toMatchObject({
      name: 'MissingAddonError',
      code: 'SOCKIT_ERR_MISSING_ADDON',
      exitCode: EXIT.FAILURE,
    });
    expect(e.cause).toBe(cause);
  });

  test('the stack starts at the caller, not inside the error class', () => {
    const e = new UsageError('where');
    expect(e.stack?.split('\n')[1]).not.toMatch(/errors\.ts/);
  });
});

describe('helpers', () => {
  test('errnoName reads string codes only', () => {
    expect(errnoName(Object.assign(new Error(), { code: 'EPIPE' }))).toBe('EPIPE');
    expect(errnoName(Object.assign(new Error(), { code: -32 }))).toBeUndefined();
    expect(errnoName('EPIPE')).toBeUndefined();
    expect(errnoName(null)).toBeUndefined();
  });

  test('oneLine flattens messages', () => {
    expect(oneLine(new Error('a\n  b\nc '))).toBe('a b c');
    expect(oneLine('plain')).toBe('plain');
  });
});
