/**
 * Property-based tests (fast-check) of every parser that turns user input into a
 * value: ports, port specs (`connect -z`), service names, CIDRs (`--allow`), hex
 * (`sendto --hex-input`), durations (`--timeout`, `-w`), counts, file modes, hosts
 * and unix paths. Each either returns a value that is right by an independent
 * model, or throws the error the CLI turns into one `sockit: …` line and exit 2;
 * never anything else.
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { isIP } from 'node:net';
import { Buffer } from 'node:buffer';
import { InvalidArgumentError } from 'commander';
import { checkUnixPath, parsePort, UNIX_PATH_MAX } from '../../src/net/address.js';
import { AccessList, mappedIPv4, parseCidr } from '../../src/net/access.js';
import { UsageError } from '../../src/net/errors.js';
import { countArg, hostArg, intervalArg, parseDuration, portArg } from '../../src/cli/options.js';
import { checkedHost, destinationPort } from '../../src/cli/client-args.js';
import { parseHex } from '../../src/cli/client-output.js';
import { octalModeArg } from '../../src/cli/commands/serve.js';
import { safeLine } from '../../src/net/terminal.js';
import { BUILTIN_SERVICES, lookupService, parsePortSpec } from '../../src/clients/ports.js';

const RUNS = { numRuns: 500 };

/** What a parser did with one input: a value, or the kind of error it threw. */
function outcome<T>(fn: () => T): { value: T } | { error: unknown } {
  try {
    return { value: fn() };
  } catch (error) {
    return { error };
  }
}

/** Strings made of characters that parsers care about, plus anything at all. */
const noisy = (alphabet: string): fc.Arbitrary<string> =>
  fc.oneof(
    fc.string({ unit: fc.constantFrom(...alphabet.split('')), maxLength: 24 }),
    fc.string({ maxLength: 24 }),
    fc.string({ unit: 'binary', maxLength: 24 }),
  );

/** Names that are properties of every object: never a service, handler or anything. */
const PROTO_NAMES = ['constructor', '__proto__', 'toString', 'valueOf', 'hasOwnProperty'];

describe('ports (serve [port], -p, --source-port)', () => {
  test('every whole number 0-65535 is itself, whitespace and leading zeros aside', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 65535 }), fc.nat(3), fc.nat(2), (n, zeros, pad) => {
        const text = `${' '.repeat(pad)}${'0'.repeat(zeros)}${n}${' '.repeat(pad)}`;
        expect(parsePort(text)).toBe(n);
        expect(portArg(text)).toBe(n);
      }),
      RUNS,
    );
  });

  test('numbers above 65535, however long, are refused', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 65536 }), fc.bigInt({ min: 10n ** 15n })), (n) => {
        expect(() => parsePort(String(n))).toThrow(UsageError);
        expect(() => portArg(String(n))).toThrow(InvalidArgumentError);
      }),
      RUNS,
    );
  });

  test('anything else is refused with a UsageError, never a bad number', () => {
    fc.assert(
      fc.property(noisy('0123456789-+.eExX_ ,'), (text) => {
        const r = outcome(() => parsePort(text));
        if ('value' in r) {
          expect(text.trim()).toMatch(/^[0-9]+$/);
          expect(Number.isInteger(r.value) && r.value >= 0 && r.value <= 65535).toBe(true);
        } else {
          expect(r.error).toBeInstanceOf(UsageError);
        }
      }),
      RUNS,
    );
  });
});

describe('destination ports (connect, send, sendto): numbers 1-65535 or service names', () => {
  test('numbers map to themselves; 0 and above 65535 are refused', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 200_000 }), async (n) => {
        const r = await destinationPort(String(n)).then(
          (value) => ({ value }),
          (error: unknown) => ({ error }),
        );
        if (n >= 1 && n <= 65535) expect(r).toEqual({ value: n });
        else expect((r as { error: unknown }).error).toBeInstanceOf(UsageError);
      }),
      RUNS,
    );
  });

  test('any string: a port 1-65535 (a number or a known service) or a UsageError', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(noisy('abcdhpst-_0123456789'), fc.constantFrom(...PROTO_NAMES)),
        async (text) => {
          const r = await destinationPort(text).then(
            (value) => ({ value }),
            (error: unknown) => ({ error }),
          );
          if ('value' in r) {
            expect(Number.isInteger(r.value) && r.value >= 1 && r.value <= 65535).toBe(true);
            if (!/^\s*\d+\s*$/.test(text)) expect(lookupService(text)).toBe(r.value);
          } else {
            expect(r.error).toBeInstanceOf(UsageError);
          }
        },
      ),
      RUNS,
    );
  });

  test('the properties of every JS object are not services', async () => {
    for (const name of PROTO_NAMES) {
      expect(lookupService(name)).toBeUndefined();
      expect(lookupService(name, 'udp')).toBeUndefined();
      await expect(destinationPort(name)).rejects.toThrow(UsageError);
      expect(() => parsePortSpec(name)).toThrow(UsageError);
    }
    expect(lookupService('http')).toBe(80);
    expect(Object.keys(BUILTIN_SERVICES).every((n) => lookupService(n) !== undefined)).toBe(true);
  });
});

