// A user's handler for `sockit serve tcp 8443 --tls --cert server.pem --key server.key
// -e ./examples/http-hello.js`: answer one HTTP request with "hello"
// (try: curl --cacert ca.pem https://localhost:8443/).
import { StreamRequestHandler } from 'sockit';

export default class HttpHello extends StreamRequestHandler {
  async handle() {
    let head = '';
    for await (const chunk of this.rfile) {
      head += chunk.toString('latin1');
      if (head.includes('\r\n\r\n') || head.length > 65536) break;
    }
    const [method = '?', path = '/'] = head.split(' ', 2);
    const body = `hello from sockit: ${method} ${path}${this.request.encrypted ? ' over TLS' : ''}\n`;
    await this.write(
      `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
}
