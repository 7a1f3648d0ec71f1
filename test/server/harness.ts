// Starts an xDS server on loopback over a FakeCache, with a raw client; `stop()` closes both. And checks shared
// by the one-process and worker-mode tests.
import assert from 'node:assert/strict';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { createServer } from '../../src/server/index.js';
import type { ServerOptions, XdsServer } from '../../src/server/index.js';
import { csdsClient } from '../support/grpc-clients.js';
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

/**
 * Waits (up to 10 s) until a worker-mode server whose worker `pid` was killed has `count` workers answering again,
 * none of them the killed one. Returns their pids (the last seen, for the caller's assertion when the wait ran out).
 */
export async function workersAfterReplacing(xds: XdsServer, pid: number, count: number): Promise<number[]> {
  let pids: number[] = [];
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    pids = (await xds.workers()).map((w) => w.pid);
    if (pids.length === count && !pids.includes(pid)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return pids;
}

/**
 * Opens a StreamClientStatus call on `server` (listening on `port` with CSDS), then closes the server: the call
 * must end with UNAVAILABLE, well before the close's 5 s deadline.
 */
export async function assertCloseEndsClientStatusStreams(server: XdsServer, port: number): Promise<void> {
  const c = csdsClient(`127.0.0.1:${port}`);
  try {
    const call = c['StreamClientStatus']();
    const ended = new Promise<{ code: number }>((resolve) => call.on('error', resolve));
    call.on('data', () => undefined);
    call.write({});
    await new Promise((resolve) => call.once('data', resolve));
    const started = Date.now();
    await server.close({ deadlineMs: 5_000 });
    assert.ok(Date.now() - started < 2_000, `closed in ${Date.now() - started} ms, not at the deadline`);
    assert.equal((await ended).code, GrpcStatus.UNAVAILABLE);
  } finally {
    c.close();
  }
}
