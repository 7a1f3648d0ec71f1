// `authorize` in the worker mode: the stream lives in a worker, the authorizer runs in the primary (this process)
// with what it is given in one process, and its answer has the same effect: the node served, or the status the
// stream or fetch ends with.
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { Metadata, status as Status } from '@grpc/grpc-js';
import { Snapshot, SnapshotCache } from '../../src/cache/index.js';
import { TypeUrl } from '../../src/resource/index.js';
import { allow, Code, createServer, deny, XdsError, type AckEvent, type Authorizer, type AuthorizeRequest, type XdsServer } from '../../src/server/index.js';
import { cluster, endpoints } from '../support/sample-resources.js';
import { XdsTestClient } from '../support/xds-client.js';
import { eventually } from './harness.js';

const C = TypeUrl.Cluster;
const E = TypeUrl.Endpoint;
const cache = new SnapshotCache({ ads: true });
const asked: AuthorizeRequest[] = [];
const acks: AckEvent[] = [];
let xds: XdsServer;
let oneProcess: XdsServer;
let workersAddress: string;
let oneProcessAddress: string;
const clients: XdsTestClient[] = [];

/** Allows a good bearer token (later, as a lookup would), serves another node for a tenant's token, throws for an expired one. */
const authorize: Authorizer = (request) => {
  asked.push(request);
  const token = request.metadata?.get('authorization')[0];
  if (token === 'Bearer expired') throw new XdsError(Code.UNAUTHENTICATED, 'token expired');
  if (token === 'Bearer tenant') return allow({ ...request.node, id: 'tenant-x' });
  if (token === 'Bearer now') return allow();
  if (token === 'Bearer odd') return Promise.resolve(allow({ id: 'n2', metadata: { check: () => true } } as never));
  return new Promise((resolve) => setTimeout(() => resolve(token === 'Bearer good' ? allow() : deny('a bearer token is required')), 20));
};

function client(address = workersAddress): XdsTestClient {
  const c = new XdsTestClient(address, undefined, { 'grpc.use_local_subchannel_pool': 1 });
  clients.push(c);
  return c;
}

function bearer(token: string): Metadata {
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  return metadata;
}

const snapshot = (version: string) => new Snapshot(version, { [C]: [cluster('a')], [E]: [endpoints('a')] });

before(async () => {
  for (const key of ['n1', 'n2', 'n3', 'intruder']) await cache.setSnapshot(key, snapshot('1'));
  await cache.setSnapshot('tenant-x', snapshot('tenant'));
  xds = createServer(cache, { workers: 2, authorize, callbacks: { onAck: (e) => void acks.push(e) } });
  workersAddress = `127.0.0.1:${await xds.listen('127.0.0.1:0')}`;
  oneProcess = createServer(cache, { authorize });
  oneProcessAddress = `127.0.0.1:${await oneProcess.listen('127.0.0.1:0')}`;
});
beforeEach(() => {
  asked.length = 0;
});
after(async () => {
  for (const c of clients) c.close();
  await Promise.all([xds.close({ deadlineMs: 500 }), oneProcess.close({ deadlineMs: 500 })]);
  cache.close();
});

test('authorize runs in this process, once per stream at its first request, given what one process gives it', async () => {
  const metadata = bearer('good');
  metadata.set('x-tenant-bin', Buffer.from([0, 1, 2, 255]));
  const node = { id: 'n1', cluster: 'edge', metadata: { zone: 'a' }, user_agent_name: 'envoy' };
  const stream = client().sotw({}, metadata);
  stream.send({ node, type_url: C });
  stream.send({ type_url: E, resource_names: ['a'] });
  const first = await stream.next(5000);
  const second = await stream.next(5000);
  assert.deepEqual([first.type_url, second.type_url].sort(), [C, E].sort(), 'both requests are served once allowed');
  assert.equal(asked.length, 1, 'asked once for the stream');
  const [request] = asked;
  assert.equal(request.kind, 'sotw');
  assert.equal(request.typeUrl, C);
  assert.deepEqual({ ...request.node }, node, 'the node the client sent, every field of it');
  assert.match(request.peer, /127\.0\.0\.1:\d+$/);
  assert.equal(request.metadata?.get('authorization')[0], 'Bearer good');
  assert.deepEqual(request.metadata?.get('x-tenant-bin')[0], Buffer.from([0, 1, 2, 255]));
  assert.equal(request.certificate, undefined);
  stream.cancel();

  // The same stream against a server without workers: the authorizer is given the same fields.
  const direct = client(oneProcessAddress).sotw({}, metadata);
  direct.send({ node, type_url: C });
  await direct.next(5000);
  assert.equal(asked.length, 2);
  const reference = asked[1];
  assert.deepEqual(Object.keys(request).sort(), Object.keys(reference).sort());
  assert.deepEqual(request.authContext, reference.authContext);
  assert.deepEqual(request.metadata?.toJSON(), reference.metadata?.toJSON());
  assert.deepEqual({ ...request.node }, { ...reference.node });
  direct.cancel();
});

