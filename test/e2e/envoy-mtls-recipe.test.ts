// docs/recipes/mtls.md with a real Envoy: the control plane requires a client certificate, and a stream may act
// only as the node its certificate's common name names. Envoy connects over mTLS with the shipped bootstrap plus
// a TLS transport socket on xds_cluster.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { ServerCredentials } from '@grpc/grpc-js';
import { parse } from 'yaml';
import { SnapshotCache } from '../../src/cache/index.js';
import { createServer } from '../../src/server/index.js';
import { Code, XdsError } from '../../src/resource/index.js';
import { httpSnapshot } from '../../examples/http/main.js';
import { envoyTest, startEnvoy } from '../support/envoy.js';
import { freePort } from '../support/ports.js';
import { selfSignedCertificate, type SelfSigned } from '../support/tls-certs.js';

/** The shipped bootstrap for `nodeId`, reaching the control plane on `port` over TLS with `client`'s certificate. */
function mtlsBootstrap(port: number, nodeId: string, client: SelfSigned, server: SelfSigned): Record<string, unknown> {
  const text = readFileSync('examples/bootstrap/envoy-ads.yaml', 'utf8').replace('port_value: 18000', `port_value: ${port}`);
  const bootstrap = parse(text) as { node: { id: string }; static_resources: { clusters: Record<string, unknown>[] } };
  bootstrap.node.id = nodeId;
  const [xdsCluster] = bootstrap.static_resources.clusters;
  assert.ok(xdsCluster);
  xdsCluster['transport_socket'] = {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      sni: 'xds.example.internal',
      common_tls_context: {
        tls_certificates: [{ certificate_chain: { inline_string: client.certPem }, private_key: { inline_string: client.keyPem } }],
        validation_context: { trusted_ca: { inline_string: server.certPem } },
      },
    },
  };
  return bootstrap;
}

envoyTest('over mTLS, Envoy gets its configuration as the node its certificate names, and not as another', async () => {
  const server = selfSignedCertificate('xds.example.internal');
  const client = selfSignedCertificate('envoy-1');
  const cache = new SnapshotCache({ ads: true });
  const listenerPort = await freePort();
  for (const node of ['envoy-1', 'envoy-2']) {
    await cache.setSnapshot(node, httpSnapshot({ version: '1', listenerPort, upstreams: [{ host: '127.0.0.1', port: 1 }] }));
  }
  // The recipe's server: client certificates required; the node id claimed must be the certificate's CN.
  const identity = new Map<number, string>();
  const acks: string[] = [];
  const refused: string[] = [];
  const xds = createServer(cache, {
    callbacks: {
      onStreamOpen: (streamId, _typeUrl, { authContext }) => {
        const name = authContext?.sslPeerCertificate?.subject?.CN;
        if (!name) throw new XdsError(Code.UNAUTHENTICATED, 'a client certificate with a common name is required');
        identity.set(streamId, String(name));
      },
      onStreamRequest: (streamId, request) => {
        const claimed = request.node?.id;
        if (claimed != null && claimed !== identity.get(streamId)) {
          refused.push(claimed);
          throw new XdsError(Code.PERMISSION_DENIED, `this certificate may not act as node ${claimed.slice(0, 100)}`);
        }
      },
      onStreamClosed: (streamId) => identity.delete(streamId),
      onAck: (ack) => acks.push(`${ack.nodeId} ${ack.typeUrl.split('.').pop() ?? ''}`),
    },
  });
  const port = await xds.listen(
    '127.0.0.1:0',
    ServerCredentials.createSsl(Buffer.from(client.certPem), [{ cert_chain: Buffer.from(server.certPem), private_key: Buffer.from(server.keyPem) }], true),
  );
  const honest = await startEnvoy({ bootstrap: mtlsBootstrap(port, 'envoy-1', client, server), name: 'mtls-honest' });
  try {
    await honest.waitFor(() => acks.includes('envoy-1 RouteConfiguration'), 20_000, 'envoy-1 ACKs its routes over mTLS');
  } finally {
    await honest.stop();
  }
  // 'admin': this Envoy never gets the configuration it waits for, so it never reports ready.
  const impostor = await startEnvoy({ bootstrap: mtlsBootstrap(port, 'envoy-2', client, server), name: 'mtls-impostor', ready: 'admin' });
  try {
    await impostor.waitFor(() => refused.includes('envoy-2'), 20_000, 'the claim to be envoy-2 refused');
    await sleep(1_000);
    assert.deepEqual(acks.filter((a) => a.startsWith('envoy-2')), [], 'envoy-2 is sent nothing');
  } finally {
    await impostor.stop();
    await xds.close({ deadlineMs: 100 });
  }
});
