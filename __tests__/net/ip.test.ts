/** IP literals: the same answers as node:net's isIP, isIPv4 and isIPv6, on any string. */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import * as net from 'node:net';
import { isIP, isIPv4, isIPv6 } from '../../src/net/ip.js';

function sameAsNode(s: string): void {
  expect([s, isIP(s), isIPv4(s), isIPv6(s)]).toEqual([
    s,
    net.isIP(s),
    net.isIPv4(s),
    net.isIPv6(s),
  ]);
}

describe('isIP', () => {
  test.each([
    ['127.0.0.1', 4],
    ['0.0.0.0', 4],
    ['255.255.255.255', 4],
    ['256.1.1.1', 0],
    ['01.1.1.1', 0],
    ['1.1.1', 0],
    ['1.1.1.1.', 0],
    ['1.1.1.1.1', 0],
    [' 1.1.1.1', 0],
    ['1.1.1.1%eth0', 0],
    ['::', 6],
    ['::1', 6],
    ['::ffff:127.0.0.1', 6],
    ['fe80::1%eth0', 6],
    ['1:2:3:4:5:6:7:8', 6],
    ['1:2:3:4:5:6:7:8:9', 0],
    ['1::2::3', 0],
    ['[::1]', 0],
    ['localhost', 0],
    ['', 0],
  ])('%j is %d, as node:net says', (s, v) => {
    expect(isIP(s)).toBe(v);
    sameAsNode(s);
  });

  test('addresses, near-addresses and noise: always node:net answer', () => {
    const near = fc.oneof(fc.ipV4(), fc.ipV4Extended(), fc.ipV6(), fc.domain());
    const mangled = fc
      .tuple(near, fc.constantFrom('', '%eth0', '.1', ':', '0', ' '), fc.boolean(), fc.nat(3))
      .map(([s, tail, upper, cut]) => `${(upper ? s.toUpperCase() : s).slice(cut)}${tail}`);
    const noise = fc.string({
      unit: fc.constantFrom(...'0123456789abcdefABCDEF:.%-z'),
      maxLength: 45,
    });
    fc.assert(
      fc.property(fc.oneof(near, mangled, noise), (s) => sameAsNode(s)),
      {
        numRuns: 20_000,
      },
    );
  });
});
