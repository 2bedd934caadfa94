import { Argument, Command } from 'commander';
import type { CliContext } from '../context.js';
import { HANDLER_NAMES } from '../../handlers/names.js';

/** A command path (`serve tcp`) with its options and subcommands, read from the program tree. */
interface Node {
  readonly path: string;
  readonly options: string[];
  readonly subcommands: string[];
}

function walk(cmd: Command, prefix: string[] = []): Node[] {
  const path = prefix.join(' ');
  const options = [
    ...cmd.options.flatMap((o) => [o.short, o.long].filter((f): f is string => !!f)),
    '--help',
  ];
  const subs = cmd.commands.map((c) => c.name());
  return [
    { path, options, subcommands: subs },
    ...cmd.commands.flatMap((c) => walk(c, [...prefix, c.name()])),
  ];
}

function bash(nodes: Node[]): string {
  const cases = nodes
    .map((n) => `    '${n.path}') words='${[...n.subcommands, ...n.options].join(' ')}' ;;`)
    .join('\n');
  return `# bash completion for sockit; load with: source <(sockit completion bash)
_sockit() {
  local cur cmdpath="" w i words
  cur="\${COMP_WORDS[COMP_CWORD]}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ $w == -* ]] && continue
    case " $(_sockit_subs "$cmdpath") " in *" $w "*) cmdpath="\${cmdpath:+$cmdpath }$w" ;; esac
  done
  case "\${COMP_WORDS[COMP_CWORD-1]}" in
    -e|--handler) COMPREPLY=($(compgen -W '${HANDLER_NAMES.join(' ')}' -f -- "$cur")); return ;;
    -m|--mode) COMPREPLY=($(compgen -W 'async sequential threading forking' -- "$cur")); return ;;
    --unix) COMPREPLY=($(compgen -f -- "$cur")); return ;;
  esac
  case "$cmdpath" in
${cases}
    *) words='' ;;
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
_sockit_subs() {
  case "$1" in
${nodes.map((n) => `    '${n.path}') echo '${n.subcommands.join(' ')}' ;;`).join('\n')}
  esac
}
complete -o default -F _sockit sockit
`;
}

function zsh(nodes: Node[]): string {
  return `#compdef sockit
# zsh completion for sockit; load with: source <(sockit completion zsh)
_sockit() {
  local cmdpath="" w
  for w in \${words[2,CURRENT-1]}; do
    [[ $w == -* ]] && continue
    case "$cmdpath" in
${nodes
  .filter((n) => n.subcommands.length > 0)
  .map(
    (n) =>
      `      '${n.path}') [[ " ${n.subcommands.join(' ')} " == *" $w "* ]] && cmdpath="\${cmdpath:+$cmdpath }$w" ;;`,
  )
  .join('\n')}
    esac
  done
  case "\${words[CURRENT-1]}" in
    -e|--handler) compadd -- ${HANDLER_NAMES.join(' ')}; _files; return ;;
    -m|--mode) compadd -- async sequential threading forking; return ;;
  esac
  case "$cmdpath" in
${nodes.map((n) => `    '${n.path}') compadd -- ${[...n.subcommands, ...n.options].join(' ')} ;;`).join('\n')}
  esac
}
compdef _sockit sockit
`;
}

function fish(nodes: Node[]): string {
  const lines = [
    '# fish completion for sockit; load with: sockit completion fish | source',
    'complete -c sockit -f',
  ];
  for (const n of nodes) {
    const parts = n.path ? n.path.split(' ') : [];
    const cond =
      parts.length === 0
        ? `not __fish_seen_subcommand_from ${nodes[0]!.subcommands.join(' ')}`
        : parts.map((p) => `__fish_seen_subcommand_from ${p}`).join('; and ');
    for (const s of n.subcommands) lines.push(`complete -c sockit -n '${cond}' -a ${s}`);
    for (const o of n.options) {
      const flag = o.startsWith('--') ? `-l ${o.slice(2)}` : `-s ${o.slice(1)}`;
      lines.push(`complete -c sockit -n '${cond}' ${flag}`);
    }
  }
  lines.push(`complete -c sockit -l handler -s e -a '${HANDLER_NAMES.join(' ')}'`);
  lines.push(`complete -c sockit -l mode -s m -a 'async sequential threading forking'`);
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
