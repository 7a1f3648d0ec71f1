// Fetch over gRPC and Envoy's REST-JSON polling.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { status as Status } from '@grpc/grpc-js';
import { Code, TypeUrl, XdsError } from '../../src/resource/index.js';
import { REST_PATHS } from '../../src/server/index.js';
import { cluster, endpoints, samples } from '../support/sample-resources.js';
import { NODE, startHarness } from './harness.js';
import type { Harness } from './harness.js';

let h: Harness;
let restPort: number;
const fetched: { names: string[]; answered: boolean }[] = [];

beforeEach(async () => {
  fetched.length = 0;
  h = await startHarness({
    callbacks: {
      onFetchRequest: (request) => {
        if (request.node?.id === 'intruder') throw new XdsError(Code.PERMISSION_DENIED, 'node intruder is not allowed');
      },
      onFetchResponse: (request, response) => void fetched.push({ names: request.resource_names, answered: response !== undefined }),
    },
  });
  restPort = await h.xds.listenRest(0, '127.0.0.1');
});
afterEach(() => h.stop());

function post(path: string, body: unknown, port = restPort): Promise<{ status: number; text: string }> {
  return fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) }).then(async (r) => ({
    status: r.status,
    text: await r.text(),
  }));
}

describe('gRPC Fetch', () => {
  test('FetchClusters answers the current resources', async () => {
    h.cache.set(TypeUrl.Cluster, 'v1', [cluster('a'), cluster('b')]);
    const r = await h.client.fetch(TypeUrl.Cluster, { node: NODE });
    assert.equal(r.version_info, 'v1');
    assert.deepEqual(r.names.sort(), ['a', 'b']);
    assert.deepEqual(fetched, [{ names: [], answered: true }]);
  });

  test('FetchEndpoints with names answers those names', async () => {
    h.cache.set(TypeUrl.Endpoint, 'v1', [endpoints('a'), endpoints('b')]);
    const r = await h.client.fetch(TypeUrl.Endpoint, { node: NODE, resource_names: ['b'] });
    assert.deepEqual(r.names, ['b']);
  });

  test('a fetch at the current version is FAILED_PRECONDITION (REST says 304)', async () => {
    h.cache.set(TypeUrl.Secret, 'v1', [samples[TypeUrl.Secret]]);
    await assert.rejects(h.client.fetch(TypeUrl.Secret, { node: NODE, version_info: 'v1' }), (e: { code: number; details: string }) => {
      assert.equal(e.code, Status.FAILED_PRECONDITION);
      assert.match(e.details, /is current/);
      return true;
    });
  });

  test('onFetchRequest can refuse a node', async () => {
    await assert.rejects(h.client.fetch(TypeUrl.Cluster, { node: { id: 'intruder' } }), (e: { code: number }) => e.code === Status.PERMISSION_DENIED);
  });

  test('a mismatching type URL is INVALID_ARGUMENT', async () => {
    await assert.rejects(h.client.fetch(TypeUrl.Cluster, { node: NODE, type_url: TypeUrl.Route }), (e: { code: number }) => e.code === Status.INVALID_ARGUMENT);
  });
});

describe('REST', () => {
  test('POST /v3/discovery:clusters answers a DiscoveryResponse in ProtoJSON', async () => {
    h.cache.set(TypeUrl.Cluster, 'v1', [cluster('a')]);
    const r = await post('/v3/discovery:clusters', { node: NODE, version_info: '' });
    assert.equal(r.status, 200);
    const body = JSON.parse(r.text) as { version_info: string; type_url: string; resources: { '@type': string; name: string; connect_timeout: string }[] };
    assert.equal(body.version_info, 'v1');
    assert.equal(body.type_url, TypeUrl.Cluster);
    assert.equal(body.resources[0]['@type'], TypeUrl.Cluster);
    assert.equal(body.resources[0].name, 'a');
    assert.equal(body.resources[0].connect_timeout, '5s');
  });

  test('every REST path serves its type', async () => {
    for (const [path, typeUrl] of Object.entries(REST_PATHS)) {
      h.cache.set(typeUrl, 'v1', [samples[typeUrl]]);
      const r = await post(path, { node: NODE });
      assert.equal(r.status, 200, `${path}: ${r.text}`);
      assert.equal((JSON.parse(r.text) as { type_url: string }).type_url, typeUrl);
    }
  });

  test('304 Not Modified when the version is current', async () => {
    h.cache.set(TypeUrl.Listener, 'v7', [samples[TypeUrl.Listener]]);
    const r = await post('/v3/discovery:listeners', { node: NODE, version_info: 'v7' });
    assert.equal(r.status, 304);
  });

  test('400 with a clear message for bad JSON, bad fields and a mismatching type', async () => {
    const notJson = await post('/v3/discovery:clusters', '{nope');
    assert.equal(notJson.status, 400);
    assert.match(notJson.text, /not JSON/);
    const badField = await post('/v3/discovery:clusters', { node: NODE, resource_nams: ['a'] });
    assert.equal(badField.status, 400);
    assert.match(badField.text, /resource_nams/);
    const mismatch = await post('/v3/discovery:clusters', { node: NODE, type_url: TypeUrl.Route });
    assert.equal(mismatch.status, 400);
    assert.match(mismatch.text, /does not match/);
  });

  test('404 for unknown paths, 405 for other methods, 403 when a callback refuses', async () => {
    assert.equal((await post('/v3/discovery:widgets', {})).status, 404);
    const get = await fetch(`http://127.0.0.1:${restPort}/v3/discovery:clusters`);
    assert.equal(get.status, 405);
    assert.equal((await post('/v3/discovery:clusters', { node: { id: 'intruder' } })).status, 403);
  });

  test('the handler mounts on an application\'s own node:http server', async () => {
    h.cache.set(TypeUrl.Cluster, 'v1', [cluster('a')]);
    const handler = h.xds.restHandler();
    const server = createHttpServer((req, res) => (req.url?.startsWith('/v3/') ? handler(req, res) : res.writeHead(200).end('app')));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      assert.equal((await post('/v3/discovery:clusters', { node: NODE }, port)).status, 200);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
