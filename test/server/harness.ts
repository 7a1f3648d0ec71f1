// Starts an xDS server on loopback over a FakeCache, with a raw client; `stop()` closes both.
import { createServer } from '../../src/server/index.js';
import type { ServerOptions, XdsServer } from '../../src/server/index.js';
import { XdsTestClient } from '../support/xds-client.js';
import { FakeCache } from './fake-cache.js';

export interface Harness {
  cache: FakeCache;
  xds: XdsServer;
  client: XdsTestClient;
  port: number;
  stop(): Promise<void>;
}

export async function startHarness(options: ServerOptions = {}): Promise<Harness> {
  const cache = new FakeCache();
  const xds = createServer(cache, options);
  const port = await xds.listen('127.0.0.1:0');
  const client = new XdsTestClient(`127.0.0.1:${port}`);
  return {
    cache,
    xds,
    client,
    port,
    async stop() {
      client.close();
      await xds.close({ deadlineMs: 500 });
    },
  };
}

/** Polls until `check` holds (bounded). */
export async function eventually(check: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const NODE = { id: 'node-1', cluster: 'test' };
