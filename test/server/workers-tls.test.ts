// The worker mode over TLS and mutual TLS: listen takes the bytes of ServerCredentials.createSsl, every worker
// (a replacement too) builds its credentials from them, and onStreamOpen in this process sees the verified client
// certificate as it would in one process.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { credentials, ServerCredentials } from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import { Snapshot, SnapshotCache } from '../../src/cache/index.js';
import { TypeUrl } from '../../src/resource/index.js';
import { certificateOf, createServer } from '../../src/server/index.js';
import type { AuthContext, TlsCredentials, XdsServer } from '../../src/server/index.js';
import { cluster } from '../support/sample-resources.js';
import { certificateAuthority, issueCertificate } from '../support/tls-certs.js';
import type { SelfSigned } from '../support/tls-certs.js';
import { XdsTestClient } from '../support/xds-client.js';
import { eventually, workersAfterReplacing } from './harness.js';

const ca = certificateAuthority('xds test CA');
const serverCert = issueCertificate(ca, { commonName: 'control-plane', dns: ['localhost'], ips: ['127.0.0.1'] });
const A = 'spiffe://test/envoy-a';
const certA = issueCertificate(ca, { commonName: 'envoy-a', uris: [A] });
const forged = issueCertificate(certificateAuthority('someone else'), { commonName: 'envoy-a', uris: [A] });

const tls: TlsCredentials = {
  rootCerts: Buffer.from(ca.certPem),
  keyCertPairs: [{ cert_chain: Buffer.from(serverCert.certPem), private_key: Buffer.from(serverCert.keyPem) }],
  checkClientCertificate: true,
};

/** The auth context of each stream opened, by stream id, in the worker mode's server and in one process's. */
const contexts = new Map<number, AuthContext | undefined>();
let cache: SnapshotCache;
let xds: XdsServer;
let port: number;
const clients: XdsTestClient[] = [];

function snapshot(version: string): Snapshot {
  return new Snapshot(version, { [TypeUrl.Cluster]: [cluster('a')] });
}

function serverOf(workers: number | undefined): XdsServer {
  return createServer(cache, {
    ...(workers === undefined ? {} : { workers }),
    callbacks: { onStreamOpen: (streamId, _typeUrl, context) => void contexts.set(streamId, context.authContext) },
  });
}

/** A client on a connection of its own (one connection goes to one worker), presenting `cert`. */
function connect(cert: SelfSigned | undefined, to = port): XdsTestClient {
  const channel = credentials.createSsl(Buffer.from(ca.certPem), cert === undefined ? null : Buffer.from(cert.keyPem), cert === undefined ? null : Buffer.from(cert.certPem));
  const client = new XdsTestClient(`127.0.0.1:${to}`, channel, { 'grpc.ssl_target_name_override': 'localhost', 'test.connection': clients.length });
  clients.push(client);
  return client;
}

async function subscribe(client: XdsTestClient, node = A): Promise<string> {
  const stream = client.sotw();
  stream.send({ node: { id: node }, type_url: TypeUrl.Cluster });
  const response = await stream.next(5000);
  stream.ack(response);
  return response.version_info;
}

before(async () => {
  cache = new SnapshotCache({ ads: true });
  await cache.setSnapshot(A, snapshot('1'));
  xds = serverOf(2);
  port = await xds.listen('127.0.0.1:0', tls);
});
after(async () => {
  for (const client of clients) client.close();
  await xds.close({ deadlineMs: 500 });
  cache.close();
});

test('over mutual TLS, every worker serves clients whose certificate the CA signed', async () => {
  const versions = await Promise.all(Array.from({ length: 4 }, () => subscribe(connect(certA))));
  assert.deepEqual(versions, ['1', '1', '1', '1']);
  await eventually(() => xds.stats().streams === 4, 5000, 'four streams reported');
  const workers = await xds.workers();
  assert.equal(workers.length, 2);
  assert.ok(workers.every((w) => w.stats.streams > 0), `each worker serves streams over TLS: ${workers.map((w) => w.stats.streams).join(', ')}`);
});

test('a client without a certificate, or with one another CA signed, is refused in the handshake', async () => {
  await assert.rejects(subscribe(connect(undefined)), /UNAVAILABLE/);
  await assert.rejects(subscribe(connect(forged)), /UNAVAILABLE/);
});

test('onStreamOpen in this process sees the verified client certificate, as in one process', async () => {
  contexts.clear();
  await subscribe(connect(certA));
  await eventually(() => contexts.size === 1, 5000, 'onStreamOpen ran');
  const fromWorker = [...contexts.values()][0];
  contexts.clear();
  const single = serverOf(undefined);
  try {
    const singlePort = await single.listen('127.0.0.1:0', tls);
    await subscribe(connect(certA, singlePort));
    const inOneProcess = [...contexts.values()][0];
    assert.equal(fromWorker?.transportSecurityType, 'ssl');
    const peer = fromWorker?.sslPeerCertificate as PeerCertificate;
    assert.equal(peer.fingerprint256, certA.fingerprint256);
    assert.ok(Buffer.isBuffer(peer.raw), 'the DER bytes arrive as a Buffer');
    assert.equal(certificateOf(peer)?.spiffeId, A);
    assert.deepEqual(fromWorker, inOneProcess, 'the same auth context as one process gives, field for field');
  } finally {
    await single.close({ deadlineMs: 500 });
  }
});

test('a killed worker\'s replacement listens with the same TLS', async () => {
  const before = (await xds.workers()).map((w) => w.pid);
  process.kill(before[0], 'SIGKILL');
  const pids = await workersAfterReplacing(xds, before[0], 2);
  const replacement = pids.find((pid) => !before.includes(pid));
  assert.ok(replacement !== undefined, `a replacement started: ${pids.join(', ')}`);
  // Connections alternate between the workers: a few reach the replacement, which must complete the handshake.
  for (let i = 0; i < 4; i++) assert.equal(await subscribe(connect(certA)), '1');
  await eventually(() => xds.stats().streams > 0, 5000, 'streams reported');
  const served = (await xds.workers()).find((w) => w.pid === replacement);
  assert.ok(served !== undefined && served.stats.streams > 0, 'the replacement serves TLS clients');
});

test('listen refuses a grpc-js ServerCredentials over TLS and PEM that does not read, before starting a worker', async () => {
  const other = createServer(cache, { workers: 2 });
  const opaque = ServerCredentials.createSsl(tls.rootCerts, [...tls.keyCertPairs], true);
  await assert.rejects(other.listen('127.0.0.1:0', opaque), /cannot hand a grpc-js ServerCredentials to its worker processes: pass what you gave ServerCredentials.createSsl instead, xds.listen\(address, \{ rootCerts, keyCertPairs, checkClientCertificate \}\)/);
  const wrongKey = { ...tls, keyCertPairs: [{ cert_chain: Buffer.from(serverCert.certPem), private_key: Buffer.from(certA.keyPem) }] };
  await assert.rejects(other.listen('127.0.0.1:0', wrongKey), /TLS credentials do not read: .*key values mismatch/);
  await assert.rejects(other.listen('127.0.0.1:0', { ...tls, rootCerts: 'pem' as never }), /rootCerts must be a Buffer/);
  await assert.rejects(other.listen('127.0.0.1:0', { key: serverCert.keyPem, cert: serverCert.certPem } as never), /TLS credentials must be \{ rootCerts, keyCertPairs, checkClientCertificate \}, the arguments of ServerCredentials.createSsl by name/);
  assert.deepEqual(await other.workers(), [], 'no worker started');
  await other.close();
});
