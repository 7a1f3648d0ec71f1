// HTTP echo server standing in for the sandbox's service1/service2 (jmalloc/echo-server in Envoy's
// original). Plain Node, no dependencies: the same file runs in the Docker image (./Dockerfile) and,
// imported, in the no-Docker runner and the tests.
//
// Reply format, as in the sandbox guide:
//
//   Request served by service1
//
//   HTTP/1.1 GET /
//
//   Host: localhost:10000
//   Accept: */*
//   ...
//
// followed by a blank line and the request body, if any.
//
// Run: SERVICE_NAME=service1 PORT=8080 node server.mjs

import { createServer } from 'node:http';
import { hostname } from 'node:os';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Go's textproto.CanonicalMIMEHeaderKey, so headers read like the Go echo server's (Envoy sends them lower case). */
function canonicalHeaderName(name) {
  return name
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1).toLowerCase())
    .join('-');
}

/**
 * Builds the echo reply text for a request.
 *
 * @param {string} name
 * @param {import('node:http').IncomingMessage} req
 * @param {Buffer} body
 * @returns {string}
 */
export function echoText(name, req, body) {
  const lines = [`Request served by ${name}`, '', `HTTP/${req.httpVersion} ${req.method} ${req.url}`, ''];
  lines.push(`Host: ${req.headers.host ?? ''}`);
  // rawHeaders keeps order and repeated headers; Host is printed first, as Go does.
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const key = req.rawHeaders[i];
    if (key.toLowerCase() === 'host') continue;
    lines.push(`${canonicalHeaderName(key)}: ${req.rawHeaders[i + 1]}`);
  }
  return `${lines.join('\n')}\n\n${body.toString('utf8')}`;
}

/**
 * Creates (does not start) an echo server that names itself `name` in every reply.
 *
 * @param {string} name
 * @returns {import('node:http').Server}
 */
export function createEchoServer(name) {
  return createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const text = echoText(name, req, Buffer.concat(chunks));
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    });
  });
}

/**
 * Starts an echo server.
 *
 * @param {{ name: string, port?: number, host?: string }} options
 *   `port` 0 (the default) picks a free port; `host` defaults to 127.0.0.1 (loopback only).
 * @returns {Promise<{ name: string, host: string, port: number, url: string,
 *   server: import('node:http').Server, close(): Promise<void> }>}
 */
export function startEchoServer({ name, port = 0, host = '127.0.0.1' }) {
  const server = createEchoServer(name);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : port;
      const urlHost = host.includes(':') ? `[${host}]` : host;
      resolve({
        name,
        host,
        port: bound,
        url: `http://${urlHost}:${bound}`,
        server,
        close: () =>
          new Promise((done) => {
            server.close(() => done());
            // Keep-alive connections (Envoy pools them) would hold close() open.
            server.closeAllConnections();
          }),
      });
    });
  });
}

function isMain() {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  const name = process.env.SERVICE_NAME || hostname();
  const port = Number(process.env.PORT || 8080);
  const host = process.env.HOST || '0.0.0.0';
  const echo = await startEchoServer({ name, port, host });
  console.log(`echo server ${name} listening on ${host}:${echo.port}`);
  const stop = () => {
    void echo.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
