// Real Envoy over mutual TLS: its xds_cluster presents a client certificate, the server's bindNodeToCertificate
// serves the node only when the certificate names it. Envoy with its own certificate gets its cluster and the
// Secret the cluster needs; Envoy presenting another node's certificate (an impostor) is refused with
// PERMISSION_DENIED on every attempt and gets nothing: over ADS state of the world, ADS delta, and REST.
// The worker mode too: Envoy connects over mutual TLS to a worker, which built its credentials from the bytes
// listen was given; onStreamOpen, in the application's process, sees Envoy's certificate; the workers answer the
// gRPC health service over the same TLS.
import assert from 'node:assert/strict';
import { Snapshot, SnapshotCache } from '../../src/cache/index.js';
import { TypeUrl } from '../../src/resource/index.js';
import { credentials as channelCredentials, ServerCredentials } from '@grpc/grpc-js';
import { bindNodeToCertificate, certificateOf, createServer } from '../../src/server/index.js';
import type { Authorization, AuthorizeRequest, RequestContext, TlsCredentials } from '../../src/server/index.js';
import { healthClient, unary } from '../support/grpc-clients.js';
import { configSection, envoyTest, startEnvoy } from '../support/envoy.js';
import type { Bootstrap, EnvoyInstance } from '../support/envoy.js';
import { configSource, dumpedVersions, modeBootstrap, REST_CLUSTER, XDS_CLUSTER } from '../support/envoy-xds.js';
import type { XdsMode } from '../support/envoy-xds.js';
import { certificateAuthority, issueCertificate } from '../support/tls-certs.js';
import type { SelfSigned } from '../support/tls-certs.js';

const ca = certificateAuthority('xds test CA');
const serverCert = issueCertificate(ca, { commonName: 'control-plane', dns: ['localhost'], ips: ['127.0.0.1'] });
const NODE_A = 'spiffe://test/envoy-a';
const certA = issueCertificate(ca, { commonName: 'envoy-a', uris: [NODE_A] });
const certB = issueCertificate(ca, { commonName: 'envoy-b', uris: ['spiffe://test/envoy-b'] });

const UPSTREAM_TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';

/** Envoy's side of mutual TLS to the control plane: its certificate, the CA it trusts, the name it expects. */
function tlsToControlPlane(cert: SelfSigned, http2: boolean): Record<string, unknown> {
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': UPSTREAM_TLS,
      sni: 'localhost',
      common_tls_context: {
        ...(http2 ? { alpn_protocols: ['h2'] } : {}),
        tls_certificates: [{ certificate_chain: { inline_string: cert.certPem }, private_key: { inline_string: cert.keyPem } }],
        validation_context: {
          trusted_ca: { inline_string: ca.certPem },
          match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: 'localhost' } }],
        },
      },
    },
  };
}

function mtlsBootstrap(mode: XdsMode, grpc: number, rest: number | undefined, cert: SelfSigned): Bootstrap {
  const bootstrap = modeBootstrap({ mode, nodeId: NODE_A, controlPlane: { grpc, ...(rest !== undefined ? { rest } : {}) } });
  const statics = bootstrap['static_resources'] as { clusters: Array<Record<string, unknown>> };
  for (const cluster of statics.clusters) {
    if (cluster['name'] === XDS_CLUSTER) cluster['transport_socket'] = tlsToControlPlane(cert, true);
    if (cluster['name'] === REST_CLUSTER) cluster['transport_socket'] = tlsToControlPlane(cert, false);
  }
  return bootstrap;
}

/** Node A's snapshot: one cluster whose upstream TLS certificate is a Secret fetched from us (ADS modes). */
function snapshotOfA(mode: XdsMode): Snapshot {
  const source = configSource({ mode, nodeId: NODE_A, controlPlane: { grpc: 0, rest: 0 } });
  const withSecret = mode !== 'rest';
  return new Snapshot('a-1', {
    [TypeUrl.Cluster]: [
      {
        name: 'only-for-a',
        type: 'STATIC',
        connect_timeout: '1s',
        load_assignment: { cluster_name: 'only-for-a', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 9 } } } }] }] },
        ...(withSecret
          ? {
              transport_socket: {
                name: 'envoy.transport_sockets.tls',
                typed_config: { '@type': UPSTREAM_TLS, common_tls_context: { tls_certificate_sds_secret_configs: [{ name: 'key-of-a', sds_config: source }] } },
              },
            }
          : {}),
      },
    ],
    [TypeUrl.Listener]: [],
    ...(withSecret
      ? { [TypeUrl.Secret]: [{ name: 'key-of-a', tls_certificate: { certificate_chain: { inline_string: certA.certPem }, private_key: { inline_string: certA.keyPem } } }] }
      : {}),
  });
}

async function secretsOf(envoy: EnvoyInstance): Promise<string[]> {
  const section = configSection(await envoy.configDump(), 'SecretsConfigDump') as { dynamic_active_secrets?: Array<{ name?: string }> } | undefined;
  return (section?.dynamic_active_secrets ?? []).map((s) => s.name ?? '');
}

