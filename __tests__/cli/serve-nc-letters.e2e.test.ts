/**
 * serve's -w, -q and -e are not netcat's letters: `serve … --help` and the man page
 * say how they differ and where nc's meanings live, the man page maps netcat, ncat
 * and socat commands to sockit, and `-e <program>` points at --exec.
 */
import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { run } from '../helpers/cli.js';

const MAN = readFileSync(fileURLToPath(new URL('../../man/sockit.1', import.meta.url)), 'utf8');
/** The man page as text: roff's escaped dashes plain. */
const manText = MAN.replace(/\\-/g, '-');

describe("serve's -w, -q and -e against netcat's", () => {
  for (const transport of ['tcp', 'udp', 'unix']) {
    test(`serve ${transport} --help says how they differ`, async () => {
      const r = await run(['serve', transport, '--help']);
      expect(r.code).toBe(0);
      const help = r.stdout.toString().replace(/\s+/g, ' ');
      expect(help).toContain("netcat's letters mean other things in serve");
      expect(help).toMatch(
        /-w, --workers <n> the threading\/forking pool size; nc -w is a timeout/,
      );
      expect(help).toMatch(
        /-q, --quiet less logging; nc -q quits after EOF \(that is connect -q\)/,
      );
      expect(help).toMatch(
        /-e, --handler .* nc\/ncat -e runs a program per connection \(here --exec/,
      );
    });
  }

  test('the man page says it at each option and maps nc, ncat and socat commands', () => {
    const text = manText.replace(/\s+/g, ' ');
    expect(text).toContain("Not netcat's -w, a timeout");
    expect(text).toContain("Not netcat's -q, which quits after end of input");
    expect(text).toContain("Not netcat's -e: nc and ncat run a program per connection with -e");
    for (const [nc, sockit] of [
      ['nc -l 1234', 'sockit listen 1234'],
      ['nc -w 5 host 1234', 'sockit connect -w 5 host 1234'],
      ['nc -q 1 host 1234', 'sockit connect -q 1 host 1234'],
      ['ncat -e prog host 1234', 'sockit connect --exec prog host 1234'],
      ['socat TCP-L:1234,fork EXEC:prog', 'sockit serve tcp 1234 --exec prog'],
    ] as const) {
      expect(manText).toMatch(new RegExp(`^${escape(nc)}\\t${escape(sockit)}`, 'm'));
    }
  });

  test('-e /bin/cat (a program, as ncat -e takes) points at --exec', async () => {
    const r = await run(['serve', 'tcp', '0', '-e', '/bin/cat']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain("--exec '/bin/cat'");
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
