// Identity: the server asks `authorize` about each stream (at its first request), each Fetch and each REST
// request, with the certificate the TLS handshake verified. bindNodeToCertificate serves a node only to the
// client whose certificate names it, so no client reads another's Secrets.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { request as httpsRequest } from 'node:https';
import { credentials, Metadata, ServerCredentials, status as Status } from '@grpc/grpc-js';
import { Snapshot, SnapshotCache } from '../../src/cache/index.js';
import { TypeUrl } from '../../src/resource/index.js';
import { allow, bindNodeToCertificate, certificateOf, createServer, deny } from '../../src/server/index.js';
import type { AuthorizeRequest, ServerOptions, XdsServer } from '../../src/server/index.js';
import { certificateAuthority, issueCertificate } from '../support/tls-certs.js';
import type { SelfSigned } from '../support/tls-certs.js';
import { XdsTestClient } from '../support/xds-client.js';
import { eventually, startHarness } from './harness.js';

const ca = certificateAuthority('xds test CA');
const serverCert = issueCertificate(ca, { commonName: 'control-plane', dns: ['localhost'], ips: ['127.0.0.1'] });
const A = 'spiffe://test/envoy-a';
const B = 'spiffe://test/envoy-b';
const certA = issueCertificate(ca, { commonName: 'envoy-a', dns: ['envoy-a.test'], uris: [A] });
const certB = issueCertificate(ca, { commonName: 'envoy-b', dns: ['envoy-b.test'], uris: [B] });
const otherCa = certificateAuthority('someone else');
const forged = issueCertificate(otherCa, { commonName: 'envoy-a', uris: [A] });

const secret = (owner: string) => ({
  name: 'server-cert',
  tls_certificate: { certificate_chain: { inline_string: `chain of ${owner}` }, private_key: { inline_string: `private key of ${owner}` } },
});

function mtls(): ServerCredentials {
  return ServerCredentials.createSsl(Buffer.from(ca.certPem), [{ cert_chain: Buffer.from(serverCert.certPem), private_key: Buffer.from(serverCert.keyPem) }], true);
}

interface Plane {
  xds: XdsServer;
  port: number;
  restPort: number;
  clients: XdsTestClient[];
  client(cert: SelfSigned, trust?: string): XdsTestClient;
  stop(): Promise<void>;
}

async function startPlane(options: ServerOptions): Promise<Plane> {
  const cache = new SnapshotCache({ ads: false });
  await cache.setSnapshot(A, new Snapshot('a1', { [TypeUrl.Secret]: [secret('a')] }));
  await cache.setSnapshot(B, new Snapshot('b1', { [TypeUrl.Secret]: [secret('b')] }));
  const xds = createServer(cache, options);
  const port = await xds.listen('127.0.0.1:0', mtls());
  const restPort = await xds.listenRest(0, '127.0.0.1', { key: serverCert.keyPem, cert: serverCert.certPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true });
  const clients: XdsTestClient[] = [];
  return {
    xds,
    port,
    restPort,
    clients,
    client(cert, trust = ca.certPem) {
      const client = new XdsTestClient(`127.0.0.1:${port}`, credentials.createSsl(Buffer.from(trust), Buffer.from(cert.keyPem), Buffer.from(cert.certPem)), { 'test.connection': clients.length });
      clients.push(client);
      return client;
    },
    async stop() {
      for (const client of clients) client.close();
      await xds.close({ deadlineMs: 500 });
    },
  };
}

/** POSTs a DiscoveryRequest to the HTTPS REST endpoint with a client certificate. */
function restPost(port: number, cert: SelfSigned, body: unknown): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, path: '/v3/discovery:secrets', method: 'POST', ca: ca.certPem, key: cert.keyPem, cert: cert.certPem, headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

const privateKeyOf = (resources: { value: Record<string, unknown> }[]): unknown =>
  (resources[0]?.value as { tls_certificate?: { private_key?: { inline_string?: string } } }).tls_certificate?.private_key?.inline_string;

test('certificateOf reads the subject, DNS and URI SANs and the SPIFFE id of a certificate', async () => {
  const { X509Certificate } = await import('node:crypto');
  const certificate = certificateOf({ raw: new X509Certificate(certA.certPem).raw } as never);
  assert.ok(certificate);
  assert.equal(certificate.commonName, 'envoy-a');
  assert.deepEqual(certificate.dnsNames, ['envoy-a.test']);
  assert.deepEqual(certificate.uris, [A]);
  assert.equal(certificate.spiffeId, A);
  assert.equal(certificate.fingerprint256, certA.fingerprint256);
});

