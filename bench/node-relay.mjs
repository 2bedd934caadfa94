// The minimal Node relay the forward handler is compared with:
//   node node-relay.mjs tcp PORT TARGET_PORT [HOST]   net.connect + pipe both ways
//   node node-relay.mjs udp PORT TARGET_PORT [HOST]   one connected upstream socket per sender
import net from 'node:net';
import dgram from 'node:dgram';

const [mode, port, target, host = '127.0.0.1'] = process.argv.slice(2);

if (mode === 'tcp') {
  const opts = { noDelay: true, allowHalfOpen: true };
  net
    .createServer(opts, (client) => {
      const upstream = net.connect({ ...opts, port: Number(target), host: '127.0.0.1' });
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
    })
    .listen(Number(port), host);
} else if (mode === 'udp') {
  const server = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const sessions = new Map();
  server.on('message', (msg, from) => {
    const key = `${from.address}:${from.port}`;
    let up = sessions.get(key);
    if (!up) {
      up = dgram.createSocket('udp4');
      up.on('message', (reply) => server.send(reply, from.port, from.address));
      up.on('error', () => undefined);
      up.connect(Number(target), '127.0.0.1');
      up.pending = [];
      up.once('connect', () => {
        for (const m of up.pending) up.send(m);
        up.pending = undefined;
      });
      sessions.set(key, up);
    }
    if (up.pending) up.pending.push(msg);
    else up.send(msg);
  });
  server.bind(Number(port), host);
} else {
  console.error('usage: node node-relay.mjs tcp|udp PORT TARGET_PORT [HOST]');
  process.exit(1);
}
