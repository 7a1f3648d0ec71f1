// The generated API is Envoy 1.40's, all of it: fields added since the 2024 API and extensions outside the old
// subset encode, decode and encode again to the same bytes, keeping their values.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ENVOY_API_VERSION, TypeUrl, decodeMessage, encodeMessage, lookupType, pack, unpack } from '../../src/resource/index.js';

function roundTrips(typeNameOrUrl: string, message: Record<string, unknown>): Record<string, unknown> {
  const bytes = encodeMessage(typeNameOrUrl, message);
  const decoded = decodeMessage(typeNameOrUrl, bytes);
  assert.deepEqual(encodeMessage(typeNameOrUrl, decoded), bytes, 'decode then encode gives the same bytes');
  return decoded;
}

test('ENVOY_API_VERSION names the Envoy release the API was generated from', () => {
  assert.equal(ENVOY_API_VERSION, '1.40.0');
});

const fields: [string, string, Record<string, unknown>, (decoded: Record<string, unknown>) => unknown, unknown][] = [
  ['Cluster.dns_jitter', TypeUrl.Cluster, { name: 'c', dns_jitter: '0.5s' }, (d) => d['dns_jitter'], '0.500s'],
  ['Listener.tcp_keepalive', TypeUrl.Listener, { name: 'l', tcp_keepalive: { keepalive_time: 60 } }, (d) => d['tcp_keepalive'], { keepalive_time: 60 }],
  [
    'HttpConnectionManager.http1_safe_max_connection_duration',
    'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
    { stat_prefix: 's', http1_safe_max_connection_duration: true },
    (d) => d['http1_safe_max_connection_duration'],
    true,
  ],
  [
    'HttpConnectionManager.stream_flush_timeout',
    'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
    { stat_prefix: 's', stream_flush_timeout: '10s' },
    (d) => d['stream_flush_timeout'],
    '10s',
  ],
  ['RouteConfiguration.vhost_header', TypeUrl.Route, { name: 'r', vhost_header: 'x-vhost' }, (d) => d['vhost_header'], 'x-vhost'],
  ['VirtualHost.request_body_buffer_limit', TypeUrl.VirtualHost, { name: 'v', domains: ['*'], request_body_buffer_limit: 4096 }, (d) => d['request_body_buffer_limit'], '4096'],
  [
    'RouteAction.path_rewrite',
    'envoy.config.route.v3.RouteAction',
    { cluster: 'c', path_rewrite: '/new' },
    (d) => d['path_rewrite'],
    '/new',
  ],
];

for (const [what, type, message, read, expected] of fields) {
  test(`${what} encodes and round-trips`, () => {
    assert.deepEqual(read(roundTrips(type, message)), expected);
  });
}

const extensions: [string, string, Record<string, unknown>][] = [
  ['tls_inspector listener filter', 'envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector', { enable_ja3_fingerprinting: true }],
  ['original_dst listener filter', 'envoy.extensions.filters.listener.original_dst.v3.OriginalDst', {}],
  ['proxy_protocol listener filter', 'envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol', { allow_requests_without_proxy_protocol: true }],
  ['http_inspector listener filter', 'envoy.extensions.filters.listener.http_inspector.v3.HttpInspector', {}],
  ['ext_authz HTTP filter', 'envoy.extensions.filters.http.ext_authz.v3.ExtAuthz', { grpc_service: { envoy_grpc: { cluster_name: 'authz' } }, failure_mode_allow: true }],
  ['jwt_authn HTTP filter', 'envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication', { providers: { p: { issuer: 'https://issuer.example', local_jwks: { inline_string: '{"keys":[]}' } } } }],
  ['grpc_web HTTP filter', 'envoy.extensions.filters.http.grpc_web.v3.GrpcWeb', {}],
  ['cors HTTP filter and policy', 'envoy.extensions.filters.http.cors.v3.CorsPolicy', { allow_origin_string_match: [{ exact: 'https://a.example' }], allow_credentials: true }],
  [
    'compressor HTTP filter with gzip',
    'envoy.extensions.filters.http.compressor.v3.Compressor',
    { compressor_library: { name: 'gzip', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.compression.gzip.compressor.v3.Gzip', memory_level: 9 } } },
  ],
  ['ratelimit HTTP filter', 'envoy.extensions.filters.http.ratelimit.v3.RateLimit', { domain: 'd', rate_limit_service: { grpc_service: { envoy_grpc: { cluster_name: 'rls' } }, transport_api_version: 'V3' } }],
  ['local rate limit HTTP filter', 'envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit', { stat_prefix: 'l', token_bucket: { max_tokens: 10, fill_interval: '1s' } }],
  ['OpenTelemetry tracer', 'envoy.config.trace.v3.OpenTelemetryConfig', { grpc_service: { envoy_grpc: { cluster_name: 'otel' } }, service_name: 'svc' }],
  ['Zipkin tracer', 'envoy.config.trace.v3.ZipkinConfig', { collector_cluster: 'zipkin', collector_endpoint: '/api/v2/spans', collector_endpoint_version: 'HTTP_JSON' }],
  ['TCP upstream protocol options', 'envoy.extensions.upstreams.tcp.v3.TcpProtocolOptions', { idle_timeout: '30s' }],
];

for (const [what, type, message] of extensions) {
  test(`the ${what} (${type}) encodes, round-trips and packs into an Any`, () => {
    const decoded = roundTrips(type, message);
    for (const key of Object.keys(message)) assert.ok(key in decoded, `${key} survives the round trip`);
    const any = pack(type, message);
    assert.deepEqual(unpack(any).message, decoded);
  });
}

test('a type of a package not used before is read on its first lookup', () => {
  const type = lookupType('envoy.extensions.filters.http.wasm.v3.Wasm');
  assert.equal(type.fullName, '.envoy.extensions.filters.http.wasm.v3.Wasm');
});

test('an unknown type names the API version in its error', () => {
  assert.throws(() => lookupType('envoy.extensions.filters.http.nope.v3.Nope'), /not in the Envoy 1\.40\.0 API; add its \.proto with addProtoFiles\(\)/);
});