describe('port specs (connect -z)', () => {
  const item = fc.oneof(
    fc.integer({ min: 1, max: 65535 }).map((p) => ({ text: String(p), ports: [p] })),
    fc
      .tuple(fc.integer({ min: 1, max: 65535 }), fc.nat(300))
      .map(([lo, span]) => [lo, Math.min(65535, lo + span)] as const)
      .map(([lo, hi]) => ({
        text: `${lo}-${hi}`,
        ports: Array.from({ length: hi - lo + 1 }, (_, i) => lo + i),
      })),
  );
  const spaced = (text: string, pad: number): string =>
    `${' '.repeat(pad)}${text}${' '.repeat(pad)}`;

  test('lists of ports and ranges give the sorted union, each port once', () => {
    fc.assert(
      fc.property(fc.array(item, { minLength: 1, maxLength: 8 }), fc.nat(1), (items, pad) => {
        const spec = items.map((i) => spaced(i.text, pad)).join(',');
        const expected = [...new Set(items.flatMap((i) => i.ports))].sort((a, b) => a - b);
        expect(parsePortSpec(spec)).toEqual(expected);
      }),
      RUNS,
    );
  });

  test('one bad item among good ones spoils the spec: a UsageError', () => {
    const bad = fc.oneof(
      fc
        .tuple(fc.integer({ min: 2, max: 65535 }), fc.integer({ min: 1, max: 65535 }))
        .filter(([a, b]) => a > b)
        .map(([a, b]) => `${a}-${b}`), // reversed
      fc.integer({ min: 65536, max: 10_000_000 }).map(String), // out of range
      fc.constant('0'), // nothing can be probed on port 0
      fc.constant(''), // empty item
      fc.integer({ min: 1, max: 65535 }).map((p) => `${p}-`), // open range
      fc.integer({ min: 1, max: 65535 }).map((p) => `${p}--${p}`),
      fc.integer({ min: 1, max: 65535 }).map((p) => `-${p}`),
      fc.stringMatching(/^[a-z]{0,5}[!%~@$*][a-z0-9]{0,5}$/), // never a service name
      fc.constantFrom(...PROTO_NAMES),
    );
    fc.assert(
      fc.property(fc.array(item, { maxLength: 4 }), bad, fc.nat(4), (good, badItem, where) => {
        const texts = good.map((i) => i.text);
        texts.splice(where % (texts.length + 1), 0, badItem);
        expect(() => parsePortSpec(texts.join(','))).toThrow(UsageError);
      }),
      RUNS,
    );
  });

  test('any string: sorted unique ports 1-65535, or a UsageError', () => {
    fc.assert(
      fc.property(noisy('0123456789-, htpsx'), (spec) => {
        const r = outcome(() => parsePortSpec(spec));
        if ('error' in r) {
          expect(r.error).toBeInstanceOf(UsageError);
          return;
        }
        expect(r.value.length).toBeGreaterThan(0);
        for (let i = 0; i < r.value.length; i += 1) {
          const p = r.value[i]!;
          expect(Number.isInteger(p) && p >= 1 && p <= 65535).toBe(true);
          if (i > 0) expect(p).toBeGreaterThan(r.value[i - 1]!);
        }
      }),
      RUNS,
    );
  });

  test('allowZero lets port 0 in, and only then', () => {
    expect(parsePortSpec('0,1', { allowZero: true })).toEqual([0, 1]);
    expect(() => parsePortSpec('0-1')).toThrow(UsageError);
  });
});

