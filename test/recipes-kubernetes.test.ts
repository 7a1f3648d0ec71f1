// The Kubernetes recipe (examples/kubernetes/endpointslices.ts) against a fake API server that speaks the list
// and watch protocol of EndpointSlices: the informer of @kubernetes/client-node lists, then watches, and each
// change reaches a LinearCache of endpoints.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { KubeConfig, type V1EndpointSlice } from '@kubernetes/client-node';
import { LinearCache } from '../src/cache/index.js';
import { TypeUrl } from '../src/resource/index.js';
import type { ClusterLoadAssignment } from '../src/types/index.js';
import { loadAssignmentFromSlices, watchServiceEndpoints } from '../examples/kubernetes/endpointslices.js';

/** An EndpointSlice as the API server returns it (recorded shape, trimmed). */
function slice(name: string, resourceVersion: string, endpoints: { ip: string; zone: string; ready?: boolean }[]): V1EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: 'shop', resourceVersion, labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: endpoints.map(({ ip, zone, ready }) => ({ addresses: [ip], zone, conditions: { ready: ready ?? true } })),
  };
}

test('ready endpoints of every slice become one ClusterLoadAssignment, one locality per zone, sorted', () => {
  const cla = loadAssignmentFromSlices('web', [
    slice('web-b', '1', [{ ip: '10.0.2.7', zone: 'eu-2' }, { ip: '10.0.2.3', zone: 'eu-2' }]),
    slice('web-a', '1', [{ ip: '10.0.1.5', zone: 'eu-1' }, { ip: '10.0.1.9', zone: 'eu-1', ready: false }]),
  ]);
  const hosts = (cla.endpoints ?? []).map((l) => [l.locality?.zone, (l.lb_endpoints ?? []).map((e) => e.endpoint?.address?.socket_address?.address)]);
  assert.deepEqual(hosts, [['eu-1', ['10.0.1.5']], ['eu-2', ['10.0.2.3', '10.0.2.7']]]);
});

test('the informer lists, then follows the watch, and each change updates the LinearCache', async () => {
  let watch: ServerResponse | undefined;
  const requests: string[] = [];
  const api = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    requests.push(`${url.pathname}?${url.searchParams.toString()}`);
    assert.equal(url.pathname, '/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices');
    assert.equal(url.searchParams.get('labelSelector'), 'kubernetes.io/service-name=web');
    res.setHeader('content-type', 'application/json');
    if (url.searchParams.get('watch') === 'true') {
      watch = res;
      res.writeHead(200);
      res.flushHeaders(); // the informer's start() waits for the watch's headers
      return;
    }
    res.end(JSON.stringify({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSliceList', metadata: { resourceVersion: '10' }, items: [slice('web-a', '10', [{ ip: '10.0.1.5', zone: 'eu-1' }])] }));
  });
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'fake', server: `http://127.0.0.1:${(api.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'test' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'test' }],
    currentContext: 'fake',
  });

  const cache = new LinearCache(TypeUrl.Endpoint);
  const seen: ClusterLoadAssignment[] = [];
  const changed = (): Promise<void> => new Promise((resolve) => (next = resolve));
  let next: () => void = () => {};
  const watcher = await watchServiceEndpoints({
    kubeConfig,
    namespace: 'shop',
    service: 'web',
    clusterName: 'web',
    onChange: (cla) => {
      seen.push(cla);
      void cache.updateResource('web', cla);
      next();
    },
    onError: () => {},
  });
  try {
    const addresses = (): string[] =>
      cache.getResources().get('web')?.endpoints?.flatMap((l) => l.lb_endpoints?.map((e) => e.endpoint?.address?.socket_address?.address ?? '') ?? []) ?? [];
    assert.deepEqual(addresses(), ['10.0.1.5'], 'the first list is in the cache');
    while (!watch) await new Promise((r) => setTimeout(r, 10));
    const update = changed();
    watch.write(`${JSON.stringify({ type: 'ADDED', object: slice('web-b', '11', [{ ip: '10.0.2.3', zone: 'eu-2' }]) })}\n`);
    await update;
    assert.deepEqual(addresses(), ['10.0.1.5', '10.0.2.3'], 'a slice added by the watch');
    const removal = changed();
    watch.write(`${JSON.stringify({ type: 'DELETED', object: slice('web-a', '12', [{ ip: '10.0.1.5', zone: 'eu-1' }]) })}\n`);
    await removal;
    assert.deepEqual(addresses(), ['10.0.2.3'], 'a slice deleted by the watch');
    assert.ok(requests.some((r) => r.includes('watch=true')), 'the informer watched');
  } finally {
    await watcher.stop();
    watch?.end();
    api.closeAllConnections();
    api.close();
  }
});

test('the recipe page shows the code that is tested here', () => {
  const page = readFileSync('docs/recipes/kubernetes-endpointslices.md', 'utf8');
  const code = readFileSync('examples/kubernetes/endpointslices.ts', 'utf8');
  const body = code.slice(code.indexOf('import * as k8s'));
  assert.ok(page.includes(body.trim()), 'docs/recipes/kubernetes-endpointslices.md has examples/kubernetes/endpointslices.ts from its imports on');
});
