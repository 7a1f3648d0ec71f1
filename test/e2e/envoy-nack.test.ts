// Real Envoy rejects a listener (its HTTP connection manager puts a filter after the router: a rule Envoy checks
// when it builds the filter chain, beyond the field rules the library checks). Envoy keeps serving the last good configuration; our onNack callback
// and the cache's status carry Envoy's message; the rejected version goes to each stream exactly once (no resend
// loop); a fixed version is then accepted. Over ADS state-of-the-world, ADS delta and per-type SotW.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { SnapshotCache } from '../../src/cache/index.js';
import { TypeUrl } from '../../src/resource/index.js';
import { createServer, type NackEvent } from '../../src/server/index.js';
import { envoyTest, startEnvoy, type EnvoyInstance } from '../support/envoy.js';
import { configSource, dumpedVersions, isDelta, modeBootstrap, proxySnapshot, servedBy, withFilterAfterRouter, type XdsMode, useUpstreams } from '../support/envoy-xds.js';
import { freePort } from '../support/ports.js';

const upstreams = useUpstreams();

async function nackScenario(mode: XdsMode): Promise<void> {
  const nodeId = `nack-${mode}`;
  const nacks: NackEvent[] = [];
  /** Listener responses by version, per stream. */
  const listenerResponses = new Map<string, Map<number, number>>();
  const countResponse = (streamId: number, typeUrl: string, version: string): void => {
    if (typeUrl !== TypeUrl.Listener) return;
    const byStream = listenerResponses.get(version) ?? new Map<number, number>();
    byStream.set(streamId, (byStream.get(streamId) ?? 0) + 1);
    listenerResponses.set(version, byStream);
  };
  const cache = new SnapshotCache({ ads: mode.startsWith('ads') });
  const xds = createServer(cache, {
    callbacks: {
      onNack: (nack) => void nacks.push(nack),
      onStreamResponse: (id, _request, response) => countResponse(id, response.typeUrl, response.version),
      onStreamDeltaResponse: (id, _request, response) => countResponse(id, response.typeUrl, response.systemVersion),
    },
  });
  let envoy: EnvoyInstance | undefined;
  try {
    const grpc = await xds.listen('127.0.0.1:0');
    const options = { mode, nodeId, controlPlane: { grpc } };
    const source = configSource(options);
    const listenerPort = await freePort();
    const good = (version: string, upstream: 'a' | 'b') =>
      proxySnapshot({ version, listenerPort, source, clusters: { a: [upstreams.a.port], b: [upstreams.b.port] }, routes: [{ prefix: '/', cluster: upstream }] });

    const v1 = good('1', 'a');
    await cache.setSnapshot(nodeId, v1);
    envoy = await startEnvoy({ name: `nack-${mode}`, bootstrap: modeBootstrap(options) });
    const proxy = envoy;
    await proxy.waitFor(async () => (await servedBy(listenerPort)) === 'A', 10_000, 'traffic served by A');
    const goodListenerVersion = (await dumpedVersions(proxy)).listeners['http'];
    assert.ok(goodListenerVersion);

    // Version 2: the listener is invalid.
    await cache.setSnapshot(nodeId, withFilterAfterRouter(v1, '2'));
    const nack = await proxy.waitFor(() => nacks.find((n) => n.typeUrl === TypeUrl.Listener), 10_000, 'a NACK of the listener');
    assert.equal(nack.nodeId, nodeId);
    assert.equal(nack.rejectedVersion, '2');
    assert.equal(nack.delta, isDelta(mode));
    assert.match(nack.errorDetail.message, /^Error adding\/updating listener\(s\) http: .*terminal filter named envoy\.filters\.http\.router .* must be the last filter/s);
    assert.equal(nack.errorDetail.code, 13, 'INTERNAL, as Envoy sends it');
    const status = cache.getStatusInfo(nodeId)?.types.get(TypeUrl.Listener)?.lastNack;
    assert.ok(status, 'the cache status has the NACK');
    assert.equal(status.version, '2');
    assert.equal(status.errorDetail.message, nack.errorDetail.message);

    // No resend loop: over two seconds, version 2 of the listener went to its stream once, Envoy rejected once,
    // and Envoy keeps serving the last good listener.
    await sleep(2_000);
    const sent = listenerResponses.get('2');
    assert.ok(sent, 'version 2 was sent');
    assert.deepEqual([...sent.values()], [1], 'version 2 of the listener sent once, to one stream');
    assert.equal(nacks.filter((n) => n.typeUrl === TypeUrl.Listener).length, 1, 'one NACK');
    const rejected = await proxy.stats('^listener_manager\\.lds\\.update_rejected$');
    assert.equal(rejected['listener_manager.lds.update_rejected'], 1);
    assert.equal(await servedBy(listenerPort), 'A', 'Envoy still serves through the last good listener');
    assert.equal((await dumpedVersions(proxy)).listeners['http'], goodListenerVersion, 'config_dump keeps the good listener');

    // Version 3: fixed (and routed to B): accepted.
    const v3 = good('3', 'b');
    await cache.setSnapshot(nodeId, v3);
    await proxy.waitFor(async () => (await servedBy(listenerPort)) === 'B', 10_000, 'traffic served by B');
    await proxy.waitFor(() => cache.getStatusInfo(nodeId)?.types.get(TypeUrl.Listener)?.lastAckedVersion === '3', 5_000, 'ACK of listener version 3');
    assert.equal(nacks.length, 1, 'nothing else rejected');
  } finally {
    await envoy?.stop();
    await xds.close({ deadlineMs: 1_000 });
  }
}

for (const mode of ['ads-sotw', 'ads-delta', 'sotw'] as const) {
  void envoyTest(`Envoy (${mode}) NACKs an invalid listener: last good config kept, Envoy's message reported, rejected version sent once, fix accepted`, () => nackScenario(mode), {
    timeout: 30_000,
  });
}
