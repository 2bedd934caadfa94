/**
 * `-x/--hex-dump` and `-o/--output` end to end: the dump of a known exchange (the
 * client sends `hello\n`, the server replies `HELLO\n`) byte for byte against the
 * expected files, on connect and on serve, over TCP, UDP, unix and unix datagram;
 * the raw log of the same exchange; `--append-output`; the options refused where
 * they cannot work.
 */
import { describe, expect, test } from '@jest/globals';
import { readFileSync, writeFileSync } from 'node:fs';
import { Buffer, isUtf8 } from 'node:buffer';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { run, start } from '../helpers/cli.js';
import { dial, readBytes, serve, stop, useServeTeardown } from './serve-helpers.js';

const { tmp } = useServeTeardown();
const EXPECTED = fileURLToPath(new URL('../fixtures/tap/', import.meta.url));

type Kind = 'tcp' | 'udp' | 'unix' | 'unix-dgram';

/** The dump with what changes from run to run (times, ports, temp paths) named. */
function masked(text: string, paths: Record<string, string> = {}): string {
  let out = text.replace(/ at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/gm, ' at TIME');
  out = out.replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT');
  for (const [name, path] of Object.entries(paths)) out = out.split(path).join(name);
  return out.replace(/\/tmp\/sockit-[^/\s]+\/c\.sock/g, 'CLIENT');
}

function expected(name: string): string {
  return readFileSync(join(EXPECTED, `${name}.txt`), 'utf8');
}

function serverArgs(kind: Kind, path: string): string[] {
  if (kind === 'tcp' || kind === 'udp') return ['serve', kind, '0'];
  return ['serve', 'unix', path, ...(kind === 'unix-dgram' ? ['--datagram'] : [])];
}

function clientArgs(kind: Kind, port: number, path: string): string[] {
  if (kind === 'tcp') return ['connect', '127.0.0.1', String(port)];
  if (kind === 'udp') return ['connect', '-u', '-q', '0', '127.0.0.1', String(port)];
  return ['connect', '--unix', path, ...(kind === 'unix-dgram' ? ['--datagram', '-q', '0'] : [])];
}

/** `hello\n` from a connect client; datagram clients quit once the reply is in. */
async function exchange(kind: Kind, args: string[]): Promise<Buffer> {
  const child = start(args, { keepStdin: true });
  const out: Buffer[] = [];
  const closed = once(child, 'close') as Promise<[number | null]>;
  const replied = new Promise<void>((resolve) =>
    child.stdout.on('data', (c: Buffer) => {
      out.push(c);
      if (Buffer.concat(out).includes('\n')) resolve();
    }),
  );
  child.stdin.write('hello\n');
  if (kind === 'tcp' || kind === 'unix') child.stdin.end();
  else {
    await replied;
    child.stdin.end();
  }
  const [code] = await closed;
  expect(code).toBe(0);
  return Buffer.concat(out);
}

