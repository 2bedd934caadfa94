/**
 * Hex rows as `hexdump -C` prints them — the offset, sixteen bytes in hex (a gap
 * after the eighth) and the printable ASCII between bars — written straight into a
 * Buffer through lookup tables: the traffic tap formats every byte a connection
 * moves, so no string is made per row. Anything outside printable ASCII is a dot,
 * so a row can never carry a control sequence to a terminal.
 */
import { Buffer } from 'node:buffer';

const DIGITS = Buffer.from('0123456789abcdef', 'latin1');
/** Each byte's two hex digits. */
const HI = Uint8Array.from({ length: 256 }, (_, b) => DIGITS[b >> 4]!);
const LO = Uint8Array.from({ length: 256 }, (_, b) => DIGITS[b & 15]!);
/** Each byte as the ASCII column shows it: itself when printable, else a dot. */
const ASCII = Uint8Array.from({ length: 256 }, (_, b) => (b >= 0x20 && b < 0x7f ? b : 0x2e));
const SPACE = 0x20;
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
function writeOffset(target: Uint8Array, pos: number, value: number): number {
  if (value < 0x100000000) {
    for (let shift = 28, p = pos; shift >= 0; shift -= 4, p += 1) {
      target[p] = DIGITS[(value >>> shift) & 15]!;
    }
    return pos + 8;
  }
  const text = value.toString(16);
  for (let i = 0; i < text.length; i += 1) target[pos + i] = text.charCodeAt(i);
  return pos + text.length;
}

/** Eight bytes of `data` from `start` as `xx ` each; returns the end. */
function writeHalf(target: Uint8Array, pos: number, data: Uint8Array, start: number): number {
  let p = pos;
  for (let i = start; i < start + 8; i += 1) {
    const b = data[i]!;
    target[p] = HI[b]!;
    target[p + 1] = LO[b]!;
    target[p + 2] = SPACE;
    p += 3;
  }
  return p;
}

/** A row of 16 bytes of `data` from `start`, after the offset: the common case. */
function writeFullRow(target: Uint8Array, pos: number, data: Uint8Array, start: number): number {
  let p = pos;
  target[p++] = SPACE;
  target[p++] = SPACE;
  p = writeHalf(target, p, data, start);
  target[p++] = SPACE;
  p = writeHalf(target, p, data, start + 8);
  target[p++] = SPACE;
  target[p++] = BAR;
  for (let i = start; i < start + 16; i += 1) target[p++] = ASCII[data[i]!]!;
  target[p++] = BAR;
  target[p++] = NEWLINE;
  return p;
}

/** The last row of a chunk, of fewer than 16 bytes, after the offset. */
function writeShortRow(target: Uint8Array, pos: number, data: Uint8Array, start: number): number {
  const n = data.length - start;
  let p = pos;
  target[p++] = SPACE;
  target[p++] = SPACE;
  for (let i = 0; i < ROW_BYTES; i += 1) {
    if (i === 8) target[p++] = SPACE;
    const b = i < n ? data[start + i]! : -1;
    target[p] = b < 0 ? SPACE : HI[b]!;
    target[p + 1] = b < 0 ? SPACE : LO[b]!;
    target[p + 2] = SPACE;
    p += 3;
  }
  target[p++] = SPACE;
  target[p++] = BAR;
  for (let i = 0; i < n; i += 1) target[p++] = ASCII[data[start + i]!]!;
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
  target: Uint8Array,
  pos: number,
  prefix: Uint8Array,
  data: Uint8Array,
  offset: number,
): number {
  let p = pos;
  const plen = prefix.length;
  for (let start = 0; start < data.length; start += ROW_BYTES) {
    for (let i = 0; i < plen; i += 1) target[p + i] = prefix[i]!;
    p = writeOffset(target, p + plen, offset + start);
    p =
      start + ROW_BYTES <= data.length
        ? writeFullRow(target, p, data, start)
        : writeShortRow(target, p, data, start);
  }
  return p;
}
