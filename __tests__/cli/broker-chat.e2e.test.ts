/**
 * `-e broker` and `-e chat` with real clients: the broker relays every byte to
 * all other clients and drops one that does not read, without disturbing the
 * others; the chat prefixes lines with nicknames, announces joins, renames and
 * leaves, and escapes control characters so that nobody drives another's terminal.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Buffer } from 'node:buffer';
import { LineReader, dial, killStarted, startSockit } from './listen-helpers.js';

afterEach(async () => {
  await killStarted();
});

describe('-e broker', () => {
  test('3 clients, one never reads: it is dropped, the others get every byte', async () => {
    const server = await startSockit([
      'serve',
      'tcp',
      '0',
      '-e',
      'broker',
      '--broker-buffer',
      '256k',
    ]);
    const a = await dial(server.port);
    const b = await dial(server.port);
    const c = await dial(server.port); // never reads
    const aGot: Buffer[] = [];
    a.on('data', (d: Buffer) => aGot.push(d));
    const bHash = createHash('sha256');
    let bBytes = 0;
    const bWaiters = new Set<() => void>();
    b.on('data', (d: Buffer) => {
      bHash.update(d);
      bBytes += d.length;
      for (const w of bWaiters) w();
    });
    const bAtLeast = (n: number): Promise<void> =>
      new Promise((resolve) => {
        const check = (): void => {
          if (bBytes < n) return;
          bWaiters.delete(check);
          resolve();
        };
        bWaiters.add(check);
        check();
      });
    c.write('c-here\n'); // all three are in: C's bytes reach A and B
    await bAtLeast(7);
    const expected = createHash('sha256').update('c-here\n');
    const total = 48 << 20;
    for (let sent = 0; sent < total; sent += 64 << 10) {
      const chunk = randomBytes(64 << 10);
      expected.update(chunk);
      if (!a.write(chunk)) await once(a, 'drain');
    }
    await bAtLeast(7 + total);
    await server.waitFor(/broker: dropped 127\.0\.0\.1:\d+ \(user3\) — it does not read/);
    let cBytes = 0;
    c.on('data', (d: Buffer) => (cBytes += d.length));
    const cEnded = once(c, 'end');
    c.resume(); // now read what it had queued: then the broker's FIN
    await cEnded;
    expect(cBytes).toBeLessThan(7 + total);
    expect(bHash.digest('hex')).toBe(expected.digest('hex'));
    b.write('sentinel\n'); // A's next bytes: nothing of its own ever came back
    for (let i = 0; i < 100 && Buffer.concat(aGot).length < 16; i++) await once(a, 'data');
    expect(Buffer.concat(aGot).toString()).toBe('c-here\nsentinel\n');
  }, 120_000);
});

describe('-e chat', () => {
  test('3 clients: nicknames, joins, leaves, and escape sequences shown escaped', async () => {
    const server = await startSockit(['serve', 'tcp', '0', '-e', 'chat']);
    const a = await dial(server.port);
    const aLines = new LineReader(a);
    expect(await aLines.next()).toBe(
      '* you are user1; nobody else is here; /nick <name> renames you',
    );
    const b = await dial(server.port);
    const bLines = new LineReader(b);
    expect(await bLines.next()).toBe('* you are user2; here: user1; /nick <name> renames you');
    expect(await aLines.next()).toBe('* user2 joined');
    const c = await dial(server.port);
    const cLines = new LineReader(c);
    expect(await cLines.next()).toBe(
      '* you are user3; here: user1, user2; /nick <name> renames you',
    );
    expect([await aLines.next(), await bLines.next()]).toEqual([
      '* user3 joined',
      '* user3 joined',
    ]);

    a.write('hello everyone\n');
    expect([await bLines.next(), await cLines.next()]).toEqual([
      '<user1> hello everyone',
      '<user1> hello everyone',
    ]);
    // a terminal attack: clear screen, colours, a bell, a C1 CSI, a bare CR, an invalid byte
    c.write(
      Buffer.concat([
        Buffer.from('\x1b[2J\x1b[31mred\x07 \u009b1m x\ry '),
        Buffer.from([0xff]),
        Buffer.from('\r\n'),
      ]),
    );
    const shown = '<user3> \\x1b[2J\\x1b[31mred\\x07 \\x9b1m x\\x0dy \uFFFD';
    expect([await aLines.next(), await bLines.next()]).toEqual([shown, shown]);

    b.write('/nick bob\n');
    expect(await bLines.next()).toBe('* you are now bob');
    expect([await aLines.next(), await cLines.next()]).toEqual([
      '* user2 is now bob',
      '* user2 is now bob',
    ]);
    b.write('/nick user1\n/nick bad name!\nhi\n');
    expect(await bLines.next()).toBe('* user1 is taken');
    expect(await bLines.next()).toBe("* nicknames are 1-32 letters, digits, '_', '-' or '.'");
    expect([await aLines.next(), await cLines.next()]).toEqual(['<bob> hi', '<bob> hi']);

    c.end();
    expect([await aLines.next(), await bLines.next()]).toEqual(['* user3 left', '* user3 left']);
    b.write('after C\n');
    expect(await aLines.next()).toBe('<bob> after C');
  });
});