/** An IPv4 address as a 32-bit number. */
function ip4(address: string): number {
  return address.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

function inSubnet4(net: string, prefix: number, address: string): boolean {
  if (prefix === 0) return true;
  const shift = 32 - prefix;
  return Math.floor(ip4(net) / 2 ** shift) === Math.floor(ip4(address) / 2 ** shift);
}

describe('CIDRs (--allow, --deny)', () => {
  test('IPv4 a.b.c.d/n and bare addresses parse to exactly that', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.option(fc.integer({ min: 0, max: 32 })), (a, p) => {
        const text = p === null ? a : `${a}/${p}`;
        expect(parseCidr(text)).toEqual({ address: a, prefix: p ?? 32, family: 'ipv4' });
      }),
      RUNS,
    );
  });

  test('IPv6 addresses (bracketed or not) and prefixes; IPv4-mapped ones become IPv4', () => {
    fc.assert(
      fc.property(
        fc.ipV6(),
        fc.option(fc.integer({ min: 0, max: 128 })),
        fc.boolean(),
        (a, p, brackets) => {
          const host = brackets ? `[${a}]` : a;
          const c = parseCidr(p === null ? host : `${host}/${p}`);
          const prefix = p ?? 128;
          const mapped = mappedIPv4(a);
          if (mapped && prefix >= 96) {
            expect(c).toEqual({ address: mapped, prefix: prefix - 96, family: 'ipv4' });
          } else {
            expect(c).toEqual({ address: a, prefix, family: 'ipv6' });
          }
        },
      ),
      RUNS,
    );
  });

  test('prefixes beyond the family, signs, blanks and garbage are UsageErrors', () => {
    const bad = fc.oneof(
      fc.tuple(fc.ipV4(), fc.integer({ min: 33, max: 999 })).map(([a, p]) => `${a}/${p}`),
      fc.tuple(fc.ipV6(), fc.integer({ min: 129, max: 999 })).map(([a, p]) => `${a}/${p}`),
      fc.ipV4().map((a) => `${a}/`),
      fc.ipV4().map((a) => `${a}/-1`),
      fc.ipV4().map((a) => `${a}/+8`),
      fc.ipV4().map((a) => `${a}/8/8`),
      fc.ipV4().map((a) => `${a}/1e1`),
      fc.ipV4Extended().filter((a) => isIP(a) === 0), // 0x7f.1, 010.0.0.1, …
      fc.constant(''),
      fc.constant('/8'),
      fc.domain(),
    );
    fc.assert(
      fc.property(bad, (text) => {
        expect(() => parseCidr(text)).toThrow(UsageError);
      }),
      RUNS,
    );
  });

  test('any string: a CIDR with a real address and an in-range prefix, or a UsageError', () => {
    fc.assert(
      fc.property(noisy('0123456789abcdef.:/[] '), (text) => {
        const r = outcome(() => parseCidr(text));
        if ('error' in r) {
          expect(r.error).toBeInstanceOf(UsageError);
          return;
        }
        expect(isIP(r.value.address)).toBe(r.value.family === 'ipv4' ? 4 : 6);
        expect(r.value.prefix).toBeGreaterThanOrEqual(0);
        expect(r.value.prefix).toBeLessThanOrEqual(r.value.family === 'ipv4' ? 32 : 128);
      }),
      RUNS,
    );
  });

  test('AccessList matches IPv4 peers as the arithmetic says, mapped peers alike; deny wins', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 32 }), fc.ipV4(), (net, p, peer) => {
        const rule = `${net}/${p}`;
        const inside = inSubnet4(net, p, peer);
        expect(new AccessList([rule]).check(peer)).toBe(inside);
        expect(new AccessList([rule]).check(`::ffff:${peer}`)).toBe(inside);
        expect(new AccessList([], [rule]).check(peer)).toBe(!inside);
        expect(new AccessList([rule], [rule]).check(peer)).toBe(false);
        expect(new AccessList().check(peer)).toBe(true);
      }),
      RUNS,
    );
  });

  test('a peer that is not an IP address never passes a list', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (peer) => {
        fc.pre(isIP(peer) === 0);
        expect(new AccessList(['0.0.0.0/0', '::/0']).check(peer)).toBe(false);
      }),
      RUNS,
    );
  });
});