test('bindNodeToCertificate denies a client without a verified certificate, and a node naming another identity', () => {
  const authorize = bindNodeToCertificate({ san: 'spiffe' });
  const base = { kind: 'sotw', typeUrl: TypeUrl.Secret, peer: 'x', metadata: undefined, authContext: undefined } as const;
  const certificate = { subject: 'CN=envoy-a', commonName: 'envoy-a', dnsNames: ['envoy-a.test'], uris: [A], spiffeId: A, fingerprint256: '' };
  assert.deepEqual(authorize({ ...base, node: { id: A }, certificate }), { allowed: true });
  const noCert = authorize({ ...base, node: { id: A }, certificate: undefined });
  assert.ok(!('then' in noCert) && !noCert.allowed && /no verified client certificate/.test(noCert.reason));
  const other = authorize({ ...base, node: { id: B }, certificate });
  assert.ok(!('then' in other) && !other.allowed && other.reason.includes(`node id "${B}" is not an identity of the client certificate (${A})`));
  const byMetadata = bindNodeToCertificate({ field: { metadata: 'workload' }, san: 'dns' });
  assert.deepEqual(byMetadata({ ...base, node: { id: 'x', metadata: { workload: 'envoy-a.test' } }, certificate }), { allowed: true });
  const missing = byMetadata({ ...base, node: { id: 'x' }, certificate });
  assert.ok(!('then' in missing) && !missing.allowed && /node metadata "workload" is missing/.test(missing.reason));
});

describe('over mutual TLS, bindNodeToCertificate', () => {
  let plane: Plane;
  before(async () => {
    plane = await startPlane({ authorize: bindNodeToCertificate({ san: 'spiffe' }) });
  });
  after(() => plane.stop());

  test('SotW: a client gets its own Secret; an impostor claiming its node id gets PERMISSION_DENIED', async () => {
    const own = plane.client(certA).sotw({ typeUrl: TypeUrl.Secret });
    own.send({ node: { id: A }, resource_names: ['server-cert'] });
    assert.equal(privateKeyOf((await own.next(5000)).resources), 'private key of a');
    own.cancel();
    const impostor = plane.client(certB).sotw({ typeUrl: TypeUrl.Secret });
    impostor.send({ node: { id: A }, resource_names: ['server-cert'] });
    const st = await impostor.status;
    assert.equal(st.code, Status.PERMISSION_DENIED);
    assert.match(st.details, /not authorized: node id "spiffe:\/\/test\/envoy-a" is not an identity of the client certificate \(spiffe:\/\/test\/envoy-b\)/);
    assert.equal(impostor.received.length, 0);
  });

  test('delta: an impostor gets PERMISSION_DENIED and nothing else', async () => {
    const own = plane.client(certB).delta({ typeUrl: TypeUrl.Secret });
    own.send({ node: { id: B }, resource_names_subscribe: ['server-cert'] });
    assert.equal(privateKeyOf((await own.next(5000)).resources), 'private key of b');
    own.cancel();
    const impostor = plane.client(certA).delta();
    impostor.send({ node: { id: B }, type_url: TypeUrl.Secret, resource_names_subscribe: ['server-cert'] });
    const st = await impostor.status;
    assert.equal(st.code, Status.PERMISSION_DENIED);
    assert.equal(impostor.received.length, 0);
  });

  test('Fetch: an impostor gets PERMISSION_DENIED', async () => {
    const own = await plane.client(certA).fetch(TypeUrl.Secret, { node: { id: A }, resource_names: ['server-cert'] });
    assert.equal(privateKeyOf(own.resources), 'private key of a');
    await assert.rejects(plane.client(certB).fetch(TypeUrl.Secret, { node: { id: A }, resource_names: ['server-cert'] }), (e: { code: number; details: string }) => {
      assert.equal(e.code, Status.PERMISSION_DENIED);
      assert.match(e.details, /not an identity of the client certificate/);
      return true;
    });
  });

  test('REST over HTTPS: the client certificate reaches authorize; an impostor gets 403', async () => {
    const own = await restPost(plane.restPort, certA, { node: { id: A }, resource_names: ['server-cert'] });
    assert.equal(own.status, 200);
    assert.match(own.text, /private key of a/);
    const impostor = await restPost(plane.restPort, certB, { node: { id: A }, resource_names: ['server-cert'] });
    assert.equal(impostor.status, 403);
    assert.match(impostor.text, /not an identity of the client certificate/);
    assert.doesNotMatch(impostor.text, /private key/);
  });

  test('a certificate from a CA the server does not trust never gets a stream', async () => {
    const s = plane.client(forged).sotw({ typeUrl: TypeUrl.Secret });
    s.send({ node: { id: A }, resource_names: ['server-cert'] });
    const st = await s.status;
    assert.equal(st.code, Status.UNAVAILABLE);
    assert.equal(s.received.length, 0);
    await assert.rejects(restPost(plane.restPort, forged, { node: { id: A } }));
  });
});

