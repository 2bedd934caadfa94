/**
 * The README's user handler, examples/reverse-lines.js: ten lines of plain ESM
 * that `import … from 'sockit'` (jest.config.js maps it to dist/ as the CLI does, so run
 * `npm run build` first). It must run on every transport, in-process through the
 * package's own server classes and behind `sockit serve --handler`.
 */
import { afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Buffer } from 'node:buffer';
import type * as Sockit from '../../src/index.js';
import { exchange, Teardown, tempSocketPath } from '../helpers/loopback.js';
import { startServer } from '../helpers/cli.js';
import { udpRequest, unixDgramRequest } from '../helpers/matrix.js';
import { eachIf, unixDgramMissing } from '../helpers/skip.js';

const EXAMPLE = fileURLToPath(new URL('../../examples/reverse-lines.js', import.meta.url));

// Specifiers in variables: resolved at run time ('sockit' → dist/index.js, as for any
// user of the package), so type-checking needs neither dist/ nor types for the example.
// Loaded one after the other: Jest's ESM loader trips over concurrent imports of one graph.
const PACKAGE = 'sockit';
let sockit: typeof Sockit;
let ReverseLines: typeof Sockit.StreamRequestHandler;
beforeAll(async () => {
  sockit = (await import(PACKAGE)) as typeof Sockit;
  ReverseLines = ((await import(EXAMPLE)) as { default: typeof ReverseLines }).default;
});

const teardown = new Teardown();
afterEach(() => teardown.run());

type Transport = 'tcp' | 'udp' | 'unix' | 'unix-dgram';
const TRANSPORTS: readonly Transport[] = ['tcp', 'udp', 'unix', 'unix-dgram'];

const INPUT = 'hello\nsockit ünïcode\n';
const OUTPUT = 'olleh\nedocïnü tikcos\n';

/** One request to whatever listens at `where`. */
function ask(transport: Transport, where: string, dir: string): Promise<Buffer> {
  switch (transport) {
    case 'tcp':
      return exchange({ port: Number(where) }, INPUT);
    case 'unix':
      return exchange({ path: where }, INPUT);
    case 'udp':
      return udpRequest({ family: 'IPv4', address: '127.0.0.1', port: Number(where) }, INPUT);
    case 'unix-dgram':
      return unixDgramRequest(where, INPUT, dir);
  }
}

describe('examples/reverse-lines.js', () => {
  test('is a StreamRequestHandler of the package, ten lines of code or so', async () => {
    expect(ReverseLines.prototype).toBeInstanceOf(sockit.StreamRequestHandler);
    const { readFileSync } = await import('node:fs');
    const code = readFileSync(EXAMPLE, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.trim().startsWith('//'));
    expect(code.length).toBeLessThanOrEqual(10);
    expect(code).toContain("import { StreamRequestHandler } from 'sockit';");
  });

  eachIf(
    TRANSPORTS,
    unixDgramMissing,
    import.meta.url,
  )('runs in-process on %s', async (transport) => {
    const tmp = tempSocketPath();
    teardown.add(tmp.cleanup);
    const local = { host: '127.0.0.1', port: 0 };
    const server =
      transport === 'tcp'
        ? new sockit.TCPServer(local, ReverseLines)
        : transport === 'udp'
          ? new sockit.UDPServer(local, ReverseLines)
          : transport === 'unix'
            ? new sockit.UnixStreamServer(join(tmp.dir, 's.sock'), ReverseLines)
            : new sockit.UnixDatagramServer(join(tmp.dir, 's.sock'), ReverseLines);
    teardown.add(() => server.serverClose());
    const addr = await server.listen();
    const serving = server.serveForever(0.05);
    teardown.add(() => server.shutdown().then(() => serving));
    const where = addr.family === 'unix' ? addr.path : String(addr.port);
    expect((await ask(transport, where, tmp.dir)).toString()).toBe(OUTPUT);
  });

  eachIf(
    TRANSPORTS,
    unixDgramMissing,
    import.meta.url,
  )('runs behind `sockit serve --handler` on %s', async (transport) => {
    const tmp = tempSocketPath();
    teardown.add(tmp.cleanup);
    const path = join(tmp.dir, 's.sock');
    const args =
      transport === 'tcp' || transport === 'udp'
        ? ['serve', transport, '0', '--handler', EXAMPLE]
        : ['serve', 'unix', path, '--handler', EXAMPLE];
    if (transport === 'unix-dgram') args.push('--datagram');
    const server = await startServer(args);
    teardown.add(async () => {
      if (server.child.exitCode === null) {
        const closed = once(server.child, 'close');
        server.child.kill('SIGTERM');
        await closed;
      }
    });
    const where = transport === 'tcp' || transport === 'udp' ? String(server.port) : path;
    expect((await ask(transport, where, tmp.dir)).toString()).toBe(OUTPUT);
    expect(server.stderr()).not.toMatch(/failed/);
  });
});