describe('hex input (sendto --hex-input)', () => {
  // groups of whole bytes, each may start 0x, separated by a comma, a colon or blanks
  const GRAMMAR = /^(?:(?:0x)?(?:[0-9a-f]{2})+(?:(?:\s*[,:]\s*|\s+)(?:0x)?(?:[0-9a-f]{2})+)*)?$/i;
  const layouts: ((b: Buffer) => string)[] = [
    (b) => b.toString('hex'),
    (b) => b.toString('hex').toUpperCase(),
    (b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(' '),
    (b) => [...b].map((x) => `0x${x.toString(16).padStart(2, '0')}`).join(','),
    (b) => [...b].map((x) => `0X${x.toString(16).padStart(2, '0')}`).join(', '),
    (b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':'),
    (b) => `  ${b.toString('hex').replace(/(.{8})/g, '$1\n')}\n`,
  ];

  test('every byte string in every accepted layout comes back byte-exact', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 64 }),
        fc.integer({ min: 0, max: layouts.length - 1 }),
        (bytes, layout) => {
          const b = Buffer.from(bytes);
          expect(parseHex(layouts[layout]!(b))).toEqual(b);
        },
      ),
      RUNS,
    );
  });

  test('any string: bytes exactly when it follows the grammar, else a UsageError', () => {
    fc.assert(
      fc.property(noisy('0123456789abcdefABCDEFxXg ,:\n\t-'), (text) => {
        const r = outcome(() => parseHex(text));
        if ('value' in r) {
          expect(text.trim()).toMatch(GRAMMAR);
          const digits = text.replace(/0x/gi, '').replace(/[^0-9a-f]/gi, '');
          expect(r.value).toEqual(Buffer.from(digits, 'hex'));
        } else {
          expect(r.error).toBeInstanceOf(UsageError);
          expect(text.trim()).not.toMatch(GRAMMAR);
        }
      }),
      { numRuns: 1000 },
    );
  });

  test('half bytes and 0x in the middle of a group are refused', () => {
    for (const text of [
      'abc',
      '6 8',
      '100x20',
      '0x',
      '0x6',
      'ff0xff',
      ',,',
      '68,,65',
      ',68',
      '68:',
    ])
      expect(() => parseHex(text)).toThrow(UsageError);
  });
});

describe('durations (--timeout, -w, --idle-timeout, --drain-timeout, -q, --wait)', () => {
  const UNIT: Record<string, number> = { '': 1, ms: 0.001, s: 1, m: 60, h: 3600 };

  test('a number with an optional unit is that many seconds', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 500 }),
        fc.option(fc.integer({ min: 0, max: 999 })),
        fc.constantFrom('', 'ms', 's', 'm', 'h'),
        (whole, frac, unit) => {
          const text = frac === null ? `${whole}${unit}` : `${whole}.${frac}${unit}`;
          expect(parseDuration(text)).toBeCloseTo(
            Number(text.replace(/[a-z]+$/, '')) * UNIT[unit]!,
            9,
          );
        },
      ),
      RUNS,
    );
  });

  test('any string: a finite duration 0-2,000,000 s matching the grammar, or refused', () => {
    fc.assert(
      fc.property(noisy('0123456789.msh -+eE,:_x'), (text) => {
        const r = outcome(() => parseDuration(text));
        if ('value' in r) {
          expect(text.trim()).toMatch(/^(\d+(\.\d+)?|\.\d+)(ms|s|m|h)?$/);
          expect(Number.isFinite(r.value) && r.value >= 0 && r.value <= 2_000_000).toBe(true);
        } else {
          expect(r.error).toBeInstanceOf(InvalidArgumentError);
        }
      }),
      RUNS,
    );
  });

  test('negative, signed, exponent and unit-only forms are refused', () => {
    for (const text of [
      '-1',
      '+1',
      '1e3',
      'ms',
      '1 s',
      '1.',
      '1..2',
      '1sec',
      '0x10',
      'Infinity',
      'NaN',
      '',
      '9'.repeat(400),
    ])
      expect(() => parseDuration(text)).toThrow(InvalidArgumentError);
  });

  test('intervals (sendto -i, seconds as nc takes them): in range, or refused', () => {
    fc.assert(
      fc.property(noisy('0123456789.msh -'), (text) => {
        const r = outcome(() => intervalArg(text));
        if ('value' in r) expect(r.value >= 0 && r.value <= 2_000_000_000).toBe(true);
        else expect(r.error).toBeInstanceOf(InvalidArgumentError);
      }),
      RUNS,
    );
  });
});

