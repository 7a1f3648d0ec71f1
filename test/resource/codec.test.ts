import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import {
  RESOURCE_TYPE_URLS,
  ResourceError,
  TypeUrl,
  contentHash,
  decodeMessage,
  encodeMessage,
  fromJson,
  lookupType,
  toJson,
} from '../../src/resource/index.js';
import { samples } from '../support/sample-resources.js';

for (const typeUrl of RESOURCE_TYPE_URLS) {
  const short = typeUrl.slice(typeUrl.lastIndexOf('.') + 1);
  test(`${short} round-trips through binary and canonical JSON`, () => {
    const bytes = encodeMessage(typeUrl, samples[typeUrl]);
    assert.ok(bytes.length > 0);
    const decoded = decodeMessage(typeUrl, bytes);
    assert.deepEqual(encodeMessage(typeUrl, decoded), bytes, 'decode then encode gives the same bytes');
    const canonical = toJson(typeUrl, samples[typeUrl]);
    assert.deepEqual(encodeMessage(typeUrl, canonical), bytes, 'canonical lowerCamel JSON encodes to the same bytes');
    assert.deepEqual(toJson(typeUrl, decoded, { protoNames: true }), decoded, 'proto-name JSON is what decode returns');
    const message = fromJson(typeUrl, canonical);
    assert.deepEqual(Buffer.from(lookupType(typeUrl).encode(message).finish()), bytes);
  });
}

test('a Cluster pasted from Envoy YAML docs becomes the right message', () => {
  const yaml = `
name: some_service
connect_timeout: 0.25s
type: STRICT_DNS
lb_policy: ROUND_ROBIN
typed_extension_protocol_options:
  envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
    "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
    explicit_http_config:
      http2_protocol_options: {}
metadata:
  filter_metadata:
    envoy.lb:
      canary: true
      version: "v1"
load_assignment:
  cluster_name: some_service
  endpoints:
  - lb_endpoints:
    - endpoint:
        address:
          socket_address:
            address: 127.0.0.1
            port_value: 1234
`;
  const decoded = decodeMessage(TypeUrl.Cluster, encodeMessage(TypeUrl.Cluster, parseYaml(yaml)));
  assert.equal(decoded['connect_timeout'], '0.250s');
  assert.equal(decoded['type'], 'STRICT_DNS');
  assert.deepEqual(decoded['metadata'], { filter_metadata: { 'envoy.lb': { canary: true, version: 'v1' } } });
  const options = decoded['typed_extension_protocol_options'] as Record<string, Record<string, unknown>>;
  assert.equal(options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions']['@type'], 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions');
  assert.deepEqual(options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions']['explicit_http_config'], { http2_protocol_options: {} });
  // The binary form really is a Duration of 0.25s, not a string.
  const message = lookupType(TypeUrl.Cluster).decode(encodeMessage(TypeUrl.Cluster, parseYaml(yaml))) as unknown as { connect_timeout: { seconds: unknown; nanos: number } };
  assert.equal(Number(message.connect_timeout.seconds), 0);
  assert.equal(message.connect_timeout.nanos, 250_000_000);
});

test('a Listener pasted from Envoy YAML docs becomes the right message', () => {
  const yaml = `
name: listener_0
address:
  socket_address: { address: 0.0.0.0, port_value: 10000 }
filter_chains:
- filters:
  - name: envoy.filters.network.http_connection_manager
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
      stat_prefix: ingress_http
      access_log:
      - name: envoy.access_loggers.stdout
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog
      http_filters:
      - name: envoy.filters.http.router
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
      route_config:
        name: local_route
        virtual_hosts:
        - name: local_service
          domains: ["*"]
          routes:
          - match: { prefix: "/" }
            route: { host_rewrite_literal: www.envoyproxy.io, cluster: service_envoyproxy_io }
`;
  const decoded = decodeMessage(TypeUrl.Listener, encodeMessage(TypeUrl.Listener, parseYaml(yaml)));
  const hcm = (decoded['filter_chains'] as any[])[0].filters[0].typed_config;
  assert.equal(hcm['@type'], 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager');
  assert.equal(hcm.stat_prefix, 'ingress_http');
  assert.equal(hcm.http_filters[0].typed_config['@type'], 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router');
  assert.equal(hcm.route_config.virtual_hosts[0].routes[0].route.cluster, 'service_envoyproxy_io');
  assert.deepEqual((decoded['address'] as any).socket_address, { address: '0.0.0.0', port_value: 10000 });
});

test('equal content gives equal bytes and hash whatever the order map keys were inserted in', () => {
  const a = { name: 'c', metadata: { filter_metadata: { x: { b: 1, a: 2 }, y: { z: 'q' } } }, typed_extension_protocol_options: {} as Record<string, unknown> };
  const b = { metadata: { filter_metadata: { y: { z: 'q' }, x: { a: 2, b: 1 } } }, name: 'c', typed_extension_protocol_options: {} as Record<string, unknown> };
  const opts1 = { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', common_http_protocol_options: { idle_timeout: '1s' }, explicit_http_config: { http2_protocol_options: {} } };
  const opts2 = { explicit_http_config: { http2_protocol_options: {} }, common_http_protocol_options: { idle_timeout: '1s' }, '@type': opts1['@type'] };
  a.typed_extension_protocol_options['p'] = opts1;
  a.typed_extension_protocol_options['o'] = { ...opts1 };
  b.typed_extension_protocol_options['o'] = opts2;
  b.typed_extension_protocol_options['p'] = { ...opts2 };
  const bytesA = encodeMessage(TypeUrl.Cluster, a);
  const bytesB = encodeMessage(TypeUrl.Cluster, b);
  assert.deepEqual(bytesA, bytesB);
  assert.equal(contentHash(bytesA), contentHash(bytesB));
  assert.notEqual(contentHash(bytesA), contentHash(encodeMessage(TypeUrl.Cluster, { ...a, name: 'd' })));
});

test('a Uint8Array for a bytes field and a message instance are accepted', () => {
  const secret = { name: 's', tls_certificate: { private_key: { inline_bytes: new Uint8Array([1, 2, 3]) } } };
  const decoded = decodeMessage(TypeUrl.Secret, encodeMessage(TypeUrl.Secret, secret));
  assert.equal((decoded['tls_certificate'] as any).private_key.inline_bytes, 'AQID');
  const message = fromJson(TypeUrl.Cluster, { name: 'm', connect_timeout: '2s' });
  assert.deepEqual(decodeMessage(TypeUrl.Cluster, encodeMessage(TypeUrl.Cluster, message)), { name: 'm', connect_timeout: '2s' });
});

function rejects(typeUrl: string, value: unknown, check: { path: string; includes: string[] }): void {
  assert.throws(
    () => encodeMessage(typeUrl, value),
    (error: unknown) => {
      assert.ok(error instanceof ResourceError, `expected a ResourceError, got ${String(error)}`);
      assert.equal(error.path, check.path);
      for (const part of check.includes) assert.ok(error.message.includes(part), `"${error.message}" should mention ${part}`);
      assert.equal(error.code, 3, 'INVALID_ARGUMENT');
      return true;
    },
  );
}

test('an unknown field is an error naming the resource, the path and a likely intended name', () => {
  rejects(TypeUrl.Cluster, { name: 'web', conect_timeout: '5s' }, { path: 'conect_timeout', includes: ['Cluster "web"', 'unknown field', 'connect_timeout'] });
});

test('a value of the wrong type deep inside is an error naming its path and the expected type', () => {
  rejects(
    TypeUrl.Endpoint,
    { cluster_name: 'web', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '1.2.3.4', port_value: 'eighty' } } } }] }] },
    { path: 'endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value', includes: ['ClusterLoadAssignment "web"', 'integer'] },
  );
  rejects(TypeUrl.Cluster, { name: 'web', connect_timeout: 5 }, { path: 'connect_timeout', includes: ['duration'] });
  rejects(TypeUrl.Cluster, { name: 'web', health_checks: {} }, { path: 'health_checks', includes: ['array'] });
});

