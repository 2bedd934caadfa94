/**
 * What `sendto` prints of the replies: nothing at all without --wait (not a varying
 * number of the replies that beat the last datagram), each reply byte for byte with
 * --wait on a pipe, and counts in the right number ("1 datagram sent").
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { Buffer } from 'node:buffer';
import { run } from '../helpers/cli.js';
import { Teardown } from '../helpers/loopback.js';
import { EchoHandler } from '../../src/handlers/echo.js';
import { engineUdp } from '../clients/peers.js';

const teardown = new Teardown();
afterEach(() => teardown.run());

describe('sendto replies', () => {
  test('-c 3 -i 0.1 without --wait: no reply read or printed, every time', async () => {
    const port = String(await engineUdp(EchoHandler as never, teardown));
    for (let i = 0; i < 3; i += 1) {
      const r = await run(['sendto', '-v', '-c', '3', '-i', '0.1', '127.0.0.1', port, 'ping']);
      expect(r.code).toBe(0);
      expect(r.stdout.length).toBe(0);
      expect(r.stderr).not.toContain('reply');
      expect(r.stderr).toContain('3 datagrams sent (12 bytes)\n');
    }
  });

  test('--wait on a pipe: each reply byte for byte, nothing added', async () => {
    const port = String(await engineUdp(EchoHandler as never, teardown));
    const args = ['sendto', '--hex-input', '--wait', '10', '127.0.0.1', port];
    const r = await run([...args, '6869', '00ff0d', '0a0a', '41']);
    expect(r.code).toBe(0);
    expect(r.stdout).toEqual(Buffer.from('686900ff0d0a0a41', 'hex'));
  });

  test('-v counts in the right number: 1 datagram, 1 byte, 1 reply', async () => {
    const port = String(await engineUdp(EchoHandler as never, teardown));
    const r = await run(['sendto', '-v', '--wait', '10', '127.0.0.1', port, 'x']);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe('x');
    expect(r.stderr).toMatch(/reply from 127\.0\.0\.1:\d+: 1 byte\n/);
    expect(r.stderr).toContain('1 datagram sent (1 byte), 1 reply\n');
    expect(r.stderr).not.toMatch(/\b1 (datagrams|bytes|replies)\b/);
  });

  test('connect -u -v: "1 datagram sent"', async () => {
    const port = String(await engineUdp(EchoHandler as never, teardown));
    const r = await run(['connect', '-u', '-v', '-q', '0.5', '127.0.0.1', port], { input: 'x' });
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe('x');
    expect(r.stderr).toContain('1 datagram sent, 1 received\n');
  });
});
