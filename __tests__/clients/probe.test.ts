/**
 * connect_ex and probes against real loopback sockets: open and closed TCP
 * ports, every resolved address tried, results in port order, the self-connect
 * trap, --wait, and UDP probes (closed only on an ICMP refusal).
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { constants } from 'node:os';
import { Buffer } from 'node:buffer';
import {
  boundedConcurrency,
  connectEx,
  probe,
  probeUnix,
  type ProbeResult,
} from '../../src/clients/probe.js';
import { tcpAttempt } from '../../src/clients/tcp-attempt.js';
import { NetworkError, UsageError } from '../../src/net/errors.js';
import { EchoHandler } from '../../src/handlers/echo.js';
import { tempSocketPath, Teardown } from '../helpers/loopback.js';
import { closedUdpPort, engineTcp, engineUdp, freePort } from './peers.js';

const teardown = new Teardown();
afterEach(() => teardown.run());

describe('connectEx (Python connect_ex)', () => {
  test('0 for a listening port, ECONNREFUSED with its errno number for a closed one', async () => {
    const open = await engineTcp(EchoHandler as never, teardown);
    const closed = await freePort();
    await expect(connectEx('127.0.0.1', open)).resolves.toEqual({
      errno: 0,
      code: '0',
      address: '127.0.0.1',
    });
    await expect(connectEx('127.0.0.1', closed)).resolves.toEqual({
      errno: constants.errno.ECONNREFUSED,
      code: 'ECONNREFUSED',
      address: '127.0.0.1',
    });
  });

  test('the fast path and net.connect give the same answers', async () => {
    const open = await engineTcp(EchoHandler as never, teardown);
    const closed = await freePort();
    for (const useNet of [false, true]) {
      const a = await tcpAttempt({
        address: '127.0.0.1',
        family: 4,
        port: open,
        timeoutMs: 2000,
        useNet,
      });
      const b = await tcpAttempt({
        address: '127.0.0.1',
        family: 4,
        port: closed,
        timeoutMs: 2000,
        useNet,
      });
      expect(a.code).toBe('0');
      expect(a.localPort).toEqual(expect.any(Number));
      expect(b.code).toBe('ECONNREFUSED');
    }
  });

  test('every resolved address is tried: a name for ::1 and 127.0.0.1 reaches either server', async () => {
    const both = async () => [
      { address: '::1', family: 6 as const },
      { address: '127.0.0.1', family: 4 as const },
    ];
    const v4 = await engineTcp(EchoHandler as never, teardown, '127.0.0.1');
    expect(await connectEx('dual.test', v4, { lookup: both })).toEqual({
      errno: 0,
      code: '0',
      address: '127.0.0.1',
    });
    const v6 = await engineTcp(EchoHandler as never, teardown, '::1').catch(() => undefined);
    if (v6 !== undefined) {
      const reversed = async () => (await both()).reverse();
      expect(await connectEx('dual.test', v6, { lookup: reversed })).toMatchObject({
        errno: 0,
        address: '::1',
      });
    }
    // and the system's localhost reaches a server on 127.0.0.1 however it resolves
    expect((await connectEx('localhost', v4)).errno).toBe(0);
  });

  test('a probe that connects to itself is reported closed, not open', async () => {
    // bind the source port to the target port: the kernel completes a TCP
    // simultaneous open with itself, which is what nc -z mistakes for "open"
    const port = await freePort();
    const r = await connectEx('127.0.0.1', port, { localPort: port, localAddress: '127.0.0.1' });
    expect(r).toEqual({
      errno: constants.errno.ECONNREFUSED,
      code: 'ECONNREFUSED',
      address: '127.0.0.1',
      selfConnect: true,
    });
  });

  test('an unresolvable name rejects with a NetworkError', async () => {
    await expect(connectEx('no-such-host.invalid', 80)).rejects.toThrow(NetworkError);
  });
});

describe('probe', () => {
  test('a range with known open and closed ports: results in port order, onResult in order', async () => {
    const a = await engineTcp(EchoHandler as never, teardown);
    const b = await engineTcp(EchoHandler as never, teardown);
    // ports in between may belong to other programs: only assert on ours and on
    // ports we hold closed ourselves
    const closed = await freePort();
    const seen: number[] = [];
    const results = await probe('127.0.0.1', `${a - 5}-${a + 5},${b},${closed}`, {
      concurrency: 4,
      onResult: (r) => seen.push(r.port),
    });
    const ports = results.map((r) => r.port);
    expect(ports).toEqual([...ports].sort((x, y) => x - y));
    expect(seen).toEqual(ports);
    const byPort = new Map(results.map((r) => [r.port, r]));
    expect(byPort.get(a)).toMatchObject({ open: true, state: 'open', errno: '0', errnum: 0 });
    expect(byPort.get(b)).toMatchObject({ open: true, state: 'open' });
    expect(byPort.get(closed)).toMatchObject({
      open: false,
      state: 'closed',
      errno: 'ECONNREFUSED',
      errnum: constants.errno.ECONNREFUSED,
      proto: 'tcp',
      host: '127.0.0.1',
    });
  });

  test('a bad spec is bad usage', async () => {
    await expect(probe('127.0.0.1', '80-20')).rejects.toThrow(UsageError);
  });

  test('wait: a refused port is retried until something listens there', async () => {
    const port = await freePort();
    const server = createServer();
    teardown.add(() => new Promise((r) => server.close(r)));
    const attempts: string[] = [];
    const results = await probe('127.0.0.1', [port], {
      wait: 15,
      timeout: 1,
      onAttempt: (r) => {
        attempts.push(r.state);
        if (attempts.length === 1) server.listen(port, '127.0.0.1');
      },
    });
    expect(attempts[0]).toBe('closed');
    expect(attempts.at(-1)).toBe('open');
    expect(results).toEqual([expect.objectContaining({ port, open: true })]);
  });

  test('wait: a name that does not resolve yet is looked up again', async () => {
    const port = await engineTcp(EchoHandler as never, teardown);
    let lookups = 0;
    const lookup = async () => {
      lookups += 1;
      return lookups < 3 ? [] : [{ address: '127.0.0.1', family: 4 as const }];
    };
    const [r] = await probe('db.starting', [port], { wait: 10, lookup });
    expect(lookups).toBe(3);
    expect(r).toMatchObject({ open: true, host: 'db.starting', address: '127.0.0.1' });
    // without wait, the first failure is final
    await expect(probe('db.starting', [port], { lookup: async () => [] })).rejects.toThrow(
      /cannot resolve 'db.starting'/,
    );
  });

  test('wait: gives up when the time runs out, with the last answer', async () => {
    const port = await freePort();
    let attempts = 0;
    const [r] = await probe('127.0.0.1', [port], {
      wait: 0.3,
      onAttempt: () => (attempts += 1),
    });
    expect(r).toMatchObject({ state: 'closed', errno: 'ECONNREFUSED' });
    expect(attempts).toBeGreaterThan(1);
  });
});

describe('UDP probe', () => {
  test('closed on an ICMP refusal, open when the server replies', async () => {
    const open = await engineUdp(EchoHandler as never, teardown);
    const closed = await closedUdpPort();
    const results = await probe('127.0.0.1', [open, closed], {
      udp: true,
      timeout: 2,
      udpPayload: Buffer.from('x'),
    });
    const byPort = new Map(results.map((r: ProbeResult) => [r.port, r]));
    expect(byPort.get(open)).toMatchObject({ proto: 'udp', state: 'open', open: true });
    expect(byPort.get(closed)).toMatchObject({
      state: 'closed',
      open: false,
      errno: 'ECONNREFUSED',
    });
  });

  test('silence is open|filtered, never open', async () => {
    const silent = createSocket('udp4');
    teardown.add(() => silent.close());
    silent.bind(0, '127.0.0.1');
    await once(silent, 'listening');
    const got = once(silent, 'message');
    const [r] = await probe('127.0.0.1', [silent.address().port], { udp: true, timeout: 0.3 });
    await got; // the probe datagram did arrive
    expect(r).toMatchObject({ state: 'open|filtered', open: false, errno: '0' });
  });
});

describe('probeUnix (connect -z --unix)', () => {
  function listenAt(path: string): void {
    const server = createServer((s) => s.destroy());
    teardown.add(() => new Promise((r) => server.close(r)));
    server.listen(path);
  }

  test('open where something listens, ENOENT with its errno number where nothing is', async () => {
    const tmp = tempSocketPath();
    teardown.add(tmp.cleanup);
    listenAt(tmp.path);
    await expect(probeUnix(tmp.path)).resolves.toEqual({
      path: tmp.path,
      open: true,
      state: 'open',
      errno: '0',
      errnum: 0,
    });
    const none = `${tmp.dir}/none.sock`;
    await expect(probeUnix(none)).resolves.toEqual({
      path: none,
      open: false,
      state: 'closed',
      errno: 'ENOENT',
      errnum: constants.errno.ENOENT,
    });
  });

  test('wait: retried until something listens there', async () => {
    const tmp = tempSocketPath();
    teardown.add(tmp.cleanup);
    const result = probeUnix(tmp.path, { wait: 20 });
    listenAt(tmp.path); // after the first attempt, which found nothing
    await expect(result).resolves.toMatchObject({ open: true, errno: '0' });
  });

  test('wait: gives up when the time runs out, or at once when aborted', async () => {
    const tmp = tempSocketPath();
    teardown.add(tmp.cleanup);
    const started = Date.now();
    await expect(probeUnix(tmp.path, { wait: 0.3 })).resolves.toMatchObject({ errno: 'ENOENT' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    const ac = new AbortController();
    const aborted = probeUnix(tmp.path, { wait: 60, signal: ac.signal });
    ac.abort();
    await expect(aborted).resolves.toMatchObject({ open: false });
  });
});

describe('concurrency bound', () => {
  test('never above the open-file limit, at least 1', () => {
    expect(boundedConcurrency(1)).toBe(1);
    expect(boundedConcurrency(10_000_000)).toBeLessThan(10_000_000);
    expect(boundedConcurrency(0)).toBe(1);
  });
});
