// The unary `Fetch…` calls in the worker mode: a worker holds the call, the primary (this process) answers it from
// the application's cache, so the answer is the one a server without workers gives, byte for byte, whether or not
// the worker holds a stream of the key.
import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { after, before, test } from 'node:test';
import { Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import { Snapshot, SnapshotCache } from '../../src/cache/index.js';
import { encodeMessage, TypeUrl } from '../../src/resource/index.js';
import { createServer, type XdsServer } from '../../src/server/index.js';
import { methodPath, XDS_SERVICES } from '../../src/server/service-definitions.js';
import { cluster, endpoints } from '../support/sample-resources.js';
import { certificateAuthority, issueCertificate } from '../support/tls-certs.js';
import { decodeSotwResponse, XdsTestClient } from '../support/xds-client.js';

const C = TypeUrl.Cluster;
const E = TypeUrl.Endpoint;
const R = TypeUrl.Route;
const KEYS = ['fetch-1', 'fetch-2', 'fetch-3'];
const cache = new SnapshotCache({ ads: true });
let xds: XdsServer;
let oneProcess: XdsServer;
let workersAddress: string;
let oneProcessAddress: string;
const clients: XdsTestClient[] = [];
/** What the worker mode's onFetchRequest and onFetchResponse saw, in this process: [hook, type, names, version]. */
const fetchHooks: (readonly [string, string, readonly string[], string | undefined])[] = [];

function snapshot(version: string, port = 8080): Snapshot {
  return new Snapshot(version, { [C]: [cluster('a'), cluster('b')], [E]: [endpoints('a', 2, port), endpoints('b', 2, port)] });
}

/** A client on a connection of its own: one HTTP/2 connection goes to one worker. */
function connect(address = workersAddress): XdsTestClient {
  const client = new XdsTestClient(address, undefined, { 'grpc.use_local_subchannel_pool': 1 });
  clients.push(client);
  return client;
}

function fetchPath(typeUrl: string): string {
  const info = XDS_SERVICES.find((s) => s.typeUrl === typeUrl)!;
  return methodPath(info.service, info.methods.fetch!);
}

/** A `Fetch…` call with the request and the response as bytes; resolves to the bytes, or to the call's error. */
function fetchBytes(client: XdsTestClient, typeUrl: string, request: object | Buffer): Promise<Buffer | ServiceError> {
  const bytes = Buffer.isBuffer(request) ? request : encodeMessage(TypeUrl.DiscoveryRequest, request);
  return new Promise((resolve) => {
    client.client.makeUnaryRequest(fetchPath(typeUrl), (b: Buffer) => b, (b: Buffer) => b, bytes, new Metadata(), (error, response) => resolve(error ?? response!));
  });
}

/** The same call on a fresh connection to the worker mode and to one process: both answers. */
async function both(typeUrl: string, request: object | Buffer): Promise<[Buffer | ServiceError, Buffer | ServiceError]> {
  return Promise.all([fetchBytes(connect(), typeUrl, request), fetchBytes(connect(oneProcessAddress), typeUrl, request)]);
}

function assertSameError(viaWorker: Buffer | ServiceError, direct: Buffer | ServiceError, code: Status): ServiceError {
  assert.ok(!Buffer.isBuffer(viaWorker), 'the worker mode answered where one process refused');
  assert.ok(!Buffer.isBuffer(direct));
  assert.equal(direct.code, code);
  assert.deepEqual([viaWorker.code, viaWorker.details], [direct.code, direct.details]);
  return viaWorker;
}

before(async () => {
  for (const key of KEYS) await cache.setSnapshot(key, snapshot('1'));
  xds = createServer(cache, {
    workers: 2,
    maxResourceNames: 4,
    callbacks: {
      onFetchRequest: (request) => void fetchHooks.push(['request', request.type_url, request.resource_names, request.version_info]),
      onFetchResponse: (request, response) => void fetchHooks.push(['response', request.type_url, request.resource_names, response?.version]),
    },
  });
  workersAddress = `127.0.0.1:${await xds.listen('127.0.0.1:0')}`;
  oneProcess = createServer(cache, { maxResourceNames: 4 });
  oneProcessAddress = `127.0.0.1:${await oneProcess.listen('127.0.0.1:0')}`;
});
after(async () => {
  for (const client of clients) client.close();
  await Promise.all([xds.close({ deadlineMs: 500 }), oneProcess.close({ deadlineMs: 500 })]);
  cache.close();
});

test('a Fetch on a fresh connection, for a key no stream holds, answers its snapshot: the bytes one process answers', async () => {
  // Several connections, so that both workers answer some.
  for (let i = 0; i < 4; i++) {
    for (const key of KEYS) {
      for (const [typeUrl, names] of [[C, []], [E, []], [E, ['b']], [C, ['*']], [C, ['b', 'missing']]] as const) {
        const [viaWorker, direct] = await both(typeUrl, { node: { id: key }, type_url: typeUrl, resource_names: names });
        assert.ok(Buffer.isBuffer(viaWorker), `${key} ${typeUrl} [${names.join()}]: ${(viaWorker as ServiceError).details}`);
        assert.ok(Buffer.isBuffer(direct));
        assert.deepEqual(viaWorker, direct, `${key} ${typeUrl} [${names.join()}]`);
      }
    }
  }
  const [viaWorker] = await both(E, { node: { id: 'fetch-2' }, resource_names: ['b'] });
  const response = decodeSotwResponse(viaWorker as Buffer);
  assert.deepEqual([response.version_info, response.type_url, response.names], ['1', E, ['b']]);
  assert.equal(xds.stats().streams, 0, 'no stream was opened');
});

test('a Fetch at the current version is FAILED_PRECONDITION, as in one process', async () => {
  const [viaWorker, direct] = await both(C, { node: { id: 'fetch-1' }, version_info: '1' });
  const error = assertSameError(viaWorker, direct, Status.FAILED_PRECONDITION);
  assert.match(error.details, /version "1" is current/);
  // Another version than the current is answered.
  const [older] = await both(C, { node: { id: 'fetch-1' }, version_info: '0' });
  assert.equal(decodeSotwResponse(older as Buffer).version_info, '1');
});

test('an unknown key is NOT_FOUND with the words of one process; a type its snapshot lacks is answered empty, alike', async () => {
  const [unknownViaWorker, unknownDirect] = await both(C, { node: { id: 'nobody' } });
  assert.match(assertSameError(unknownViaWorker, unknownDirect, Status.NOT_FOUND).details, /no snapshot for "nobody"/);
  const [noRoutesViaWorker, noRoutesDirect] = await both(R, { node: { id: 'fetch-1' } });
  assert.ok(Buffer.isBuffer(noRoutesViaWorker), (noRoutesViaWorker as ServiceError).details);
  assert.deepEqual(noRoutesViaWorker, noRoutesDirect);
  const routes = decodeSotwResponse(noRoutesViaWorker);
  assert.deepEqual([routes.type_url, routes.names], [R, []]);
});

test('requests one process refuses are refused alike: wrong type, too many names, bytes that are no request', async () => {
  assertSameError(...(await both(C, { node: { id: 'fetch-1' }, type_url: R })), Status.INVALID_ARGUMENT);
  assertSameError(...(await both(C, { node: { id: 'fetch-1' }, resource_names: ['a', 'b', 'c', 'd', 'e'] })), Status.RESOURCE_EXHAUSTED);
  assertSameError(...(await both(C, Buffer.from([0x0a, 0xff]))), Status.INVALID_ARGUMENT);
});

test('a snapshot just set is what the next Fetch answers, on a connection whose worker holds a stream of the key or not', async () => {
  const client = connect();
  const stream = client.sotw();
  stream.send({ node: { id: 'fetch-3' }, type_url: C });
  assert.equal((await stream.next(5000)).version_info, '1');
  await cache.setSnapshot('fetch-3', snapshot('2', 9090));
  const onStreamConnection = await fetchBytes(client, E, { node: { id: 'fetch-3' } });
  const [fresh, direct] = await both(E, { node: { id: 'fetch-3' } });
  assert.deepEqual(onStreamConnection, direct);
  assert.deepEqual(fresh, direct);
  assert.equal(decodeSotwResponse(direct as Buffer).version_info, '2');
  cache.clearSnapshot('fetch-3');
  assertSameError(...(await both(E, { node: { id: 'fetch-3' } })), Status.NOT_FOUND);
  stream.cancel();
});

test('REST is served by this process from the cache, as one process serves it, over HTTPS when given TLS', async () => {
  const ca = certificateAuthority('xds test CA');
  const serverCert = issueCertificate(ca, { commonName: 'control-plane', ips: ['127.0.0.1'] });
  const [port, directPort] = await Promise.all([xds.listenRest(0, '127.0.0.1', { key: serverCert.keyPem, cert: serverCert.certPem }), oneProcess.listenRest(0, '127.0.0.1')]);
  const post = (secure: boolean, p: number, body: object): Promise<[number, string]> =>
    new Promise((resolve, reject) => {
      const options = { host: '127.0.0.1', port: p, path: '/v3/discovery:clusters', method: 'POST', headers: { 'content-type': 'application/json' } };
      const answered = (res: IncomingMessage): void => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve([res.statusCode ?? 0, text]));
      };
      const req = secure ? httpsRequest({ ...options, ca: ca.certPem }, answered) : httpRequest(options, answered);
      req.on('error', reject);
      req.end(JSON.stringify(body));
    });
  for (const body of [{ node: { id: 'fetch-2' } }, { node: { id: 'fetch-2' }, version_info: '1' }, { node: { id: 'nobody' } }]) {
    const [viaWorkerMode, direct] = await Promise.all([post(true, port, body), post(false, directPort, body)]);
    assert.deepEqual(viaWorkerMode, direct, JSON.stringify(body));
  }
  assert.equal((await post(true, port, { node: { id: 'fetch-2' } }))[0], 200);
  await assert.rejects(post(false, port, { node: { id: 'fetch-2' } }), 'plain HTTP on the HTTPS port is refused');
});

test('onFetchRequest and onFetchResponse run here, in the primary, once per fetch, as in one process', async () => {
  await cache.setSnapshot('fetch-hooks', snapshot('1'));
  fetchHooks.length = 0;
  for (let i = 0; i < 4; i++) {
    const answer = await fetchBytes(connect(), E, { node: { id: 'fetch-hooks' }, resource_names: ['a'] });
    assert.ok(Buffer.isBuffer(answer), `answered: ${Buffer.isBuffer(answer) ? '' : answer.details}`);
  }
  assert.deepEqual(fetchHooks, Array.from({ length: 4 }, () => [['request', E, ['a'], ''], ['response', E, ['a'], '1']]).flat());
});
