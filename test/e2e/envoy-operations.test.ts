// What an operator sees of a real Envoy: the status (HTTP handler, table and JSON), CSDS asked by a gRPC client
// built from Envoy's csds.proto, Prometheus metrics scraped from the registry, and gRPC health. Envoy takes a
// first snapshot (SYNCED), then rejects a listener (ERROR, with Envoy's own message), over ADS
// state-of-the-world and ADS delta.
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { SnapshotCache } from '../../src/cache/index.js';
import { createPrometheusMetrics } from '../../src/metrics/index.js';
import { TypeUrl } from '../../src/resource/index.js';
import { combineCallbacks, createServer, createStatusHandler, type NackEvent } from '../../src/server/index.js';
import { envoyTest, startEnvoy, type EnvoyInstance } from '../support/envoy.js';
import { configSource, modeBootstrap, proxySnapshot, servedBy, useUpstreams, withFilterAfterRouter, type XdsMode } from '../support/envoy-xds.js';
import { csdsClient, healthClient, unary } from '../support/grpc-clients.js';
import { freePort } from '../support/ports.js';

const upstreams = useUpstreams();
const ENVOY_LISTENER_ERROR = /^Error adding\/updating listener\(s\) http: .*terminal filter named envoy\.filters\.http\.router .* must be the last filter/s;

/** The value of one sample in the registry's text, as Prometheus scrapes it (0 when absent). */
async function scrape(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of (await registry.metrics()).split('\n')) {
    const match = /^([\w:]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (match?.[1] === name && want.every((w) => match[2].split(',').includes(w))) return Number(match[3]);
  }
  return 0;
}

