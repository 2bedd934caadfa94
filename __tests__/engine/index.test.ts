/** The public library API: what `import … from 'sockit'` offers (src/index.ts). */
import { describe, expect, test } from '@jest/globals';
import * as sockit from '../../src/index.js';
import { BaseServer } from '../../src/engine/base-server.js';
import { StreamServer } from '../../src/engine/stream-server.js';
import { DatagramServer } from '../../src/engine/datagram-server.js';
import {
  BaseRequestHandler,
  DatagramRequestHandler,
  StreamRequestHandler,
} from '../../src/engine/request-handler.js';
import { DatagramConnection } from '../../src/engine/datagram-connection.js';

describe('public API', () => {
  test.each([
    'BaseServer',
    'StreamServer',
    'DatagramServer',
    'TCPServer',
    'UDPServer',
    'UnixStreamServer',
    'UnixDatagramServer',
    'BaseRequestHandler',
    'StreamRequestHandler',
    'DatagramRequestHandler',
    'DatagramConnection',
    'AccessList',
    'SockitError',
    'UsageError',
    'NetworkError',
    'UnsupportedError',
    'UnixDgramSocket',
    'TLSServer',
    'TlsClient',
    'TlsError',
  ])('exports the class %s', (name) => {
    expect(typeof (sockit as Record<string, unknown>)[name]).toBe('function');
  });

  test.each([
    'functionHandler',
    'runHandler',
    'isPeerError',
    'parseCidr',
    'parsePort',
    'formatEndpoint',
    'formatUrl',
    'checkUnixPath',
    'tlsConnect',
    'tlsClientFor',
  ])('exports the function %s', (name) => {
    expect(typeof (sockit as Record<string, unknown>)[name]).toBe('function');
  });

  test('exports the constants', () => {
    expect(sockit.CONCURRENCY_MODES).toEqual(['async', 'sequential', 'threading', 'forking']);
    expect(sockit.DEFAULT_BACKLOG).toBeGreaterThanOrEqual(1024);
    expect(sockit.MAX_QUEUED_DATAGRAMS).toBeGreaterThan(0);
    expect(sockit.UNIX_PATH_MAX).toBe(107);
    expect(sockit.UNIX_DGRAM_MAX).toBe(65536);
    expect(sockit.EXIT).toEqual({
      OK: 0,
      FAILURE: 1,
      USAGE: 2,
      SIGHUP: 129,
      SIGINT: 130,
      SIGTERM: 143,
    });
  });

  test('the exports are the engine classes themselves (one class hierarchy)', () => {
    expect(sockit.BaseServer).toBe(BaseServer);
    expect(sockit.StreamRequestHandler).toBe(StreamRequestHandler);
    expect(Object.getPrototypeOf(sockit.TCPServer)).toBe(StreamServer);
    expect(Object.getPrototypeOf(sockit.UnixStreamServer)).toBe(StreamServer);
    expect(Object.getPrototypeOf(sockit.UDPServer)).toBe(DatagramServer);
    expect(Object.getPrototypeOf(sockit.UnixDatagramServer)).toBe(DatagramServer);
    expect(Object.getPrototypeOf(StreamServer)).toBe(BaseServer);
    expect(Object.getPrototypeOf(DatagramServer)).toBe(BaseServer);
    expect(Object.getPrototypeOf(StreamRequestHandler)).toBe(BaseRequestHandler);
    expect(Object.getPrototypeOf(DatagramRequestHandler)).toBe(BaseRequestHandler);
  });

  test('exports the built-in handlers (one class each) and their registry', () => {
    for (const name of [
      'EchoHandler',
      'UpperCaseHandler',
      'LowerCaseHandler',
      'ThreadedEchoHandler',
      'DiscardHandler',
      'DaytimeHandler',
      'ChargenHandler',
    ]) {
      const cls = (sockit as Record<string, unknown>)[name] as { prototype: object };
      expect(cls.prototype).toBeInstanceOf(StreamRequestHandler);
      expect(cls.prototype).not.toBeInstanceOf(DatagramRequestHandler);
      expect(`${name.replace(/Handler$/, '')}DatagramHandler` in sockit).toBe(false);
    }
    expect(sockit.DatagramConnection).toBe(DatagramConnection);
    expect(sockit.HANDLER_NAMES).toEqual(expect.arrayContaining(['echo', 'upper-case', 'upper']));
    expect(sockit.findHandler('upper')?.name).toBe('upper-case');
  });

  test('never exports the CLI', () => {
    expect(Object.keys(sockit)).not.toEqual(
      expect.arrayContaining(['main', 'buildProgram', 'makeServeCommand']),
    );
    for (const key of ['main', 'buildProgram', 'makeServeCommand']) {
      expect(key in sockit).toBe(false);
    }
  });
});