describe('the hex dump of hello / HELLO, byte for byte', () => {
  test.each<Kind>(['tcp', 'udp', 'unix', 'unix-dgram'])('%s: connect and serve', async (kind) => {
    const { dir, path } = tmp();
    const serverDump = join(dir, 'server.hex');
    const serverRaw = join(dir, 'server.raw');
    const clientDump = join(dir, 'client.hex');
    const clientRaw = join(dir, 'client.raw');
    const s = await serve([
      ...serverArgs(kind, path),
      '-e',
      'upper',
      '-x',
      serverDump,
      '-o',
      serverRaw,
    ]);
    const reply = await exchange(kind, [
      ...clientArgs(kind, s.port, path),
      '-x',
      clientDump,
      '-o',
      clientRaw,
    ]);
    expect(reply.toString()).toBe('HELLO\n');
    expect(await stop(s)).toBe(0);
    const paths = { SERVER: path };
    expect(masked(readFileSync(clientDump, 'utf8'), paths)).toBe(expected(`connect-${kind}`));
    expect(masked(readFileSync(serverDump, 'utf8'), paths)).toBe(expected(`serve-${kind}`));
    expect(readFileSync(clientRaw, 'latin1')).toBe('hello\nHELLO\n');
    expect(readFileSync(serverRaw, 'latin1')).toBe('hello\nHELLO\n');
  });

  test('-x - writes the dump to stderr; stdout carries the reply only', async () => {
    const s = await serve(['serve', 'tcp', '0', '-e', 'upper']);
    const r = await run(['send', '127.0.0.1', String(s.port), 'hello', '-n', '-x', '-']);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe('HELLO\n');
    expect(masked(r.stderr)).toBe(expected('connect-tcp'));
  });

  test('sendto and recvfrom: one record per datagram, with the sender', async () => {
    const rx = await serve(['recvfrom', '0', '--count', '1', '--echo', '-x', '-']);
    const r = await run([
      'sendto',
      '--wait',
      '10',
      '127.0.0.1',
      String(rx.port),
      'hello',
      '-n',
      '-x',
      '-',
    ]);
    expect(r.code).toBe(0);
    expect(await rx.exited).toBe(0);
    const dump = (text: string): string[] =>
      masked(text)
        .split('\n')
        .filter((l) => /^[#<>]/.test(l));
    expect(dump(r.stderr)).toEqual([
      '# > udp 127.0.0.1:PORT 6 bytes at TIME',
      '> 00000000  68 65 6c 6c 6f 0a                                 |hello.|',
      '# < udp 127.0.0.1:PORT 6 bytes at TIME',
      '< 00000000  68 65 6c 6c 6f 0a                                 |hello.|',
    ]);
    expect(dump(rx.stderr())).toEqual([
      '# < udp 127.0.0.1:PORT 6 bytes at TIME',
      '< 00000000  68 65 6c 6c 6f 0a                                 |hello.|',
      '# > udp 127.0.0.1:PORT 6 bytes at TIME',
      '> 00000000  68 65 6c 6c 6f 0a                                 |hello.|',
    ]);
  });
});

describe('files', () => {
  test('-o replaces the file; --append-output appends to it', async () => {
    const { dir } = tmp();
    const raw = join(dir, 'raw.bin');
    writeFileSync(raw, 'old;');
    const s = await serve(['serve', 'tcp', '0']);
    await run(['send', '127.0.0.1', String(s.port), 'a', '-o', raw]);
    expect(readFileSync(raw, 'latin1')).toBe('aa');
    await run(['send', '127.0.0.1', String(s.port), 'b', '-o', raw, '--append-output']);
    expect(readFileSync(raw, 'latin1')).toBe('aabb');
  });

  test.each([
    [['-o', '-'], /^sockit: -o needs a file — stdout carries the data/],
    [['-o', '/no/such/dir/x'], /^sockit: cannot write -o '\/no\/such\/dir\/x' — ENOENT/],
  ])('send %j: one line', async (flags, message) => {
    const r = await run(['send', '127.0.0.1', '9', 'x', ...flags]);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.split('\n')).toHaveLength(2);
    expect(r.code).toBe(flags[1] === '-' ? 2 : 1);
  });

  test('a stream server in forking mode refuses a tap (its connections live in workers)', async () => {
    const r = await run(['serve', 'tcp', '0', '-m', 'forking', '-w', '1', '-x', '-']);
    expect(r.stderr).toBe(
      'sockit: a traffic tap cannot see connections served in worker processes (--mode forking) — use threading or async\n',
    );
    expect(r.code).toBe(2);
  });

  test('-z moves no data: -x is refused', async () => {
    const r = await run(['connect', '-z', '127.0.0.1', '9', '-x', '-']);
    expect(r.stderr).toBe('sockit: -z moves no data: -x and -o have nothing to log\n');
    expect(r.code).toBe(2);
  });
});

/** Bytes with few repeated rows, so that a row out of place shows. */
function pattern(length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i += 1) b[i] = (i * 7 + (i >> 8) * 13) & 255;
  return b;
}

/**
 * The bytes of each direction of a hex dump, read back from its rows; fails on a
 * row whose offset is not the running offset of its direction.
 */
function undump(text: string): { '<': Buffer; '>': Buffer } {
  const parts = { '<': [] as string[], '>': [] as string[] };
  const length = { '<': 0, '>': 0 };
  const misplaced: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^(?:\[\d+\] )?([<>]) ([0-9a-f]{8,}) {2}(.{49}) \|/.exec(line);
    if (!m) continue;
    const dir = m[1] as '<' | '>';
    if (parseInt(m[2]!, 16) !== length[dir]) misplaced.push(line);
    const hex = m[3]!.replace(/ /g, '');
    parts[dir].push(hex);
    length[dir] += hex.length / 2;
  }
  expect(misplaced).toEqual([]);
  return {
    '<': Buffer.from(parts['<'].join(''), 'hex'),
    '>': Buffer.from(parts['>'].join(''), 'hex'),
  };
}