test('a bad enum value is an error listing the valid names', () => {
  rejects(TypeUrl.Cluster, { name: 'web', type: 'LOGICAL_DNZ' }, { path: 'type', includes: ['LOGICAL_DNZ', 'STRICT_DNS', 'LOGICAL_DNS', 'EDS'] });
});

test('a field inside a typed_config Any is checked against the Any type', () => {
  rejects(
    TypeUrl.Listener,
    { name: 'l', filter_chains: [{ filters: [{ name: 'hcm', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager', stat_prefx: 'x' } }] }] },
    { path: 'filter_chains[0].filters[0].typed_config.stat_prefx', includes: ['Listener "l"', 'unknown field', 'HttpConnectionManager'] },
  );
});

test('an Any of an unknown type is an error that says how to add it', () => {
  rejects(TypeUrl.Cluster, { name: 'web', transport_socket: { name: 't', typed_config: { '@type': 'type.googleapis.com/acme.Nope' } } }, {
    path: 'transport_socket.typed_config["@type"]',
    includes: ['acme.Nope', 'addProtoFiles'],
  });
});

test('two members of one oneof is an error', () => {
  rejects(TypeUrl.Cluster, { name: 'web', type: 'EDS', cluster_type: { name: 'x' } }, { path: '', includes: ['oneof'] });
});

test('undecodable bytes are an INVALID_ARGUMENT error', () => {
  assert.throws(() => decodeMessage(TypeUrl.Cluster, Buffer.from([0x0a, 0xff, 0xff])), (e: any) => e.code === 3 && /cannot decode/.test(e.message));
});
