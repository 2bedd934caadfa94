/**
 * Terminal safety: the one way a string that may carry a peer's or a user's bytes
 * (a unix peer path, a host name in an error, a worker's crash output, a banner)
 * reaches a log line. Control characters — C0, DEL and C1, where U+009B is a CSI on
 * many terminals — are shown as `\xNN`, and long values are cut with an ellipsis, so
 * no peer can move the cursor, set the window title or forge a log line, and no
 * 100,000-character argument floods the screen.
 */

// C0 (U+0000-U+001F), DEL (U+007F) and C1 (U+0080-U+009F)
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\x00-\x1f\x7f-\x9f]/g;
// the same, for JSON: C0 is escaped by JSON.stringify already
const JSON_CONTROLS = /[\x7f-\x9f]/g;
/** Longest run without a space a log line keeps whole. */
export const MAX_RUN = 256;
const LONG_RUN = new RegExp(`\\S{${MAX_RUN + 1},}`, 'g');
/** Longest log line kept whole. */
export const MAX_LINE = 1000;
/** Longest value {@link safeValue} quotes whole. */
export const MAX_VALUE = 120;

function hex(c: string): string {
  return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
}

/** Cut `text` after `max` characters (never inside a surrogate pair), with an ellipsis. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  const code = text.charCodeAt(max - 1);
  const end = code >= 0xd800 && code <= 0xdbff ? max - 1 : max;
  return `${text.slice(0, end)}…`;
}

/** Every C0, DEL and C1 control as `\xNN`: the one escaping function. */
export function escapeControls(text: string): string {
  return text.replace(CONTROLS, hex);
}

/**
 * A value quoted into a message (a host, a path, an argument): controls escaped,
 * cut after `max` characters with an ellipsis.
 */
export function safeValue(value: string, max = MAX_VALUE): string {
  return escapeControls(clip(value, max));
}

/**
 * A message as one safe line: line breaks (and the blanks around them) become one
 * space, every other control is escaped, and a run of more than {@link MAX_RUN}
 * characters without a space, or a line of more than {@link MAX_LINE}, is cut with
 * an ellipsis.
 */
export function safeLine(message: string): string {
  const flat = escapeControls(message.replace(/\s*[\r\n]+\s*/g, ' '));
  if (flat.length <= MAX_RUN) return flat;
  return clip(
    flat.replace(LONG_RUN, (run) => clip(run, MAX_RUN)),
    MAX_LINE,
  );
}

/**
 * JSON text that a terminal shows as it is: `JSON.stringify`, plus DEL and the C1
 * controls as `\u00NN` (JSON.stringify escapes only C0, and lone surrogates, so the
 * line stays valid UTF-8).
 */
export function safeJson(value: unknown): string {
  return JSON.stringify(value).replace(
    JSON_CONTROLS,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
