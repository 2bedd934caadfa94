/**
 * Terminal safety: the one escaping function covers C0, DEL and C1; lines stay one
 * line and long values are cut; JSON stays valid UTF-8 with no control a terminal
 * would act on.
 */
import { describe, expect, test } from '@jest/globals';
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import {
  MAX_LINE,
  MAX_RUN,
  MAX_VALUE,
  clip,
  escapeControls,
  safeJson,
  safeLine,
  safeValue,
} from '../../src/net/terminal.js';

const RUNS = { numRuns: 300 };
// eslint-disable-next-line no-control-regex
const ANY_CONTROL = /[\x00-\x1f\x7f-\x9f]/;

describe('escapeControls', () => {
  test('every C0, DEL and C1 control becomes \\xNN; everything else stays', () => {
    for (let c = 0; c < 0x100; c += 1) {
      const ch = String.fromCharCode(c);
      const control = c < 0x20 || (c >= 0x7f && c <= 0x9f);
      expect(escapeControls(ch)).toBe(control ? `\\x${c.toString(16).padStart(2, '0')}` : ch);
    }
    expect(escapeControls('\u001b]0;title\u0007 \u009b2J')).toBe('\\x1b]0;title\\x07 \\x9b2J');
    expect(escapeControls('héllo ✓')).toBe('héllo ✓');
  });

  test('no control survives, for any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (s) => {
        expect(escapeControls(s)).not.toMatch(ANY_CONTROL);
      }),
      RUNS,
    );
  });
});

describe('safeLine and safeValue', () => {
  test('one line, no control, never longer than the limit plus the ellipsis', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 3000 }), (s) => {
        const line = safeLine(`error '${s}' here`);
        expect(line).not.toMatch(/[\r\n]/);
        expect(line).not.toMatch(ANY_CONTROL);
        expect(line.length).toBeLessThanOrEqual(MAX_LINE + 1);
      }),
      RUNS,
    );
  });

  test('a 100,000-character value is cut with an ellipsis, the rest of the line kept', () => {
    const host = 'a'.repeat(100_000);
    const line = safeLine(`invalid host '${host}' — not an IP address or host name`);
    expect(line).toBe(`invalid host '${'a'.repeat(MAX_RUN - 1)}… — not an IP address or host name`);
    expect(safeValue(host)).toBe(`${'a'.repeat(MAX_VALUE)}…`);
  });

  test('a long line of short words is cut at the line limit', () => {
    const line = safeLine('word '.repeat(1000));
    expect(line).toHaveLength(MAX_LINE + 1);
    expect(line.endsWith('…')).toBe(true);
  });

  test('a cut never splits a surrogate pair', () => {
    const text = `${'a'.repeat(9)}😀😀`;
    expect(clip(text, 10)).toBe(`${'a'.repeat(9)}…`);
    expect(clip(text, 11)).toBe(`${'a'.repeat(9)}😀…`);
  });

  test('a value with a newline shows it escaped (it cannot start a line of its own)', () => {
    expect(safeValue('/tmp/x\nsockit: forged')).toBe('/tmp/x\\x0asockit: forged');
  });
});

describe('safeJson', () => {
  test('parses back to the same value, valid UTF-8, no raw control, for any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (s) => {
        const text = safeJson({ text: s });
        expect(text).not.toMatch(ANY_CONTROL);
        expect(JSON.parse(text)).toEqual({ text: s });
        const bytes = Buffer.from(text, 'utf8');
        expect(bytes.toString('utf8')).toBe(text);
      }),
      RUNS,
    );
  });

  test('C1 and DEL are \\u escapes; a lone surrogate stays well-formed', () => {
    expect(safeJson('\u009b\u007f')).toBe('"\\u009b\\u007f"');
    expect(safeJson('\ud800')).toBe('"\\ud800"');
  });
});
