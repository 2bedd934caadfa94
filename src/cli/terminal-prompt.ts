/**
 * The prompt of interactive `connect` (stdin and stderr on a terminal): lines are
 * typed with readline, and what the peer sends while a line is being typed no
 * longer breaks it: the prompt line is cleared, the peer's bytes are written, and
 * the prompt comes back with the typed text and the cursor where they were.
 * Nothing here touches the payload: the peer's bytes go to stdout untouched, and
 * each typed line is sent as typed, with its newline.
 */
import {
  clearScreenDown,
  createInterface,
  cursorTo,
  moveCursor,
  type Interface,
} from 'node:readline';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import type { PipePrompt } from '../clients/socket-pipe.js';

/** The terminal the prompt is drawn on (stderr): a TTY stream has `columns`. */
export type TerminalOutput = Writable & { readonly columns?: number; readonly isTTY?: boolean };

/** Options of {@link TerminalPrompt}. */
export interface TerminalPromptOptions {
  /** The prompt (default `> `). */
  readonly text?: string;
  /**
   * The peer's bytes land on the same terminal (stdout is a TTY): a reply without
   * a final newline then moves the prompt to a line of its own.
   */
  readonly dataOnTerminal: boolean;
  /** Ctrl-C was typed (the terminal is in raw mode, so no SIGINT comes by itself). */
  readonly onInterrupt: () => void;
}

/**
 * Interactive input for a pipe: `input` yields each typed line with its newline
 * and ends on Ctrl-D at an empty line; the prompt is a {@link PipePrompt}. Call
 * `close()` when the pipe is done: it gives the terminal back (cooked mode).
 */
export class TerminalPrompt implements PipePrompt {
  /** The typed lines, each with its `\n`; ends on Ctrl-D at an empty line. */
  readonly input: Readable;
  readonly #rl: Interface;
  readonly #term: TerminalOutput;
  readonly #text: string;
  readonly #dataOnTerminal: boolean;
  #shown = false;
  #closed = false;

  constructor(stdin: Readable, term: TerminalOutput, opts: TerminalPromptOptions) {
    const input = new PassThrough();
    this.input = input;
    this.#term = term;
    this.#text = opts.text ?? '> ';
    this.#dataOnTerminal = opts.dataOnTerminal;
    this.#rl = createInterface({ input: stdin, output: term, prompt: this.#text, terminal: true });
    this.#rl.on('line', (line: string) => {
      input.write(`${line}\n`);
      this.#shown = false; // the prompt went up with the line: a fresh one below
      this.show(false);
    });
    this.#rl.on('close', () => {
      this.#closed = true;
      input.end();
    });
    this.#rl.on('SIGINT', opts.onInterrupt);
  }

  /** Draw the prompt and the typed text, the cursor where it was. Do not override. */
  show(newline: boolean): void {
    if (this.#shown || this.#closed) return;
    this.#shown = true;
    if (newline && this.#dataOnTerminal) this.#term.write('\n');
    const { line, cursor } = this.#rl;
    this.#term.write(this.#text + line);
    if (cursor < line.length) moveCursor(this.#term, cursor - line.length, 0);
  }

  /** Clear the prompt and the typed text (every row they take). Do not override. */
  hide(): void {
    if (!this.#shown) return;
    this.#shown = false;
    const { rows } = this.#rl.getCursorPos();
    if (rows > 0) moveCursor(this.#term, 0, -rows);
    cursorTo(this.#term, 0);
    clearScreenDown(this.#term);
  }

  /**
   * Stop reading the terminal, clear the prompt, and give the terminal back in
   * cooked mode. Returns whether a prompt was on the screen (then the cursor is
   * at the start of an empty line).
   */
  close(): boolean {
    const shown = this.#shown;
    this.hide();
    this.#closed = true;
    this.#rl.close();
    return shown;
  }
}
