// Real Envoy served by the worker mode: it converges on the snapshot the application set once, serves traffic,
// and when the worker holding its stream is killed under steady traffic, no request fails: Envoy keeps its
// configuration, reconnects (the primary hands the new connection to a living worker) and takes the next update.
// Over ADS state-of-the-world and ADS delta. And what an operator asks: CSDS, served by a worker and answered by
// the primary, reports Envoy's configuration SYNCED, then ERROR with Envoy's own message; `authorize`, run in the
// primary, is given Envoy's node.
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SnapshotCache } from '../../src/cache/index.js';
import { TypeUrl } from '../../src/resource/index.js';
import { allow, createServer, type AckEvent, type AuthorizeRequest, type NackEvent } from '../../src/server/index.js';
import { envoyTest, startEnvoy, type EnvoyInstance } from '../support/envoy.js';
import { configSource, dumpedVersions, httpGet, isAds, modeBootstrap, proxySnapshot, servedBy, useUpstreams, withFilterAfterRouter, type XdsMode } from '../support/envoy-xds.js';
import { csdsClient, unary } from '../support/grpc-clients.js';
import { freePort } from '../support/ports.js';

const upstreams = useUpstreams();

async function workerScenario(mode: XdsMode, t: TestContext): Promise<void> {
  const nodeId = `workers-${mode}`;
  const cache = new SnapshotCache({ ads: isAds(mode) });
  const acks: AckEvent[] = [];
  const nacks: NackEvent[] = [];
  const xds = createServer(cache, { workers: 2, callbacks: { onAck: (e) => void acks.push(e), onNack: (e) => void nacks.push(e) } });
  let envoy: EnvoyInstance | undefined;
  let stopped = false;
  let traffic: Promise<void> | undefined;
  try {
    const grpc = await xds.listen('127.0.0.1:0');
    const options = { mode, nodeId, controlPlane: { grpc } };
    const source = configSource(options);
    const listenerPort = await freePort();
    const { a, b } = { a: upstreams.a.port, b: upstreams.b.port };
    await cache.setSnapshot(nodeId, proxySnapshot({ version: '1', listenerPort, source, clusters: { one: [a] }, routes: [{ prefix: '/', cluster: 'one' }] }));
    envoy = await startEnvoy({ name: nodeId, bootstrap: modeBootstrap(options) });
    const proxy = envoy;
    await proxy.waitFor(async () => (await httpGet(listenerPort)).ok, 15_000, 'the listener to answer');
    const first = await dumpedVersions(proxy);
    assert.deepEqual([Object.keys(first.listeners), Object.keys(first.routes), first.endpoints], [['http'], ['routes'], { one: [a] }], 'Envoy runs version 1');
    await proxy.waitFor(() => acks.filter((e) => e.nodeId === nodeId).length >= 4, 5_000, 'the ACKs of four types, reported in this process');
    // One ADS stream, or one stream per type on Envoy's one connection (so in one worker).
    assert.equal(cache.getStatusInfo(nodeId)?.openStreams, isAds(mode) ? 1 : 4, 'the status, kept in this process, counts the streams served by a worker');

    // Steady traffic, one request at a time over a kept-alive connection, from before the kill until after the update.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const failures: string[] = [];
    const served: string[] = [];
    traffic = (async () => {
      while (!stopped) {
        const result = await httpGet(listenerPort, '/', agent, 5_000);
        if (!result.ok) failures.push(result.error);
        else if (result.status !== 200) failures.push(`${result.status} ${result.body.slice(0, 100)}`);
        else served.push(result.servedBy ?? '?');
        await sleep(10);
      }
      agent.destroy();
    })();
    await sleep(300);

    const holder = (await xds.workers()).find((w) => w.stats.streams > 0);
    assert.ok(holder !== undefined, 'a worker serves Envoy\'s stream');
    const killedAt = Date.now();
    process.kill(holder.pid, 'SIGKILL');
    // Envoy reconnects; the primary hands the connection to a living worker (the survivor or the replacement).
    await proxy.waitFor(async () => (await xds.workers()).some((w) => w.pid !== holder.pid && w.stats.streams > 0), 15_000, 'Envoy to reconnect to another worker');
    const reconnectMs = Date.now() - killedAt;
    await proxy.waitFor(async () => (await xds.workers()).length === 2, 15_000, 'the killed worker to be replaced');

    await cache.setSnapshot(nodeId, proxySnapshot({ version: '2', listenerPort, source, clusters: { one: [b] }, routes: [{ prefix: '/', cluster: 'one' }] }));
    await proxy.waitFor(() => served.slice(-10).length === 10 && served.slice(-10).every((s) => s === 'B'), 10_000, 'traffic to move to B after the kill');
    stopped = true;
    await traffic;
    traffic = undefined;
    const after = await dumpedVersions(proxy);
    assert.deepEqual(after.endpoints, { one: [b] }, 'Envoy is in sync with version 2');
    assert.deepEqual(failures, [], `no request failed (${served.length} served; Envoy back on a worker ${reconnectMs} ms after the kill)`);
    assert.ok(served.length > 20, `traffic flowed through the kill (${served.length} requests)`);
    assert.deepEqual(nacks, [], 'Envoy rejected nothing');
    t.diagnostic(`${mode}: ${served.length} requests, ${failures.length} failed; Envoy's stream on another worker ${reconnectMs} ms after the kill`);
  } finally {
    stopped = true;
    await traffic;
    await envoy?.stop();
    await xds.close({ deadlineMs: 1_000 });
  }
}

