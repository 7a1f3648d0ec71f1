// docs/getting-started.md end to end: Envoy runs the shipped bootstrap (examples/bootstrap/envoy-ads.yaml, with
// free ports instead of 18000 and 9901) against the complete HTTP example (examples/http/main.ts), and serves
// traffic through listener -> HTTP connection manager -> routes -> cluster -> endpoints.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { startHelloUpstream, startHttpControlPlane } from '../../examples/http/main.js';
import { envoyTest, startEnvoy } from '../support/envoy.js';
import { httpGet } from '../support/ads-envoy.js';
import { freePort } from '../support/ports.js';

/** The shipped bootstrap, pointed at `controlPlanePort`. */
function shippedBootstrap(controlPlanePort: number): Record<string, unknown> {
  const text = readFileSync('examples/bootstrap/envoy-ads.yaml', 'utf8');
  assert.match(text, /port_value: 18000/);
  return parse(text.replace('port_value: 18000', `port_value: ${controlPlanePort}`)) as Record<string, unknown>;
}

envoyTest('Envoy with the shipped bootstrap serves HTTP traffic configured by the HTTP example', async () => {
  const { server: upstreamServer, upstream } = await startHelloUpstream();
  const listenerPort = await freePort();
  const { xds, port } = await startHttpControlPlane({ address: '127.0.0.1:0', nodeId: 'envoy-1', listenerPort, upstreams: [upstream] });
  const envoy = await startEnvoy({ bootstrap: shippedBootstrap(port), name: 'getting-started' });
  try {
    const answer = await envoy.waitFor(async () => {
      const r = await httpGet(listenerPort).catch(() => undefined);
      return r?.status === 200 ? r : undefined;
    }, 20_000, 'a 200 through the listener');
    assert.match(answer.body, new RegExp(`hello from upstream 127\\.0\\.0\\.1:${upstream.port} \\(GET /\\)`));
    const dump = JSON.stringify(await envoy.configDump());
    for (const name of ['"http"', '"routes"', '"backend"']) assert.ok(dump.includes(name), `config_dump has ${name}`);
  } finally {
    await envoy.stop();
    await xds.close({ deadlineMs: 100 });
    upstreamServer.close();
  }
});
