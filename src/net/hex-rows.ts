/**
 * Hex rows as `hexdump -C` prints them — the offset, sixteen bytes in hex (a gap
 * after the eighth) and the printable ASCII between bars — written straight into a
 * Buffer through lookup tables: the traffic tap formats every byte a connection
 * moves, so no string is made per row. Anything outside printable ASCII is a dot,
 * so a row can never carry a control sequence to a terminal.
 */
import { Buffer } from 'node:buffer';

const DIGITS = Buffer.from('0123456789abcdef', 'latin1');
const SPACE = 0x20;
const DOT = 0x2e;
const BAR = 0x7c;
const NEWLINE = 0x0a;
/** The hex column: 16 × `xx ` and the gap after the eighth byte. */
const HEX_WIDTH = 49;
/** Bytes per row. */
export const ROW_BYTES = 16;

/** Most bytes a row takes besides its prefix: offset (up to 14 digits), gaps, hex, ASCII, bars, newline. */
const MAX_ROW = 14 + 2 + HEX_WIDTH + 1 + 1 + ROW_BYTES + 1 + 1;

/** Upper bound of the bytes {@link writeRows} writes for `length` bytes with a prefix of `prefix` bytes. */
export function rowsSize(length: number, prefix: number): number {
  return Math.ceil(length / ROW_BYTES) * (prefix + MAX_ROW);
}

/** Write `value` as at least 8 lowercase hex digits at `pos`; returns the end. */
function writeOffset(target: Buffer, pos: number, value: number): number {
  let digits = 8;
  while (digits < 14 && value >= 16 ** digits) digits += 1;
  let v = value;
  for (let i = pos + digits - 1; i >= pos; i -= 1) {
    target[i] = DIGITS[v % 16]!;
    v = Math.floor(v / 16);
  }
  return pos + digits;
}

/** One row of up to 16 bytes of `data` from `start`; returns the end. */
function writeRow(
  target: Buffer,
  pos: number,
  data: Uint8Array,
  start: number,
  offset: number,
): number {
  const n = Math.min(ROW_BYTES, data.length - start);
  let p = writeOffset(target, pos, offset);
  target[p++] = SPACE;
  target[p++] = SPACE;
  target.fill(SPACE, p, p + HEX_WIDTH);
  for (let i = 0; i < n; i += 1) {
    const b = data[start + i]!;
    const at = p + i * 3 + (i >= 8 ? 1 : 0);
    target[at] = DIGITS[b >> 4]!;
    target[at + 1] = DIGITS[b & 15]!;
  }
  p += HEX_WIDTH;
  target[p++] = SPACE;
  target[p++] = BAR;
  for (let i = 0; i < n; i += 1) {
    const b = data[start + i]!;
    target[p++] = b >= 0x20 && b < 0x7f ? b : DOT;
  }
  target[p++] = BAR;
  target[p++] = NEWLINE;
  return p;
}

/**
 * Write `data` as rows into `target` at `pos`, each row starting with `prefix` (a
 * direction mark, a connection number) and the running offset (`offset` for the
 * first byte). `target` must have {@link rowsSize} bytes free. Returns the end.
 */
export function writeRows(
  target: Buffer,
  pos: number,
  prefix: Buffer,
  data: Uint8Array,
  offset: number,
): number {
  let p = pos;
  for (let start = 0; start < data.length; start += ROW_BYTES) {
    p += prefix.copy(target, p);
    p = writeRow(target, p, data, start, offset + start);
  }
  return p;
}