for (const mode of ['ads-sotw', 'ads-delta', 'sotw', 'delta'] as const) {
  void envoyTest(
    `Envoy served by two worker processes (${mode}) converges, and a worker killed under traffic fails no request: Envoy reconnects and takes the next update`,
    (t) => workerScenario(mode, t),
    { timeout: 90_000 },
  );
}

async function operationsScenario(mode: XdsMode): Promise<void> {
  const nodeId = `workers-csds-${mode}`;
  const cache = new SnapshotCache({ ads: true });
  const nacks: NackEvent[] = [];
  const authorized: AuthorizeRequest[] = [];
  const xds = createServer(cache, {
    workers: 2,
    csds: true,
    authorize: (request) => {
      authorized.push(request);
      return allow();
    },
    callbacks: { onNack: (e) => void nacks.push(e) },
  });
  let envoy: EnvoyInstance | undefined;
  const grpc = await xds.listen('127.0.0.1:0');
  const csds = csdsClient(`127.0.0.1:${grpc}`);
  try {
    const listenerInCsds = async () => {
      const response = await unary(csds, 'FetchClientStatus', { node_matchers: [{ node_id: { exact: nodeId } }] });
      return response.config?.[0]?.generic_xds_configs.find((c: any) => c.type_url === TypeUrl.Listener && c.name === 'http');
    };
    const options = { mode, nodeId, controlPlane: { grpc } };
    const source = configSource(options);
    const listenerPort = await freePort();
    const v1 = proxySnapshot({ version: '1', listenerPort, source, clusters: { a: [upstreams.a.port] }, routes: [{ prefix: '/', cluster: 'a' }] });
    await cache.setSnapshot(nodeId, v1);
    envoy = await startEnvoy({ name: nodeId, bootstrap: modeBootstrap(options) });
    const proxy = envoy;
    await proxy.waitFor(async () => (await servedBy(listenerPort)) === 'A', 15_000, 'traffic served by A');

    // authorize ran here, for Envoy's ADS stream, with Envoy's node.
    assert.ok(authorized.length >= 1, 'authorize was asked');
    for (const request of authorized) {
      assert.deepEqual([request.kind, request.node.id, request.node.user_agent_name], [mode === 'ads-delta' ? 'delta' : 'sotw', nodeId, 'envoy']);
    }

    // CSDS through a worker: the listener Envoy ACKed is ACKED and SYNCED (once the worker's report arrived).
    const acked = await proxy.waitFor(async () => {
      const listener = await listenerInCsds();
      return listener?.client_status === 'ACKED' ? listener : undefined;
    }, 5_000, 'CSDS to show the listener ACKED');
    assert.deepEqual([acked.version_info, acked.config_status], ['1', 'SYNCED']);
    assert.equal(acked.xds_config.type_url, TypeUrl.Listener);

    // Version 2: Envoy rejects the listener; CSDS says NACKED and ERROR, with Envoy's message.
    await cache.setSnapshot(nodeId, withFilterAfterRouter(v1, '2'));
    const nack = await proxy.waitFor(() => nacks.find((n) => n.typeUrl === TypeUrl.Listener), 10_000, 'a NACK of the listener');
    const rejected = await proxy.waitFor(async () => {
      const listener = await listenerInCsds();
      return listener?.client_status === 'NACKED' ? listener : undefined;
    }, 5_000, 'CSDS to show the listener NACKED');
    assert.deepEqual([rejected.version_info, rejected.config_status], ['2', 'ERROR']);
    assert.equal(rejected.error_state.details, nack.errorDetail.message);
    assert.match(rejected.error_state.details, /terminal filter named envoy\.filters\.http\.router/);
  } finally {
    csds.close();
    await envoy?.stop();
    await xds.close({ deadlineMs: 1_000 });
  }
}

void envoyTest(
  'worker mode (ads-delta): CSDS from a worker reports Envoy SYNCED, then ERROR with Envoy\'s message; authorize runs in the primary with Envoy\'s node',
  () => operationsScenario('ads-delta'),
  { timeout: 60_000 },
);