test('a denied stream ends with PERMISSION_DENIED and the reason, as in one process; its node never reaches the status', async () => {
  for (const open of [(c: XdsTestClient) => c.sotw(), (c: XdsTestClient) => c.delta()]) {
    const denied = open(client());
    denied.send({ node: { id: 'intruder' }, type_url: C });
    const reference = open(client(oneProcessAddress));
    reference.send({ node: { id: 'intruder' }, type_url: C });
    const [status, expected] = await Promise.all([denied.status, reference.status]);
    assert.equal(status.code, Status.PERMISSION_DENIED);
    assert.equal(status.details, 'not authorized: a bearer token is required');
    assert.deepEqual([status.code, status.details], [expected.code, expected.details]);
    assert.equal(denied.received.length, 0);
  }
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(cache.getStatusInfo('intruder'), undefined, 'the cache never heard of the node');
});

test('an authorizer that throws ends the stream with its status; a synchronous answer is waited for too', async () => {
  const expired = client().sotw({}, bearer('expired'));
  expired.send({ node: { id: 'n2' }, type_url: C });
  const status = await expired.status;
  assert.equal(status.code, Status.UNAUTHENTICATED);
  assert.equal(status.details, 'token expired');
  const now = client().delta({}, bearer('now'));
  now.send({ node: { id: 'n2' }, type_url: C });
  assert.equal((await now.next(5000)).type_url, C);
  assert.deepEqual(asked.map((r) => r.kind), ['sotw', 'delta']);
  now.cancel();
});

test('Fetch is authorized in this process too, on any connection, given what one process gives it: allowed, answered; denied, PERMISSION_DENIED', async () => {
  // A fresh connection, and no stream of n3 anywhere: the fetch is answered from this process's cache.
  const node = { id: 'n3', cluster: 'edge', metadata: { zone: 'a' } };
  const allowed = await client().fetch(C, { node, resource_names: [] }, bearer('good'));
  assert.deepEqual(allowed.resources.map((r) => r.name), ['a']);
  assert.deepEqual(asked.map((r) => [r.kind, r.typeUrl, r.node.id]), [['fetch', C, 'n3']]);
  await client(oneProcessAddress).fetch(C, { node, resource_names: [] }, bearer('good'));
  const [request, reference] = asked;
  assert.deepEqual(Object.keys(request).sort(), Object.keys(reference).sort());
  assert.deepEqual({ ...request.node }, node, 'the node the client sent, every field of it');
  assert.deepEqual({ ...request.node }, { ...reference.node });
  assert.deepEqual(request.metadata?.toJSON(), reference.metadata?.toJSON());
  assert.deepEqual(request.authContext, reference.authContext);
  for (const [token, code, details] of [
    [undefined, Status.PERMISSION_DENIED, 'not authorized: a bearer token is required'],
    ['expired', Status.UNAUTHENTICATED, 'token expired'],
  ] as const) {
    const metadata = token === undefined ? new Metadata() : bearer(token);
    const [viaWorker, direct] = await Promise.all(
      [workersAddress, oneProcessAddress].map((address) => client(address).fetch(C, { node: { id: 'n3' } }, metadata).then(() => assert.fail('answered'), (e: { code: number; details: string }) => e)),
    );
    assert.deepEqual([viaWorker.code, viaWorker.details], [code, details]);
    assert.deepEqual([viaWorker.code, viaWorker.details], [direct.code, direct.details]);
  }
});

test("a Fetch serves the node the authorizer chooses: the tenant's snapshot, on a fresh connection", async () => {
  const [viaWorker, direct] = await Promise.all([workersAddress, oneProcessAddress].map((address) => client(address).fetch(C, { node: { id: 'n1' } }, bearer('tenant'))));
  assert.equal(viaWorker.version_info, 'tenant', "the tenant's snapshot, not n1's");
  assert.deepEqual(viaWorker, direct);
  // A node the authorizer chose that could not be copied to a worker: a fetch never copies it (it is answered here).
  const [odd, oddDirect] = await Promise.all([workersAddress, oneProcessAddress].map((address) => client(address).fetch(C, { node: { id: 'n1' } }, bearer('odd'))));
  assert.deepEqual(odd, oddDirect);
  assert.equal(odd.version_info, '1');
});

test('the node the authorizer chooses is the one served: snapshot, status and verdicts are keyed by it', async () => {
  const stream = client().sotw({}, bearer('tenant'));
  stream.send({ node: { id: 'n1', cluster: 'edge' }, type_url: C });
  const response = await stream.next(5000);
  assert.equal(response.version_info, 'tenant', "the tenant's snapshot, not n1's");
  stream.ack(response);
  await eventually(() => acks.some((a) => a.nodeId === 'tenant-x'), 5000, 'the ACK reported under the served node');
  assert.equal(acks.find((a) => a.nodeId === 'tenant-x')?.node.cluster, 'edge', 'the served node keeps the fields the authorizer kept');
  assert.equal(cache.getStatusInfo('tenant-x')?.openStreams, 1);
  stream.cancel();
});

test('a node from authorize that cannot reach the worker (a function in it) ends the stream with INTERNAL; the server goes on', async () => {
  const odd = client().sotw({}, bearer('odd'));
  odd.send({ node: { id: 'n2' }, type_url: C });
  const status = await odd.status;
  assert.equal(status.code, Status.INTERNAL);
  assert.match(status.details, /the node authorize chose cannot be sent to the worker/);
  const next = client().sotw({}, bearer('good'));
  next.send({ node: { id: 'n2' }, type_url: C });
  assert.equal((await next.next(5000)).type_url, C);
  next.cancel();
});
