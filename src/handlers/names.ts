/**
 * Names and one-line descriptions of the built-in handlers: what `--help`,
 * validation, completion and the man page need, without loading any handler
 * (start-up time). `registry.ts` attaches the classes.
 */

/** A built-in handler's name, description and source file (under handlers/). */
export interface HandlerInfo {
  readonly name: string;
  readonly description: string;
  readonly file: string;
  /** Keeps state across connections: runs only in the modes that share it (async, sequential). */
  readonly sharedState?: boolean;
  /** Serves stream connections only (tcp, unix), not datagrams. */
  readonly streamOnly?: boolean;
  /** Runs a program per request: needs --exec or --sh-exec. */
  readonly program?: boolean;
  /** Takes the reply options (--first-read, --first-line, --strip; see reply-shape.ts). */
  readonly shapesReply?: boolean;
}

/** Built-in handlers, in the order help lists them. */
export const HANDLER_INFO: readonly HandlerInfo[] = [
  { name: 'echo', description: 'send every byte back (default)', file: 'echo', shapesReply: true },
  {
    name: 'upper-case',
    description: 'send back with ASCII letters upper-cased (alias: upper)',
    file: 'case',
    shapesReply: true,
  },
  {
    name: 'lower',
    description: 'send back with ASCII letters lower-cased',
    file: 'case',
    shapesReply: true,
  },
  {
    name: 'threaded-echo',
    description: "echo each line prefixed with the worker's name (Thread-2: …)",
    file: 'threaded-echo',
    shapesReply: true,
  },
  { name: 'discard', description: 'read and drop everything (RFC 863)', file: 'discard' },
  {
    name: 'daytime',
    description: 'send the date and time, then close (RFC 867)',
    file: 'daytime',
  },
  {
    name: 'chargen',
    description: 'stream a character pattern while the client reads (RFC 864)',
    file: 'chargen',
  },
  {
    name: 'stdio',
    description: "socket to stdout, stdin to the socket: netcat's listen mode (sockit listen)",
    file: 'stdio',
    sharedState: true,
  },
  {
    name: 'exec',
    description: 'a program per connection or datagram (set by --exec / --sh-exec)',
    file: 'exec',
    program: true,
  },
  {
    name: 'broker',
    description: 'every byte from a client goes to all the others (ncat --broker)',
    file: 'broker',
    sharedState: true,
    streamOnly: true,
  },
  {
    name: 'chat',
    description: 'line chat: <user1> lines to everyone else, /nick name (ncat --chat)',
    file: 'chat',
    sharedState: true,
    streamOnly: true,
  },
  {
    name: 'forward',
    description: 'relay each connection or datagram to --forward <url> (socat)',
    file: 'forward',
  },
];

/** Other names accepted for built-ins. */
export const HANDLER_ALIASES: Readonly<Record<string, string>> = {
  upper: 'upper-case',
  'lower-case': 'lower',
};

/** Every name `--handler` accepts for a built-in. */
export const HANDLER_NAMES: readonly string[] = [
  ...HANDLER_INFO.map((h) => h.name),
  ...Object.keys(HANDLER_ALIASES),
];