async function run(mode: XdsMode, cert: SelfSigned, own: boolean): Promise<void> {
  const cache = new SnapshotCache({ ads: mode !== 'rest' });
  await cache.setSnapshot(NODE_A, snapshotOfA(mode));
  const verdicts: Array<{ kind: string; allowed: boolean; reason?: string }> = [];
  const bind = bindNodeToCertificate({ san: 'spiffe' });
  const authorize = async (request: AuthorizeRequest): Promise<Authorization> => {
    const verdict = await bind(request);
    verdicts.push({ kind: request.kind, allowed: verdict.allowed, ...(verdict.allowed ? {} : { reason: verdict.reason }) });
    return verdict;
  };
  const xds = createServer(cache, { authorize });
  let envoy: EnvoyInstance | undefined;
  try {
    const credentials = ServerCredentials.createSsl(Buffer.from(ca.certPem), [{ cert_chain: Buffer.from(serverCert.certPem), private_key: Buffer.from(serverCert.keyPem) }], true);
    const grpc = await xds.listen('127.0.0.1:0', credentials);
    const rest = mode === 'rest'
      ? await xds.listenRest(0, '127.0.0.1', { key: serverCert.keyPem, cert: serverCert.certPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true })
      : undefined;
    // The impostor never initializes (its CDS and LDS never arrive): wait only for the admin API.
    envoy = await startEnvoy({ name: `mtls-${mode}-${own ? 'own' : 'impostor'}`, bootstrap: mtlsBootstrap(mode, grpc, rest, cert), ready: own ? 'live' : 'admin' });
    const proxy = envoy;
    const expectedKind = mode === 'rest' ? 'rest' : mode === 'ads-delta' ? 'delta' : 'sotw';
    if (own) {
      await proxy.waitFor(async () => 'only-for-a' in (await dumpedVersions(proxy)).clusters, 15_000, 'cluster only-for-a active in Envoy');
      if (mode !== 'rest') assert.deepEqual(await secretsOf(proxy), ['key-of-a']);
      assert.ok(verdicts.length > 0 && verdicts.every((v) => v.allowed && v.kind === expectedKind), JSON.stringify(verdicts));
    } else {
      await proxy.waitFor(() => verdicts.length >= 2, 15_000, 'Envoy refused at least twice (it retries)');
      assert.ok(verdicts.every((v) => !v.allowed && v.kind === expectedKind), JSON.stringify(verdicts));
      assert.match(verdicts[0].reason ?? '', /node id "spiffe:\/\/test\/envoy-a" is not an identity of the client certificate \(spiffe:\/\/test\/envoy-b\)/);
      assert.deepEqual((await dumpedVersions(proxy)).clusters, {}, 'the impostor got no cluster');
      assert.deepEqual(await secretsOf(proxy), [], 'the impostor got no Secret');
    }
  } finally {
    await envoy?.stop();
    await xds.close({ deadlineMs: 1_000 });
  }
}

for (const mode of ['ads-sotw', 'ads-delta', 'rest'] as const) {
  void envoyTest(`Envoy over mTLS (${mode}) with its own certificate gets its cluster and Secret`, () => run(mode, certA, true), { timeout: 45_000 });
  void envoyTest(`Envoy over mTLS (${mode}) presenting another node's certificate is refused and gets nothing`, () => run(mode, certB, false), { timeout: 45_000 });
}

/** The server's side of mutual TLS, as bytes: what the worker mode hands each worker. */
const serverTls: TlsCredentials = {
  rootCerts: Buffer.from(ca.certPem),
  keyCertPairs: [{ cert_chain: Buffer.from(serverCert.certPem), private_key: Buffer.from(serverCert.keyPem) }],
  checkClientCertificate: true,
};

async function runWorkers(mode: 'ads-sotw' | 'ads-delta'): Promise<void> {
  const cache = new SnapshotCache({ ads: true });
  await cache.setSnapshot(NODE_A, snapshotOfA(mode));
  // The identities onStreamOpen saw, in this process, from the certificates the workers verified.
  const identities: Array<string | undefined> = [];
  const onOpen = (_id: number, _type: string, context: RequestContext): void => {
    identities.push(certificateOf(context.authContext?.sslPeerCertificate)?.spiffeId);
  };
  const xds = createServer(cache, { workers: 2, health: true, callbacks: { onStreamOpen: onOpen, onDeltaStreamOpen: onOpen } });
  let envoy: EnvoyInstance | undefined;
  let probe: ReturnType<typeof healthClient> | undefined;
  try {
    const grpc = await xds.listen('127.0.0.1:0', serverTls);
    envoy = await startEnvoy({ name: `mtls-workers-${mode}`, bootstrap: mtlsBootstrap(mode, grpc, undefined, certA) });
    const proxy = envoy;
    await proxy.waitFor(async () => 'only-for-a' in (await dumpedVersions(proxy)).clusters, 15_000, 'cluster only-for-a active in Envoy');
    assert.deepEqual(await secretsOf(proxy), ['key-of-a'], 'the Secret, over the same TLS stream');
    assert.ok(identities.length > 0 && identities.every((id) => id === NODE_A), `onStreamOpen saw Envoy's certificate: ${JSON.stringify(identities)}`);
    assert.equal(cache.getStatusInfo(NODE_A)?.openStreams, 1, 'the status in this process counts Envoy\'s stream');
    // A health probe over mutual TLS, answered by a worker from this process's status.
    probe = healthClient(`127.0.0.1:${grpc}`, {
      credentials: channelCredentials.createSsl(Buffer.from(ca.certPem), Buffer.from(certA.keyPem), Buffer.from(certA.certPem)),
      options: { 'grpc.ssl_target_name_override': 'localhost' },
    });
    assert.equal((await unary<{ status: string }>(probe, 'Check', { service: '' })).status, 'SERVING');
  } finally {
    probe?.close();
    await envoy?.stop();
    await xds.close({ deadlineMs: 1_000 });
  }
}

for (const mode of ['ads-sotw', 'ads-delta'] as const) {
  void envoyTest(`Envoy over mTLS (${mode}) to the worker mode gets its cluster and Secret; onStreamOpen sees its certificate`, () => runWorkers(mode), { timeout: 60_000 });
}
