/** Addresses: ports, hosts, unix paths and the banner form. */
import { describe, expect, test } from '@jest/globals';
import {
  checkUnixPath,
  familyOf,
  formatEndpoint,
  formatUrl,
  inetAddress,
  parsePort,
  unbracket,
  UNIX_PATH_MAX,
} from '../../src/net/address.js';
import { UsageError } from '../../src/net/errors.js';

describe('parsePort', () => {
  test.each([
    ['0', 0],
    ['80', 80],
    [' 8080 ', 8080],
    ['65535', 65535],
    [443, 443],
  ] as const)('%p → %p', (text, port) => {
    expect(parsePort(text)).toBe(port);
  });

  test.each([
    ['', 'not a number'],
    ['-1', 'not a number'],
    ['1.5', 'not a number'],
    ['http', 'not a number'],
    ['65536', 'out of range 0-65535'],
    ['99999999999999999999', 'out of range 0-65535'],
  ])('%p is a UsageError (%s)', (text, why) => {
    expect(() => parsePort(text)).toThrow(UsageError);
    expect(() => parsePort(text)).toThrow(`invalid port '${text}' — ${why}`);
  });

  test('names what it parses', () => {
    expect(() => parsePort('x', 'source port')).toThrow("invalid source port 'x' — not a number");
  });
});

describe('hosts', () => {
  test('unbracket strips IPv6 brackets only', () => {
    expect(unbracket('[::1]')).toBe('::1');
    expect(unbracket('::1')).toBe('::1');
    expect(unbracket('127.0.0.1')).toBe('127.0.0.1');
  });

  test('familyOf knows literals, not names', () => {
    expect(familyOf('127.0.0.1')).toBe('IPv4');
    expect(familyOf('::1')).toBe('IPv6');
    expect(familyOf('[::1]')).toBe('IPv6');
    expect(familyOf('localhost')).toBeUndefined();
  });

  test('inetAddress takes the family from Node or from the literal', () => {
    expect(inetAddress('::1', 5, 'IPv6')).toEqual({ family: 'IPv6', address: '::1', port: 5 });
    expect(inetAddress('::1', 5, 6)).toEqual({ family: 'IPv6', address: '::1', port: 5 });
    expect(inetAddress('10.0.0.1', 5, 4)).toEqual({ family: 'IPv4', address: '10.0.0.1', port: 5 });
    expect(inetAddress('::ffff:127.0.0.1', 5)).toEqual({
      family: 'IPv6',
      address: '::ffff:127.0.0.1',
      port: 5,
    });
    expect(inetAddress('example.org', 5).family).toBe('IPv4');
  });
});

describe('formatting', () => {
  test('formatEndpoint', () => {
    expect(formatEndpoint({ family: 'IPv4', address: '127.0.0.1', port: 80 })).toBe('127.0.0.1:80');
    expect(formatEndpoint({ family: 'IPv6', address: '::1', port: 80 })).toBe('[::1]:80');
    expect(formatEndpoint({ family: 'unix', path: '/tmp/s.sock' })).toBe('/tmp/s.sock');
    expect(formatEndpoint({ family: 'unix', path: '' })).toBe('(unnamed)');
  });

  test('formatUrl is the banner form', () => {
    expect(formatUrl('tcp', { family: 'IPv4', address: '127.0.0.1', port: 9999 })).toBe(
      'tcp://127.0.0.1:9999',
    );
    expect(formatUrl('udp', { family: 'IPv6', address: '::1', port: 53 })).toBe('udp://[::1]:53');
    expect(formatUrl('unix', { family: 'unix', path: '/tmp/s.sock' })).toBe('unix:///tmp/s.sock');
    expect(formatUrl('unix-dgram', { family: 'unix', path: '/tmp/d.sock' })).toBe(
      'unix:///tmp/d.sock',
    );
  });
});

describe('checkUnixPath', () => {
  test('accepts paths up to 107 bytes', () => {
    const p = `/tmp/${'a'.repeat(UNIX_PATH_MAX - 5)}`;
    expect(Buffer.byteLength(p)).toBe(107);
    expect(checkUnixPath(p)).toBe(p);
  });

  test('rejects longer paths (counting bytes, not characters), empty ones and NULs', () => {
    const multi = `/tmp/${'é'.repeat(52)}`; // 5 + 104 bytes
    expect(() => checkUnixPath(multi)).toThrow(
      expect.objectContaining({ code: 'SOCKIT_ERR_PATH_TOO_LONG', exitCode: 2 }),
    );
    expect(() => checkUnixPath(multi)).toThrow(
      `unix socket path too long — 109 bytes, the limit is 107: ${multi}`,
    );
    expect(() => checkUnixPath('')).toThrow('invalid unix socket path — empty');
    expect(() => checkUnixPath('/tmp/a\0b')).toThrow(
      'invalid unix socket path — contains a NUL byte',
    );
  });
});
