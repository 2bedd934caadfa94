/** AccessList and CIDR parsing (verifyRequest's peer filter). */
import { describe, expect, test } from '@jest/globals';
import { AccessList, mappedIPv4, parseCidr } from '../../src/net/access.js';
import { UsageError } from '../../src/net/errors.js';

describe('parseCidr', () => {
  test.each([
    ['10.0.0.0/8', { address: '10.0.0.0', prefix: 8, family: 'ipv4' }],
    ['192.168.1.7', { address: '192.168.1.7', prefix: 32, family: 'ipv4' }],
    [' 127.0.0.0/8 ', { address: '127.0.0.0', prefix: 8, family: 'ipv4' }],
    ['::1', { address: '::1', prefix: 128, family: 'ipv6' }],
    ['fe80::/10', { address: 'fe80::', prefix: 10, family: 'ipv6' }],
    ['[2001:db8::]/32', { address: '2001:db8::', prefix: 32, family: 'ipv6' }],
    ['::ffff:10.0.0.0/104', { address: '10.0.0.0', prefix: 8, family: 'ipv4' }],
    ['::ffff:127.0.0.1', { address: '127.0.0.1', prefix: 32, family: 'ipv4' }],
    ['0.0.0.0/0', { address: '0.0.0.0', prefix: 0, family: 'ipv4' }],
  ])('%s', (text, want) => {
    expect(parseCidr(text)).toEqual(want);
  });

  test.each([
    ['', 'not an IPv4 or IPv6 address'],
    ['localhost', 'not an IPv4 or IPv6 address'],
    ['10.0.0.256/8', 'not an IPv4 or IPv6 address'],
    ['10.0.0.0/', 'prefix length must be a number 0-32'],
    ['10.0.0.0/-1', 'prefix length must be a number 0-32'],
    ['10.0.0.0/8x', 'prefix length must be a number 0-32'],
    ['10.0.0.0/33', 'prefix length must be 0-32'],
    ['::/129', 'prefix length must be 0-128'],
    ['::1/1234', 'prefix length must be a number 0-128'],
  ])('a bad CIDR %p is a UsageError (%s)', (text, why) => {
    let err: unknown;
    try {
      parseCidr(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect(err).toMatchObject({
      code: 'SOCKIT_ERR_USAGE',
      exitCode: 2,
      message: `invalid CIDR '${text}' — ${why}`,
    });
  });
});

describe('mappedIPv4', () => {
  test('extracts the IPv4 part of an IPv4-mapped IPv6 address only', () => {
    expect(mappedIPv4('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(mappedIPv4('::FFFF:10.1.2.3')).toBe('10.1.2.3');
    expect(mappedIPv4('::1')).toBeUndefined();
    expect(mappedIPv4('127.0.0.1')).toBeUndefined();
    expect(mappedIPv4('::ffff:999.0.0.1')).toBeUndefined();
  });
});

describe('AccessList', () => {
  test('with no rules everything passes (and non-addresses never do)', () => {
    const all = new AccessList();
    expect(all.check('127.0.0.1')).toBe(true);
    expect(all.check('::1')).toBe(true);
    expect(all.check('not-an-ip')).toBe(false);
  });

  test('IPv4 CIDRs: allow lists admit only their ranges', () => {
    const list = new AccessList(['10.0.0.0/8', '192.168.1.0/24']);
    expect(list.check('10.255.3.4')).toBe(true);
    expect(list.check('192.168.1.200')).toBe(true);
    expect(list.check('192.168.2.1')).toBe(false);
    expect(list.check('127.0.0.1')).toBe(false);
  });

  test('IPv6 CIDRs', () => {
    const list = new AccessList(['2001:db8::/32', '::1']);
    expect(list.check('2001:db8:1::5')).toBe(true);
    expect(list.check('::1')).toBe(true);
    expect(list.check('2001:db9::1')).toBe(false);
    expect(list.check('127.0.0.1')).toBe(false);
  });

  test('an IPv4-mapped peer (::ffff:127.0.0.1) is matched as IPv4', () => {
    const allow = new AccessList(['127.0.0.0/8']);
    expect(allow.check('::ffff:127.0.0.1')).toBe(true);
    expect(allow.check('::ffff:10.0.0.1')).toBe(false);
    const deny = new AccessList([], ['127.0.0.1']);
    expect(deny.check('::ffff:127.0.0.1')).toBe(false);
    // A rule written in mapped form matches plain IPv4 peers too.
    expect(new AccessList(['::ffff:127.0.0.1']).check('127.0.0.1')).toBe(true);
  });

  test('deny wins over allow', () => {
    const list = new AccessList(['10.0.0.0/8'], ['10.1.0.0/16']);
    expect(list.check('10.2.0.1')).toBe(true);
    expect(list.check('10.1.0.1')).toBe(false);
    const v6 = new AccessList(['::/0'], ['::1']);
    expect(v6.check('::2')).toBe(true);
    expect(v6.check('::1')).toBe(false);
  });

  test('deny-only lists admit everything else', () => {
    const list = new AccessList([], ['192.168.0.0/16']);
    expect(list.check('192.168.5.5')).toBe(false);
    expect(list.check('8.8.8.8')).toBe(true);
    expect(list.check('::1')).toBe(true);
  });

  test('a CIDR with host bits set still covers its network', () => {
    expect(new AccessList(['10.1.2.3/8']).check('10.200.0.1')).toBe(true);
  });

  test('a bad CIDR in either list throws a UsageError at construction', () => {
    expect(() => new AccessList(['10.0.0.0/8', 'bogus'])).toThrow(UsageError);
    expect(() => new AccessList([], ['1.2.3.4/40'])).toThrow(UsageError);
  });

  test('keeps the rules as given', () => {
    const list = new AccessList(['10.0.0.0/8'], ['10.1.0.0/16']);
    expect(list.allow).toEqual(['10.0.0.0/8']);
    expect(list.deny).toEqual(['10.1.0.0/16']);
  });
});
