// What travels to a worker: each resource's bytes once, a snapshot set for many keys once, nothing encoded there.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EncodedResource, Snapshot } from '../../src/cache/index.js';
import { TypeUrl } from '../../src/resource/index.js';
import { connect as tlsConnect, createServer as createTlsServer } from 'node:tls';
import type { PeerCertificate } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { deserialize, serialize } from 'node:v8';
import { Metadata } from '@grpc/grpc-js';
import { certificateOfAuthContext } from '../../src/server/authorize.js';
import { describeSnapshot, Holdings, portableContext, rebuildSnapshot, requestContextOf } from '../../src/server/worker-protocol.js';
import { cluster, endpoints } from '../support/sample-resources.js';
import { certificateAuthority, issueCertificate } from '../support/tls-certs.js';

function snapshot(version: string, port: number): Snapshot {
  return new Snapshot(version, {
    [TypeUrl.Cluster]: [cluster('a'), cluster('b')],
    [TypeUrl.Endpoint]: [endpoints('a', 2, 8080), endpoints('b', 2, port)],
  });
}

test('a worker is sent the bytes of the resources it lacks, and only those', () => {
  const primary = new Holdings<true, true>();
  const first = describeSnapshot(snapshot('1', 8080), 1, primary);
  primary.assign('k', 1);
  assert.equal(first.bytes.length, 4, 'everything is new');
  const second = describeSnapshot(snapshot('2', 9090), 2, primary);
  primary.assign('k', 2);
  assert.equal(second.bytes.length, 1, 'one endpoint assignment changed: its bytes alone travel');
  assert.equal(primary.resources, 4, 'the replaced assignment is dropped with the snapshot that used it');
  assert.equal(primary.snapshots, 1);
});

test('a worker rebuilds the snapshot from bytes without encoding, with the same versions, hashes and bodies', () => {
  const original = snapshot('1', 8080);
  const primary = new Holdings<true, true>();
  const worker = new Holdings<Snapshot, EncodedResource>();
  const message = structuredClone(describeSnapshot(original, 1, primary));
  primary.assign('k', 1);
  const encodes = EncodedResource.encodeCount;
  const rebuilt = rebuildSnapshot(message, 1, worker);
  worker.assign('k', 1);
  assert.equal(EncodedResource.encodeCount, encodes, 'nothing encoded');
  for (const typeUrl of original.typeUrls()) {
    assert.equal(rebuilt.getVersion(typeUrl), original.getVersion(typeUrl));
    const mine = rebuilt.getResources(typeUrl);
    for (const [name, r] of original.getResources(typeUrl)) {
      assert.equal(mine.get(name)?.hash, r.hash);
      assert.deepEqual(mine.get(name)?.any, r.any);
    }
  }
  // The next snapshot arrives with one resource's bytes: the others are taken from what the worker holds.
  const next = structuredClone(describeSnapshot(snapshot('2', 9090), 2, primary));
  primary.assign('k', 2);
  const again = rebuildSnapshot(next, 2, worker);
  worker.assign('k', 2);
  assert.equal(again.getResources(TypeUrl.Cluster).get('a'), rebuilt.getResources(TypeUrl.Cluster).get('a'), 'an unchanged resource is the one already held');
  assert.equal(worker.resources, primary.resources);
});

test("a request context crosses to the primary whole: peer, text and binary metadata, the verified client certificate", async () => {
  // The peer certificate as grpc-js gives it (getPeerCertificate() of a verified TLS socket), from a real handshake.
  const ca = certificateAuthority('test CA');
  const serverCert = issueCertificate(ca, { commonName: 'control-plane', ips: ['127.0.0.1'] });
  const clientCert = issueCertificate(ca, { commonName: 'envoy-a', uris: ['spiffe://test/envoy-a'] });
  const server = createTlsServer({ key: serverCert.keyPem, cert: serverCert.certPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true });
  const peer = new Promise<PeerCertificate>((resolve) =>
    server.once('secureConnection', (socket) => {
      resolve(socket.getPeerCertificate());
      socket.end();
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const socket = tlsConnect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, ca: ca.certPem, key: clientCert.keyPem, cert: clientCert.certPem });
  socket.on('error', () => undefined);
  const authContext = { transportSecurityType: 'ssl', sslPeerCertificate: await peer };
  socket.destroy();
  server.close();

  const metadata = new Metadata();
  metadata.set('authorization', 'Bearer x');
  metadata.set('x-id-bin', Buffer.from([0, 255, 7]));
  const context = { peer: 'ipv4:127.0.0.1:5000', metadata, authContext };
  // As the IPC channel carries it (serialization 'advanced').
  const arrived = requestContextOf(deserialize(serialize(portableContext(context))) as ReturnType<typeof portableContext>);
  assert.equal(arrived.peer, context.peer);
  assert.deepEqual(arrived.metadata?.toJSON(), metadata.toJSON());
  assert.deepEqual(certificateOfAuthContext(arrived.authContext), certificateOfAuthContext(authContext));
  assert.equal(certificateOfAuthContext(arrived.authContext)?.spiffeId, 'spiffe://test/envoy-a');
  assert.equal(arrived.authContext?.transportSecurityType, 'ssl');
});
