/**
 * netcat's letters where users type them: `-U` for a unix socket on every client,
 * `-N` accepted by connect (sockit half-closes at stdin EOF anyway), and `-i` in
 * seconds as nc takes it.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { run } from '../helpers/cli.js';
import { Teardown, tempSocketPath } from '../helpers/loopback.js';
import { EchoHandler } from '../../src/handlers/echo.js';
import { engineUnix } from '../clients/peers.js';

const teardown = new Teardown();
afterEach(() => teardown.run());

describe("netcat's letters", () => {
  test('connect -N -U: the reply of a unix echo server, then exit 0', async () => {
    const tmp = tempSocketPath();
    teardown.add(tmp.cleanup);
    await engineUnix(EchoHandler as never, tmp.path, teardown);
    const r = await run(['connect', '-N', '-U', tmp.path], { input: 'over unix\n' });
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe('over unix\n');
  });

  test('send -U: one request, one reply', async () => {
    const tmp = tempSocketPath();
    teardown.add(tmp.cleanup);
    await engineUnix(EchoHandler as never, tmp.path, teardown);
    const r = await run(['send', '-U', tmp.path, 'ping']);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe('ping');
  });

  test('sendto -i 1: a bare number is seconds, as for nc -i', async () => {
    const rx = createSocket('udp4');
    rx.bind(0, '127.0.0.1');
    await once(rx, 'listening');
    teardown.add(() => rx.close());
    let received = 0;
    rx.on('message', () => (received += 1));
    const port = String(rx.address().port);
    const started = performance.now();
    const r = await run(['sendto', '-c', '2', '-i', '1', '127.0.0.1', port, 'tick']);
    const took = performance.now() - started;
    expect(r.code).toBe(0);
    while (received < 2) await once(rx, 'message'); // the last may still be queued
    // A floor on the sender's whole run, which load can only lengthen: one pause of a
    // second between the two datagrams (read as milliseconds it would be 1 ms). Arrival
    // times at a busy receiver are no measure: two datagrams can be read in one turn.
    expect(took).toBeGreaterThanOrEqual(1000);
  });
});
