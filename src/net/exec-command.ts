/**
 * A program run per connection (`--exec`, `--sh-exec`, `connect --exec`), before
 * it runs: the command as argv (split like a shell splits words, without any
 * expansion), the check at start that it exists and may be executed, and the
 * `SOCKIT_*` environment it gets. Running it is child-run.ts.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { SocketAddress } from './address.js';
import { ERR, UsageError, errnoName } from './errors.js';

/** A program and its arguments, as `spawn()` takes them. */
export interface ExecCommand {
  readonly file: string;
  readonly args: readonly string[];
  /** How the user wrote it, for messages. */
  readonly display: string;
}

/** The shell `--sh-exec` runs its command with. */
export const SHELL = '/bin/sh';

/**
 * Split a command line into words as a POSIX shell would, without expanding
 * anything: blanks separate words, '…' keeps everything literally, "…" keeps
 * everything but `\"`, `\\`, `\$` and `` \` ``, and a backslash outside quotes
 * keeps the next character. Throws a UsageError on an unterminated quote.
 */
export function splitArgv(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    const next = text[i + 1];
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === '\\' && next !== undefined && '"\\$`'.includes(next)) word += text[++i];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c === '\\' && next !== undefined ? text[++i] : c;
      inWord = true;
    }
  }
  if (quote) throw new UsageError(`unterminated ${quote} quote in '${text}'`, ERR.EXEC);
  if (inWord) words.push(word);
  return words;
}

/** `--exec 'prog arg…'`: the program and its arguments, no shell in between. */
export function execCommand(commandLine: string): ExecCommand {
  const [file, ...args] = splitArgv(commandLine);
  if (file === undefined || file === '') {
    throw new UsageError('empty program — --exec needs a program such as /bin/cat', ERR.EXEC);
  }
  return { file, args, display: commandLine.trim() };
}

/** `--sh-exec 'command'`: the command run by `/bin/sh -c`. */
export function shellCommand(command: string): ExecCommand {
  if (command.trim() === '') {
    throw new UsageError("empty command — --sh-exec needs a command such as 'cat'", ERR.EXEC);
  }
  return { file: SHELL, args: ['-c', command], display: command.trim() };
}

async function isExecutableFile(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** Why `path` cannot be executed, or undefined when it can. */
async function whyNotExecutable(path: string): Promise<string | undefined> {
  try {
    if (!(await stat(path)).isFile()) return 'not a file';
  } catch (err) {
    return errnoName(err) === 'ENOENT' ? 'no such file' : `cannot read it (${errnoName(err)})`;
  }
  try {
    await access(path, constants.X_OK);
    return undefined;
  } catch {
    return 'not executable (no x permission)';
  }
}

/**
 * Check at start that the program exists and may be executed (a path as it is, a
 * bare name along PATH), so that a typo is one line and exit 2, not a failure
 * per connection. Resolves with the file that will run.
 */
export async function checkProgram(
  command: ExecCommand,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<string> {
  const file = command.file;
  if (file.includes('/')) {
    const why = await whyNotExecutable(file);
    if (why) throw new UsageError(`cannot run '${file}' — ${why}`, ERR.EXEC);
    return file;
  }
  for (const dir of (env.PATH ?? '').split(':')) {
    const candidate = join(dir === '' ? '.' : dir, file);
    if (await isExecutableFile(candidate)) return candidate;
  }
  throw new UsageError(
    `cannot run '${file}' — no such program in PATH (give a path such as ./${file})`,
    ERR.EXEC,
  );
}

/** The protocol a program's connection runs over, as `SOCKIT_PROTO` says it. */
export type ExecProto = 'tcp' | 'udp' | 'unix' | 'unix-dgram' | 'tls';

/** Where a program's connection comes from and arrives. */
export interface ExecPeers {
  readonly remote: SocketAddress;
  readonly local: SocketAddress;
  readonly proto: ExecProto;
}

function addressOf(a: SocketAddress): [string, string] {
  return a.family === 'unix' ? [a.path, ''] : [a.address, String(a.port)];
}

/**
 * The environment of a program: sockit's own, plus `SOCKIT_REMOTE_ADDR`,
 * `SOCKIT_REMOTE_PORT`, `SOCKIT_LOCAL_ADDR`, `SOCKIT_LOCAL_PORT` and
 * `SOCKIT_PROTO`. On unix sockets the address is the path (empty for an unnamed
 * peer) and the port is empty.
 */
export function execEnv(
  peers: ExecPeers,
  base: Readonly<Record<string, string | undefined>> = process.env,
): Record<string, string | undefined> {
  const [remoteAddr, remotePort] = addressOf(peers.remote);
  const [localAddr, localPort] = addressOf(peers.local);
  return {
    ...base,
    SOCKIT_REMOTE_ADDR: remoteAddr,
    SOCKIT_REMOTE_PORT: remotePort,
    SOCKIT_LOCAL_ADDR: localAddr,
    SOCKIT_LOCAL_PORT: localPort,
    SOCKIT_PROTO: peers.proto,
  };
}