async function operationsScenario(mode: XdsMode): Promise<void> {
  const nodeId = `ops-${mode}`;
  const protocol = mode === 'ads-delta' ? 'delta' : 'sotw';
  const registry = new Registry();
  const metrics = createPrometheusMetrics({ registry });
  const cache = new SnapshotCache({ ads: true });
  metrics.observeCache(cache);
  const nacks: NackEvent[] = [];
  const xds = createServer(cache, { csds: true, health: true, callbacks: combineCallbacks(metrics.callbacks, { onNack: (e) => void nacks.push(e) }) });
  metrics.observeServer(xds);
  const statusServer = createHttpServer(createStatusHandler(cache));
  let envoy: EnvoyInstance | undefined;
  const grpc = await xds.listen('127.0.0.1:0');
  const csds = csdsClient(`127.0.0.1:${grpc}`);
  const health = healthClient(`127.0.0.1:${grpc}`);
  try {
    await new Promise<void>((resolve) => statusServer.listen(0, '127.0.0.1', resolve));
    const statusUrl = `http://127.0.0.1:${(statusServer.address() as AddressInfo).port}/status`;
    const status = async () => ((await (await fetch(`${statusUrl}?format=json&node=${nodeId}`)).json()) as { nodes: any[] }).nodes[0];
    const typeStatus = async (type: string) => ((await status())?.types ?? []).find((t: any) => t.type === type);
    const listenerInCsds = async () => {
      const response = await unary(csds, 'FetchClientStatus', { node_matchers: [{ node_id: { exact: nodeId } }] });
      assert.equal(response.config.length, 1, 'one client matches');
      assert.equal(response.config[0].node.id, nodeId);
      return response.config[0].generic_xds_configs.find((c: any) => c.type_url === TypeUrl.Listener && c.name === 'http');
    };

    // Health: NOT_SERVING until the first snapshot, SERVING after it.
    assert.equal((await unary(health, 'Check', { service: '' })).status, 'NOT_SERVING');
    const options = { mode, nodeId, controlPlane: { grpc } };
    const source = configSource(options);
    const listenerPort = await freePort();
    const v1 = proxySnapshot({ version: '1', listenerPort, source, clusters: { a: [upstreams.a.port] }, routes: [{ prefix: '/', cluster: 'a' }] });
    await cache.setSnapshot(nodeId, v1);
    assert.equal((await unary(health, 'Check', { service: '' })).status, 'SERVING');

    // Envoy takes version 1: every type it was sent is SYNCED, in the status, the table and CSDS.
    envoy = await startEnvoy({ name: `ops-${mode}`, bootstrap: modeBootstrap(options) });
    const proxy = envoy;
    await proxy.waitFor(async () => (await servedBy(listenerPort)) === 'A', 10_000, 'traffic served by A');
    await proxy.waitFor(async () => (await status())?.state === 'SYNCED', 5_000, 'the node SYNCED');
    const synced = await status();
    assert.deepEqual(synced.types.map((t: any) => [t.type, t.state, t.ackedVersion]), [
      ['CDS', 'SYNCED', '1'],
      ['EDS', 'SYNCED', '1'],
      ['LDS', 'SYNCED', '1'],
      ['RDS', 'SYNCED', '1'],
    ]);
    assert.match(await (await fetch(statusUrl)).text(), new RegExp(`^${nodeId}\\s+1\\s+1\\s+SYNCED \\(1\\)\\s+SYNCED \\(1\\)\\s+SYNCED \\(1\\)\\s+SYNCED \\(1\\)$`, 'm'));
    const acked = await listenerInCsds();
    assert.deepEqual([acked.version_info, acked.client_status, acked.config_status], ['1', 'ACKED', 'SYNCED']);
    assert.equal(acked.xds_config.type_url, TypeUrl.Listener);
    const listenerAcks = await scrape(registry, 'xds_acks_total', { protocol, type: 'listeners' });
    assert.ok(listenerAcks >= 1, 'the listener ACK is counted');

    // Version 2: Envoy rejects the listener. The status says ERROR with Envoy's message, and so does CSDS.
    await cache.setSnapshot(nodeId, withFilterAfterRouter(v1, '2'));
    const nack = await proxy.waitFor(() => nacks.find((n) => n.typeUrl === TypeUrl.Listener), 10_000, 'a NACK of the listener');
    assert.match(nack.errorDetail.message, ENVOY_LISTENER_ERROR);
    const lds = await typeStatus('LDS');
    assert.equal(lds.state, 'ERROR');
    assert.equal(lds.ackedVersion, '1', 'Envoy still runs version 1');
    assert.deepEqual([lds.lastNack.version, lds.lastNack.message], ['2', nack.errorDetail.message]);
    assert.equal((await status()).state, 'ERROR');
    const table = await (await fetch(statusUrl)).text();
    assert.match(table, new RegExp(`^${nodeId}\\s.*ERROR \\(rejected 2, acked 1\\)`, 'm'));
    assert.ok(table.includes(`${nodeId} LDS rejected version 2 at `) && table.includes(nack.errorDetail.message.split('\n')[0]), table);
    const rejected = await listenerInCsds();
    assert.deepEqual([rejected.version_info, rejected.client_status, rejected.config_status], ['2', 'NACKED', 'ERROR']);
    assert.equal(rejected.error_state.details, nack.errorDetail.message);
    assert.equal(rejected.error_state.version_info, '2');

    // Metrics: the ACK and the NACK of the listener are counted; convergence was measured for version 1.
    assert.equal(await scrape(registry, 'xds_nacks_total', { protocol, type: 'listeners' }), 1);
    assert.equal(await scrape(registry, 'xds_acks_total', { protocol, type: 'listeners' }), listenerAcks, 'the NACK is not an ACK');
    assert.ok((await scrape(registry, 'xds_convergence_seconds_count', { type: 'listeners' })) >= 1);
    assert.equal(await scrape(registry, 'xds_streams_open', { protocol, service: 'ads' }), 1, "Envoy's one ADS stream");
  } finally {
    csds.close();
    health.close();
    await envoy?.stop();
    await xds.close({ deadlineMs: 1_000 });
    await new Promise<void>((resolve) => statusServer.close(() => resolve()));
  }
}

for (const mode of ['ads-sotw', 'ads-delta'] as const) {
  void envoyTest(`operations (${mode}): health SERVING after the first snapshot; status and CSDS show Envoy SYNCED, then ERROR with Envoy's message; metrics count the ACK and the NACK`, () => operationsScenario(mode), {
    timeout: 60_000,
  });
}