test('an authorizer that serves the verified identity as node id keys the snapshot by it, whatever the node claims', async () => {
  const plane = await startPlane({
    authorize: ({ node, certificate }) => (certificate?.spiffeId === undefined ? deny('a SPIFFE certificate is required') : allow({ ...node, id: certificate.spiffeId })),
  });
  try {
    const s = plane.client(certA).sotw({ typeUrl: TypeUrl.Secret });
    s.send({ node: { id: B }, resource_names: ['server-cert'] });
    const response = await s.next(5000);
    assert.equal(response.version_info, 'a1');
    assert.equal(privateKeyOf(response.resources), 'private key of a');
    s.cancel();
    const fetched = await plane.client(certB).fetch(TypeUrl.Secret, { node: { id: A }, resource_names: ['server-cert'] });
    assert.equal(privateKeyOf(fetched.resources), 'private key of b');
  } finally {
    await plane.stop();
  }
});

describe('authorize, without TLS', () => {
  let h: Awaited<ReturnType<typeof startHarness>> | undefined;
  afterEach(() => h?.stop());

  test('is asked once per stream, at its first request, with metadata, node and type; may answer later', async () => {
    const asked: AuthorizeRequest[] = [];
    h = await startHarness({
      authorize: async (request) => {
        asked.push(request);
        await new Promise((r) => setTimeout(r, 20));
        return request.metadata?.get('authorization')[0] === 'Bearer good' ? allow() : deny('a bearer token is required');
      },
    });
    h.cache.set(TypeUrl.Cluster, 'v1', []);
    const metadata = new Metadata();
    metadata.set('authorization', 'Bearer good');
    const s = h.client.sotw({}, metadata);
    s.send({ node: { id: 'n1' }, type_url: TypeUrl.Cluster });
    s.send({ type_url: TypeUrl.Endpoint, resource_names: ['e'] });
    assert.equal((await s.next(5000)).type_url, TypeUrl.Cluster);
    await eventually(() => h!.cache.watchRequests.length === 2, 3000, 'both requests acted on, in order');
    assert.deepEqual(h.cache.watchRequests.map((w) => w.typeUrl), [TypeUrl.Cluster, TypeUrl.Endpoint]);
    assert.equal(asked.length, 1);
    assert.equal(asked[0].kind, 'sotw');
    assert.equal(asked[0].typeUrl, TypeUrl.Cluster);
    assert.equal(asked[0].node.id, 'n1');
    assert.equal(asked[0].certificate, undefined);
    s.cancel();
  });

  test('a denied stream ends with PERMISSION_DENIED and its node never reaches the cache', async () => {
    h = await startHarness({ authorize: () => deny('a bearer token is required') });
    const s = h.client.delta();
    s.send({ node: { id: 'n1' }, type_url: TypeUrl.Cluster });
    const st = await s.status;
    assert.equal(st.code, Status.PERMISSION_DENIED);
    assert.equal(st.details, 'not authorized: a bearer token is required');
    assert.equal(h.cache.watchRequests.length, 0);
    assert.equal(h.cache.nodes.size, 0);
    await eventually(() => h!.xds.stats().streams === 0);
  });

  test('an authorizer that throws ends the stream with its status', async () => {
    const { Code, XdsError } = await import('../../src/resource/index.js');
    h = await startHarness({
      authorize: () => {
        throw new XdsError(Code.UNAUTHENTICATED, 'token expired');
      },
    });
    const s = h.client.sotw();
    s.send({ node: { id: 'n1' }, type_url: TypeUrl.Cluster });
    const st = await s.status;
    assert.equal(st.code, Status.UNAUTHENTICATED);
    assert.equal(st.details, 'token expired');
  });
});
