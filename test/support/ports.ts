/**
 * Free loopback ports for tests.
 *
 * @module
 */
import { createServer } from 'node:net';

/**
 * Ports handed out by this process. The kernel may give the same ephemeral port to two successive
 * `listen(0)` calls once the first socket is closed, so we remember what we gave away.
 */
const handedOut = new Set<number>();

function bindZero(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('listen(0) gave no port'))));
    });
  });
}

/**
 * Returns a TCP port that was free on `host` a moment ago, found by binding port 0.
 *
 * Another process can still take it before the caller binds it; callers that start a server on it
 * should be ready to retry (the Envoy harness does so when a listener fails to bind).
 *
 * @param host - loopback address to probe; tests only ever use loopback.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await bindZero(host);
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no fresh free port found on ${host}`);
}

/**
 * Returns `count` distinct free ports on `host` (see {@link freePort}).
 *
 * @param count - how many ports.
 * @param host - loopback address to probe.
 */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < count; i++) ports.push(await freePort(host));
  return ports;
}
