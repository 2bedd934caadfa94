import { Argument, Command, type Option } from 'commander';
import type { CliContext } from '../context.js';
import { HANDLER_NAMES } from '../../handlers/names.js';

/**
 * What completes a value: `words` (an option's choices, handler names), `files` (the
 * value names a file or a path), both (a handler is a name or `./file.js`), or nothing.
 */
interface ValueSpec {
  readonly words: readonly string[];
  readonly files: boolean;
}

/** A command path (`serve tcp`) with what completes after it, read from the program tree. */
interface Node {
  readonly path: string;
  readonly options: string[];
  readonly subcommands: string[];
  /** The options that take a value, by flag (`-m` and `--mode` alike). */
  readonly values: Map<string, ValueSpec>;
  /** The positional arguments, in order. */
  readonly args: ValueSpec[];
}

const pathLike = (name: string): boolean => /file|path/i.test(name);

function optionSpec(o: Option): ValueSpec {
  const placeholder = /[<[]([^>\]]*)[>\]]/.exec(o.flags)?.[1] ?? '';
  const words = o.argChoices ?? (o.long === '--handler' ? HANDLER_NAMES : []);
  return { words, files: pathLike(placeholder) };
}

function argSpec(a: Argument): ValueSpec {
  return { words: a.argChoices ?? [], files: pathLike(a.name()) };
}

function walk(cmd: Command, prefix: string[] = []): Node[] {
  const flags = (o: Option): string[] => [o.short, o.long].filter((f): f is string => !!f);
  const values = new Map<string, ValueSpec>();
  for (const o of cmd.options) {
    if (o.required || o.optional) for (const f of flags(o)) values.set(f, optionSpec(o));
  }
  const node: Node = {
    path: prefix.join(' '),
    options: [...cmd.options.flatMap(flags), '--help'],
    subcommands: cmd.commands.map((c) => c.name()),
    values,
    args: (cmd.registeredArguments ?? []).map(argSpec),
  };
  return [node, ...cmd.commands.flatMap((c) => walk(c, [...prefix, c.name()]))];
}

/** A value spec as the shell functions print it: `f` (files), `w` (words), then the words. */
const specWords = (s: ValueSpec): string => [s.files ? 'f' : 'w', ...s.words].join(' ');

/**
 * The lookup functions both bash and zsh scripts use (plain POSIX `case`):
 * `_sockit_subs PATH`, `_sockit_opts PATH`, `_sockit_value PATH FLAG` (fails when the
 * flag takes no value) and `_sockit_arg PATH N` (fails when nothing completes there).
 */
function lookups(nodes: Node[]): string {
  type Row = [key: string, value: string];
  const fn = (name: string, key: string, rows: Row[]): string =>
    [
      `${name}() {`,
      `  case "${key}" in`,
      ...rows.map(([k, v]) => `    '${k}') echo '${v}' ;;`),
      '    *) return 1 ;;',
      '  esac',
      '}',
    ].join('\n');
  const values = nodes.flatMap((n) =>
    [...n.values].map(([flag, s]): Row => [`${n.path} ${flag}`, specWords(s)]),
  );
  const args = nodes.flatMap((n) =>
    n.args.flatMap((s, i): Row[] =>
      s.files || s.words.length > 0 ? [[`${n.path} ${i}`, specWords(s)]] : [],
    ),
  );
  return [
    fn(
      '_sockit_subs',
      '$1',
      nodes.map((n): Row => [n.path, n.subcommands.join(' ')]),
    ),
    fn(
      '_sockit_opts',
      '$1',
      nodes.map((n): Row => [n.path, n.options.join(' ')]),
    ),
    fn('_sockit_value', '$1 $2', values),
    fn('_sockit_arg', '$1 $2', args),
  ].join('\n');
}

/**
 * The walk over the words typed so far, shared by bash and zsh (`words` names the
 * array): finds the command path and how many positional words follow it. An option
 * that takes a value skips it, also after a bash `=` word (`--mode=async`).
 */
const walkWords = (words: string): string => `    if [[ $w == -* ]]; then
      if [[ $w != *=* ]] && _sockit_value "$cmdpath" "$w" >/dev/null; then
        ((i++))
        [[ \${${words}[i]} == = ]] && ((i++))
      fi
      continue
    fi
    if [[ " $(_sockit_subs "$cmdpath") " == *" $w "* ]]; then
      cmdpath="\${cmdpath:+$cmdpath }$w"
      npos=0
    else
      ((npos++))
    fi`;

