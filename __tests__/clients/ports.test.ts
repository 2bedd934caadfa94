import { describe, expect, test } from '@jest/globals';
import {
  BUILTIN_SERVICES,
  lookupService,
  parsePortSpec,
  parseServicesFile,
} from '../../src/clients/ports.js';
import { UsageError } from '../../src/net/errors.js';

describe('parsePortSpec', () => {
  test('single ports, ranges and lists, sorted and without duplicates', () => {
    expect(parsePortSpec('22')).toEqual([22]);
    expect(parsePortSpec('20-25')).toEqual([20, 21, 22, 23, 24, 25]);
    expect(parsePortSpec('8001-8003,22,80,22')).toEqual([22, 80, 8001, 8002, 8003]);
    expect(parsePortSpec(' 1 , 65535 ')).toEqual([1, 65535]);
    expect(parsePortSpec('1-65535')).toHaveLength(65535);
  });

  test('service names, alone, in lists, and names that contain a hyphen', () => {
    expect(parsePortSpec('http')).toEqual([80]);
    expect(parsePortSpec('ssh,https,8080')).toEqual([22, 443, 8080]);
    expect(parsePortSpec('HTTP')).toEqual([80]);
    expect(parsePortSpec('ms-sql-s')).toEqual([1433]);
  });

  test.each([
    ['0', /0 is out of range 1-65535/],
    ['65536', /out of range/],
    ['25-20', /range 25-20 is reversed/],
    ['22,,80', /empty item/],
    ['', /empty item/],
    ['no-such-service-xyz', /neither a port number nor a known tcp service/],
    ['1-2-3', /neither a port number/],
    ['-5', /neither a port number/],
  ])('%j is rejected as bad usage', (spec, message) => {
    expect(() => parsePortSpec(spec)).toThrow(UsageError);
    expect(() => parsePortSpec(spec)).toThrow(message);
  });

  test('port 0 only when allowed', () => {
    expect(parsePortSpec('0-2', { allowZero: true })).toEqual([0, 1, 2]);
  });
});

describe('service names', () => {
  test('/etc/services text: names and aliases, per protocol, comments ignored', () => {
    const text = [
      '# comment',
      'http\t\t80/tcp\t\twww\t\t# WorldWideWeb HTTP',
      'domain\t\t53/udp',
      'syslog\t\t514/udp',
      'shell\t\t514/tcp\t\tcmd',
      '',
    ].join('\n');
    const tcp = parseServicesFile(text, 'tcp');
    expect(tcp.get('http')).toBe(80);
    expect(tcp.get('www')).toBe(80);
    expect(tcp.get('cmd')).toBe(514);
    expect(tcp.has('domain')).toBe(false);
    expect(parseServicesFile(text, 'udp').get('syslog')).toBe(514);
  });

  test('lookup falls back to the built-in table', () => {
    expect(lookupService('redis')).toBe(BUILTIN_SERVICES.redis);
    expect(lookupService('definitely-not-a-service')).toBeUndefined();
  });
});