describe('complete when a signal stops the command', () => {
  const MiB = 1024 * 1024;

  test('connect stopped by SIGINT mid-session: both logs hold every byte that moved', async () => {
    const { dir } = tmp();
    const [hex, raw] = [join(dir, 'c.hex'), join(dir, 'c.raw')];
    const s = await serve(['serve', 'tcp', '0']);
    const child = start(['connect', '127.0.0.1', String(s.port), '-x', hex, '-o', raw], {
      keepStdin: true,
    });
    const sent = pattern(MiB);
    const out: Buffer[] = [];
    let got = 0;
    const echoed = new Promise<void>((resolve) =>
      child.stdout.on('data', (c: Buffer) => {
        out.push(c);
        got += c.length;
        if (got >= sent.length) resolve();
      }),
    );
    const closed = once(child, 'close') as Promise<[number | null]>;
    child.stdin.write(sent); // stdin stays open: only the signal ends the session
    await echoed;
    child.kill('SIGINT');
    expect((await closed)[0]).toBe(130);
    expect(Buffer.concat(out).equals(sent)).toBe(true);
    const dump = undump(readFileSync(hex, 'latin1'));
    expect(dump['>'].equals(sent)).toBe(true);
    expect(dump['<'].equals(sent)).toBe(true);
    expect(readFileSync(raw).length).toBe(2 * sent.length);
  });

  test.each<NodeJS.Signals>(['SIGINT', 'SIGTERM'])(
    'serve stopped by %s with a connection open: both logs hold every byte that moved',
    async (signal) => {
      const { dir } = tmp();
      const [hex, raw] = [join(dir, 's.hex'), join(dir, 's.raw')];
      const s = await serve(['serve', 'tcp', '0', '-x', hex, '-o', raw]);
      const socket = await dial({ port: s.port });
      socket.on('error', () => undefined);
      const sent = pattern(MiB);
      socket.write(sent);
      expect((await readBytes(socket, sent.length)).equals(sent)).toBe(true);
      expect(await stop(s, signal)).toBe(0); // the connection is still open
      const dump = undump(readFileSync(hex, 'latin1'));
      expect(dump['<'].equals(sent)).toBe(true);
      expect(dump['>'].equals(sent)).toBe(true);
      expect(readFileSync(raw).length).toBe(2 * sent.length);
      socket.destroy();
    },
  );
});

describe('a hostile peer cannot reach the terminal', () => {
  /** ESC, a CSI (clear screen), an OSC (window title), C1 CSI (U+009B), DEL, NUL, CR. */
  const CONTROLS = '\u001b[2J\u001b]0;pwned\u0007\u009b31m\u007f\u0000\r\n';
  const PAYLOADS: [string, Buffer][] = [
    ['valid UTF-8 with controls', Buffer.from(`hi ${CONTROLS}é`, 'utf8')],
    [
      'invalid UTF-8 with controls',
      Buffer.concat([
        Buffer.from(CONTROLS, 'utf8'),
        Buffer.from([0xff, 0xfe, 0x80, 0xe2, 0x82, 0x9b, 0x1b, 0x5b, 0x41, 0xc0, 0xaf]),
      ]),
    ],
  ];

  /** Printable ASCII and newlines only: nothing a terminal would act on. */
  function expectInert(text: Buffer): void {
    const bad = [...text].filter((b) => b !== 0x0a && (b < 0x20 || b > 0x7e));
    expect(bad).toEqual([]);
  }

  test.each(PAYLOADS)(
    '%s: -x - on both sides is plain ASCII; send --json is valid UTF-8 JSON with every control escaped',
    async (_name, payload) => {
      const s = await serve(['serve', 'tcp', '0', '-x', '-']);
      const r = await run(['send', '--json', '-x', '-', '127.0.0.1', String(s.port)], {
        input: payload,
      });
      expect(r.code).toBe(0);
      expect(await stop(s)).toBe(0);
      expectInert(Buffer.from(r.stderr, 'utf8'));
      expectInert(Buffer.from(s.stderr(), 'utf8'));
      // the dump still holds the bytes exactly, both ways, on both sides
      expect(undump(r.stderr)['>'].equals(payload)).toBe(true);
      expect(undump(r.stderr)['<'].equals(payload)).toBe(true);
      expect(undump(s.stderr())['<'].equals(payload)).toBe(true);
      expect(undump(s.stderr())['>'].equals(payload)).toBe(true);
      // the JSON line: valid UTF-8, one line, no raw C0, DEL or C1 character
      expect(isUtf8(r.stdout)).toBe(true);
      const line = r.stdout.toString('utf8');
      expect(line.endsWith('\n')).toBe(true);
      // eslint-disable-next-line no-control-regex
      expect(line.slice(0, -1)).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
      const event = JSON.parse(line) as { data: string; encoding: BufferEncoding };
      expect(Buffer.from(event.data, event.encoding).equals(payload)).toBe(true);
    },
  );
});