function bash(nodes: Node[]): string {
  return `# bash completion for sockit; load with: source <(sockit completion bash)
${lookups(nodes)}
_sockit_reply() {
  local kind=$1
  shift
  if [[ $kind == f && ( $# -eq 0 || $cur == [./~]* ) ]]; then
    compopt -o filenames 2>/dev/null
    COMPREPLY=($(compgen -f -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$*" -- "$cur"))
  fi
}
_sockit() {
  local cur prev cmdpath="" w i npos=0 spec
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  # bash splits --mode=async into three words: complete the value after the =
  if [[ $cur == = ]]; then cur=""; elif [[ $prev == = ]]; then prev="\${COMP_WORDS[COMP_CWORD-2]}"; fi
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
${walkWords('COMP_WORDS')}
  done
  if spec=$(_sockit_value "$cmdpath" "$prev"); then _sockit_reply $spec; return; fi
  if [[ $cur != -* ]] && spec=$(_sockit_arg "$cmdpath" "$npos"); then
    _sockit_reply $spec
    return
  fi
  COMPREPLY=($(compgen -W "$(_sockit_subs "$cmdpath") $(_sockit_opts "$cmdpath")" -- "$cur"))
}
complete -o default -F _sockit sockit
`;
}

function zsh(nodes: Node[]): string {
  return `#compdef sockit
# zsh completion for sockit; load with: source <(sockit completion zsh)
${lookups(nodes)}
_sockit_reply() {
  local kind=$1
  shift
  if [[ $kind == f && ( $# -eq 0 || $PREFIX == [./~]* ) ]]; then _files; else compadd -- "$@"; fi
}
_sockit() {
  local cmdpath="" w i npos=0 spec
  for ((i = 2; i < CURRENT; i++)); do
    w=\${words[i]}
${walkWords('words')}
  done
  if spec=$(_sockit_value "$cmdpath" "\${words[CURRENT-1]}"); then _sockit_reply \${=spec}; return; fi
  if [[ $PREFIX != -* ]] && spec=$(_sockit_arg "$cmdpath" "$npos"); then
    _sockit_reply \${=spec}
    return
  fi
  compadd -- $(_sockit_subs "$cmdpath") $(_sockit_opts "$cmdpath")
}
compdef _sockit sockit
`;
}

/** fish: what completes a value (`-x`: words only, `-r -F`: files too). */
function fishValue(s: ValueSpec): string {
  const words = s.words.length > 0 ? ` -a '${s.words.join(' ')}'` : '';
  return `${s.files ? '-r -F' : '-x'}${words}`;
}

/** fish: `complete` rules, each under the condition that its command path was typed. */
function fish(nodes: Node[]): string {
  const lines = [
    '# fish completion for sockit; load with: sockit completion fish | source',
    'complete -c sockit -f',
  ];
  const seen = (words: readonly string[]): string =>
    `__fish_seen_subcommand_from ${words.join(' ')}`;
  for (const n of nodes) {
    const parts = n.path ? n.path.split(' ') : [];
    const cond =
      parts.length === 0
        ? `not ${seen(nodes[0]!.subcommands)}`
        : parts.map((p) => seen([p])).join('; and ');
    const add = (rest: string): number => lines.push(`complete -c sockit -n '${cond}' ${rest}`);
    if (n.subcommands.length > 0) {
      const fresh = parts.length === 0 ? cond : `${cond}; and not ${seen(n.subcommands)}`;
      for (const s of n.subcommands) lines.push(`complete -c sockit -n '${fresh}' -a ${s}`);
    }
    const first = n.args[0];
    if (first && (first.files || first.words.length > 0))
      add(first.files ? '-F' : fishValue(first));
    for (const o of n.options) {
      const value = n.values.get(o);
      const flag = o.startsWith('--') ? `-l ${o.slice(2)}` : `-s ${o.slice(1)}`;
      add(value ? `${flag} ${fishValue(value)}` : flag);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** `sockit completion bash|zsh|fish`: a completion script generated from the command tree. */
export function makeCompletionCommand(ctx: CliContext, root: () => Command): Command {
  return new Command('completion')
    .description('print a shell completion script')
    .addArgument(new Argument('<shell>', 'bash | zsh | fish').choices(['bash', 'zsh', 'fish']))
    .addHelpText(
      'after',
      `
Examples:
  source <(sockit completion bash)      # in ~/.bashrc
  source <(sockit completion zsh)       # in ~/.zshrc
  sockit completion fish > ~/.config/fish/completions/sockit.fish`,
    )
    .action((shell: 'bash' | 'zsh' | 'fish') => {
      const nodes = walk(root());
      const script = shell === 'bash' ? bash(nodes) : shell === 'zsh' ? zsh(nodes) : fish(nodes);
      ctx.io.stdout.write(script);
    });
}
