/**
 * A webhook receiver for the delivery bench, run in its own process (`receiverProcess.ts`):
 * answers 204 at once to every request after reading its body, so what is measured is the
 * client's side. `GET /_count` answers how many requests it has answered, as a cross-check.
 */
import { createServer } from 'node:http';
import { listenOnLoopback } from '../../dev/loopback.js';

let answered = 0;
const server = createServer((request, response) => {
  if (request.method === 'GET' && request.url === '/_count') {
    response.writeHead(200, { 'content-type': 'text/plain' });
    response.end(String(answered));
    return;
  }
  request.resume();
  request.on('end', () => {
    answered++;
    response.writeHead(204);
    response.end();
  });
});
// Node's default (5 s) would close idle pooled sockets between measurements, longer than none do here.
server.keepAliveTimeout = 60_000;

const url = await listenOnLoopback(server);
process.stdout.write(`${url}\n`);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
