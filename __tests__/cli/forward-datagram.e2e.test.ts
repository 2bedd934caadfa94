/**
 * `sockit serve udp … --forward udp://…`: one upstream socket per sender, so that
 * each sender gets only its own replies; sessions end after their silence; the
 * session cap refuses a new sender.
 */
import { describe, expect, test } from '@jest/globals';
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { Buffer } from 'node:buffer';
import { jsonEvents, serve, udpAsk, useServeTeardown, type Served } from './serve-helpers.js';
import { untilCount } from './forward-helpers.js';
import { join } from 'node:path';
import { NO_UNIX_DGRAM, testIf } from '../helpers/skip.js';
import { unixDgramRequest } from '../helpers/matrix.js';

const { defer, udp, tmp } = useServeTeardown();

/** A UDP upstream that answers `<datagram>!` to its sender and remembers each sender's port. */
async function udpUpstream(): Promise<{ port: number; sources: Map<string, number> }> {
  const socket: UdpSocket = createSocket('udp4');
  const sources = new Map<string, number>();
  socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
    sources.set(msg.toString(), rinfo.port);
    socket.send(Buffer.concat([msg, Buffer.from('!')]), rinfo.port, rinfo.address);
  });
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  defer(() => socket.close());
  return { port: socket.address().port, sources };
}

/** `sockit serve udp 0 --forward udp://127.0.0.1:<port> …extra`. */
function relayTo(port: number, ...extra: string[]): Promise<Served> {
  return serve(['serve', 'udp', '0', '--forward', `udp://127.0.0.1:${port}`, ...extra]);
}

describe('udp → udp', () => {
  test('two senders each get only their own replies; sessions expire', async () => {
    const u = await udpUpstream();
    const s = await relayTo(u.port, '--session-timeout', '2s', '--json');
    const a = await udp();
    const b = await udp();
    expect((await udpAsk(a, s.port, 'a1')).toString()).toBe('a1!');
    expect((await udpAsk(b, s.port, 'b1')).toString()).toBe('b1!');
    // both at once: each reply still goes to its own sender
    const [ra, rb] = await Promise.all([udpAsk(a, s.port, 'a2'), udpAsk(b, s.port, 'b2')]);
    expect([ra.toString(), rb.toString()]).toEqual(['a2!', 'b2!']);
    // one upstream socket per sender: the same source port for a sender's datagrams
    expect(u.sources.get('a2')).toBe(u.sources.get('a1'));
    expect(u.sources.get('b2')).toBe(u.sources.get('b1'));
    expect(u.sources.get('a1')).not.toBe(u.sources.get('b1'));

    await untilCount(s, '"reason":"session-timeout"', 2);
    const ended = jsonEvents(s.stderr()).filter((e) => e.event === 'forward');
    const aPort = a.address().port;
    const fromA = ended.find((e) => (e.peer as { port?: number }).port === aPort);
    expect(fromA).toMatchObject({
      peer: { address: '127.0.0.1', port: aPort },
      upstream: `udp://127.0.0.1:${u.port}`,
      bytesUp: 4,
      bytesDown: 6,
      reason: 'session-timeout',
    });
    // a new session after the old one ended
    expect((await udpAsk(a, s.port, 'a3')).toString()).toBe('a3!');
  });

  test('--max-conns caps sessions: a new sender beyond it is refused', async () => {
    const u = await udpUpstream();
    const s = await relayTo(u.port, '--max-conns', '1');
    const a = await udp();
    const b = await udp();
    expect((await udpAsk(a, s.port, 'a1')).toString()).toBe('a1!');
    b.send('b1', s.port, '127.0.0.1');
    await s.waitFor(/refused 127\.0\.0\.1:\d+ — too many connections \(--max-conns 1\)/);
    expect(u.sources.has('b1')).toBe(false);
    expect((await udpAsk(a, s.port, 'a2')).toString()).toBe('a2!');
  });
});

describe('unix datagrams', () => {
  testIf(NO_UNIX_DGRAM, import.meta.url)(
    'unix --datagram → unix-dgram://: replies come back to the bound sender',
    async () => {
      const { dir } = tmp();
      const upstreamPath = join(dir, 'up.sock');
      const relayPath = join(dir, 'relay.sock');
      await serve(['serve', 'unix', upstreamPath, '--datagram', '-e', 'upper']);
      await serve([
        'serve',
        'unix',
        relayPath,
        '--datagram',
        '--forward',
        `unix-dgram://${upstreamPath}`,
      ]);
      expect((await unixDgramRequest(relayPath, 'via unix', dir)).toString()).toBe('VIA UNIX');
      expect((await unixDgramRequest(relayPath, 'twice', dir)).toString()).toBe('TWICE');
    },
  );
});
