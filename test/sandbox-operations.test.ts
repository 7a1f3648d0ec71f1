// The sandbox's control plane (examples/sandbox/main.ts, run as its own process) shows what it does: gRPC health
// and CSDS on its xDS port, the status and Prometheus metrics on its admin port.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { csdsClient, healthClient, unary } from './support/grpc-clients.js';
import { freePort } from './support/ports.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
let child: ChildProcess;
let xdsPort: number;
let admin: string;

before(async () => {
  xdsPort = await freePort();
  const adminPort = await freePort();
  admin = `http://127.0.0.1:${adminPort}`;
  child = spawn(
    process.execPath,
    ['--conditions=xds-source', '--import', 'tsx', join(repo, 'examples/sandbox/main.ts'), '--port', String(xdsPort), '--admin-port', String(adminPort), '--node', 'sandbox-node'],
    { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + 30_000;
  while (!output.includes('admin endpoint on port')) {
    if (child.exitCode !== null) throw new Error(`the control plane exited: ${output}`);
    if (Date.now() > deadline) throw new Error(`the control plane did not start: ${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
});

after(async () => {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
});

test('gRPC health on the xDS port is SERVING: the snapshot is set before it listens', async () => {
  const client = healthClient(`127.0.0.1:${xdsPort}`);
  try {
    assert.equal((await unary(client, 'Check', { service: '' })).status, 'SERVING');
    assert.equal((await unary(client, 'Check', { service: 'envoy.service.discovery.v3.AggregatedDiscoveryService' })).status, 'SERVING');
  } finally {
    client.close();
  }
});

test('CSDS on the xDS port answers, with no client connected yet', async () => {
  const client = csdsClient(`127.0.0.1:${xdsPort}`);
  try {
    assert.deepEqual((await unary(client, 'FetchClientStatus', {})).config ?? [], []);
  } finally {
    client.close();
  }
});

test('/status on the admin port says no node is connected, as a table and as JSON', async () => {
  assert.equal(await (await fetch(`${admin}/status`)).text(), 'no node is connected\n');
  assert.deepEqual(await (await fetch(`${admin}/status?format=json`)).json(), { nodes: [] });
});

test('/metrics on the admin port is Prometheus text that counts the snapshots set, and a live change adds one', async () => {
  const scrape = async () => {
    const res = await fetch(`${admin}/metrics`);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return res.text();
  };
  const first = await scrape();
  assert.match(first, /^xds_snapshots_set_total 1$/m);
  assert.match(first, /^xds_snapshot_build_seconds_count 1$/m);
  assert.match(first, /^# TYPE xds_convergence_seconds histogram$/m);
  const change = await fetch(`${admin}/upstream?host=service2`, { method: 'POST' });
  assert.equal(change.status, 200);
  assert.match(await scrape(), /^xds_snapshots_set_total 2$/m);
});
