/**
 * netcat's habit: `sockit -l 9000`, `sockit -lu 9000`, `sockit -lk 9000` run
 * `sockit listen …` (the `l` taken out of the flag cluster, the other flags
 * kept). Only flags may come before the `-l`; anything else is left to the parser.
 */

/** A flag cluster with an `l` in it: `-l`, `-lu`, `-kl`, `-lkv`. */
const LISTEN_CLUSTER = /^-[A-Za-z]*l[A-Za-z]*$/;

/** `argv` (as in process.argv) with a leading `-l…` cluster turned into `listen`. */
export function netcatListen(argv: readonly string[]): readonly string[] {
  const args = argv.slice(2);
  const at = args.findIndex((a) => LISTEN_CLUSTER.test(a));
  if (at < 0 || args.slice(0, at).some((a) => !a.startsWith('-'))) return argv;
  const rest = args[at]!.slice(1).replace('l', '');
  return [
    ...argv.slice(0, 2),
    'listen',
    ...args.slice(0, at),
    ...(rest === '' ? [] : [`-${rest}`]),
    ...args.slice(at + 1),
  ];
}