describe('counts and file modes', () => {
  test('countArg: whole numbers in range, else refused', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.bigInt({ min: 0n, max: 10n ** 20n }).map(String), noisy('0123456789-.e ')),
        fc.integer({ min: 0, max: 3 }),
        (text, min) => {
          const parse = countArg(min, 1024);
          const r = outcome(() => parse(text));
          const n = Number(text.trim());
          const ok = /^\d+$/.test(text.trim()) && n >= min && n <= 1024;
          if (ok) expect(r).toEqual({ value: n });
          else expect((r as { error: unknown }).error).toBeInstanceOf(InvalidArgumentError);
        },
      ),
      RUNS,
    );
    expect(() => countArg(1)('99999999999999999999')).toThrow('number too large');
  });

  test('octal modes 0-777 in their three spellings; 8, 9, special bits and garbage refused', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0o777 }),
        fc.constantFrom('', '0', '0o', '0O'),
        (m, prefix) => {
          expect(octalModeArg(`${prefix}${m.toString(8)}`)).toBe(m);
        },
      ),
      RUNS,
    );
    fc.assert(
      fc.property(noisy('0123456789oO -x'), (text) => {
        const r = outcome(() => octalModeArg(text));
        if ('value' in r) {
          expect(text.trim()).toMatch(/^(0o?)?0?[0-7]{1,3}$/i);
          expect(r.value).toBeLessThanOrEqual(0o777);
        } else {
          expect(r.error).toBeInstanceOf(InvalidArgumentError);
        }
      }),
      RUNS,
    );
  });
});

describe('hosts (-H, connect/send/sendto <host>)', () => {
  test('IPv4 and IPv6 literals are taken as they are, IPv6 with or without brackets', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), fc.boolean(), (a, brackets) => {
        expect(hostArg(brackets && a.includes(':') ? `[${a}]` : a)).toBe(a);
      }),
      RUNS,
    );
  });

  test('RFC 1123 host names are accepted', () => {
    fc.assert(
      fc.property(fc.domain(), (name) => {
        expect(hostArg(name)).toBe(name);
      }),
      RUNS,
    );
  });

  test('names with space or control characters, or over 253 characters, are refused', () => {
    const bad = fc.oneof(
      fc
        .tuple(
          fc.domain(),
          fc.constantFrom(' ', '\t', '\n', '\r', '\0', '\x1b', '\x7f', '\u009b'),
          fc.domain(),
        )
        .map(([a, c, b]) => `${a}${c}${b}`),
      fc.constant(`${'a'.repeat(63)}.`.repeat(5)),
      fc.constantFrom('', ' ', '[]'),
    );
    fc.assert(
      fc.property(bad, (text) => {
        expect(() => hostArg(text)).toThrow(InvalidArgumentError);
        expect(() => checkedHost(text)).toThrow(UsageError);
      }),
      RUNS,
    );
  });

  test('whatever getaddrinfo may take passes through unchanged (names with _, *, a trailing dot…)', () => {
    fc.assert(
      fc.property(
        fc.tuple(fc.domain(), fc.constantFrom('_', '*', '-', '.', ';', '#', ''), fc.domain()),
        ([a, c, b]) => {
          const host = `${a}${c}${b}`;
          expect(hostArg(host)).toBe(host);
        },
      ),
      RUNS,
    );
  });

  test('any string: refused, or returned as given (unbracketed) with no space or control character', () => {
    fc.assert(
      fc.property(noisy('abc019.-:[]% _\t\n\x1b'), (text) => {
        const r = outcome(() => hostArg(text));
        if ('error' in r) {
          expect(r.error).toBeInstanceOf(InvalidArgumentError);
          return;
        }
        // eslint-disable-next-line no-control-regex -- control characters are what is checked
        expect(r.value).not.toMatch(/[\s\u0000-\u001f\u007f-\u009f]/);
        expect(r.value.length).toBeGreaterThan(0);
      }),
      RUNS,
    );
  });
});

describe('unix socket paths', () => {
  test('up to 107 bytes without NUL: taken as is; longer or with NUL: a UsageError', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 1, maxLength: 140 }), (path) => {
        const r = outcome(() => checkUnixPath(path));
        const ok = !path.includes('\0') && Buffer.byteLength(path) <= UNIX_PATH_MAX;
        if (ok) expect(r).toEqual({ value: path });
        else expect((r as { error: unknown }).error).toBeInstanceOf(UsageError);
      }),
      RUNS,
    );
    expect(() => checkUnixPath('')).toThrow(UsageError);
  });
});

describe('error lines quoting user input', () => {
  test('always one line with no control characters', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (text) => {
        const line = safeLine(`invalid thing '${text}'`);
        expect(line).not.toMatch(/[\r\n]/);
        // eslint-disable-next-line no-control-regex
        expect(line).not.toMatch(/[\x00-\x1f\x7f-\x9f]/);
      }),
      RUNS,
    );
  });
});
