// The sandbox on a machine where its fixed ports are taken: the error names the port and the flag to use.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { test } from 'node:test';
import { busyPortsMessage } from '../examples/sandbox/walkthrough.js';
import { freePort } from './support/ports.js';

async function occupy(port: number): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

test('npm run sandbox with a taken port names it and says to use --free-ports', async () => {
  const [listener, admin, controlPlane, controlPlaneAdmin] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const ports = { listener, admin, controlPlane, controlPlaneAdmin };
  assert.equal(await busyPortsMessage(ports), undefined);
  const taken = await occupy(controlPlane);
  try {
    const message = await busyPortsMessage(ports);
    assert.match(message ?? '', new RegExp(`port ${controlPlane} \\(the control plane's xDS port\\) already in use`));
    assert.match(message ?? '', /npm run sandbox -- --free-ports/);
  } finally {
    taken.close();
  }
});

test('the sandbox control plane on a taken port says which flag to use instead of a gRPC bind error', async () => {
  const port = await freePort();
  const taken = await occupy(port);
  try {
    const run = spawnSync(
      process.execPath,
      ['--conditions=xds-source', '--import', 'tsx', 'examples/sandbox/main.ts', '--port', String(port), '--admin-port', String(await freePort())],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, new RegExp(`port ${port} is already in use: give the xDS server another one with --port PORT`));
  } finally {
    taken.close();
  }
});
