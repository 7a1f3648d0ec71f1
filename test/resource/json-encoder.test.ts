// The fast ProtoJSON encoder must agree byte for byte with the checked path (protobuf.js's ProtoJSON parser and
// encoder) on everything it accepts, and must accept nothing that the checked path rejects.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Long from 'long';
import { RESOURCE_TYPE_URLS, ResourceError, TypeUrl, encodeMessage, lookupType } from '../../src/resource/index.js';
import { encodeMessageChecked } from '../../src/resource/codec.js';
import { Bail, Invalid, encodeJson } from '../../src/resource/json-encoder.js';
import { samples } from '../support/sample-resources.js';

const lookup = (url: string) => {
  try {
    return lookupType(url);
  } catch {
    return undefined;
  }
};

function fast(typeUrl: string, value: unknown): Buffer | 'bail' {
  try {
    return Buffer.from(encodeJson(lookupType(typeUrl), value, lookup));
  } catch (error) {
    if (error instanceof Bail || error instanceof Invalid) return 'bail';
    throw error;
  }
}

function agrees(typeUrl: string, value: unknown, label: string): void {
  const quick = fast(typeUrl, value);
  assert.notEqual(quick, 'bail', `${label}: the fast path should take this value`);
  assert.deepEqual(quick, encodeMessageChecked(typeUrl, value), `${label}: same bytes as the checked path`);
}

test('the fast encoder gives the checked bytes for a sample of every resource type', () => {
  for (const typeUrl of RESOURCE_TYPE_URLS) agrees(typeUrl, samples[typeUrl], typeUrl);
});

test('the fast encoder gives the checked bytes for edge cases of the ProtoJSON mapping', () => {
  const cases: [string, unknown][] = [
    ['zero wrapper', { name: 'c', per_connection_buffer_limit_bytes: 0 }],
    ['wrapper', { name: 'c', per_connection_buffer_limit_bytes: 32768 }],
    ['negative and fractional durations', { name: 'c', connect_timeout: '-1.5s', dns_refresh_rate: '0.000000001s', cleanup_interval: '10.25s' }],
    ['zero duration', { name: 'c', connect_timeout: '0s' }],
    ['lowerCamel names', { name: 'c', connectTimeout: '1s', lbPolicy: 'RING_HASH', edsClusterConfig: { serviceName: 'x' } }],
    ['members not in field-number order', { lb_policy: 'RING_HASH', connect_timeout: '1s', name: 'c', eds_cluster_config: { service_name: 'x', eds_config: { ads: {} } } }],
    ['enums by number', { name: 'c', type: 3, lb_policy: 0 }],
    ['null and undefined members are absent', { name: 'c', alt_stat_name: null, connect_timeout: undefined }],
    ['empty arrays and messages', { name: 'c', health_checks: [], eds_cluster_config: {} }],
    ['int64 as number and string', { name: 'c', max_requests_per_connection: 7, circuit_breakers: { thresholds: [{ max_connections: '4294967295' }] } }],
    ['nested struct with every JSON kind', { name: 'c', metadata: { filter_metadata: { a: { n: null, b: false, x: 1.5, s: 'str', l: [1, 'two', [3], { four: 4 }], o: { deep: { deeper: [] } } }, b: {} } } }],
    ['typed_filter_metadata Any', { name: 'c', metadata: { typed_filter_metadata: { k: { '@type': 'type.googleapis.com/google.protobuf.Duration', value: '3s' } } } }],
    ['Any holding a Struct', { name: 'c', metadata: { typed_filter_metadata: { k: { '@type': 'type.googleapis.com/google.protobuf.Struct', value: { a: 1 } } } } }],
    ['empty Any', { name: 'c', transport_socket: { name: 'raw', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext' } } }],
    ['bool map-free proto3 optional', { name: 'c', ignore_health_on_host_removal: true, respect_dns_ttl: false }],
    ['repeated strings and enums', { name: 'c', dns_resolvers: [], typed_extension_protocol_options: {} }],
    ['lb subset selectors (repeated strings, enums)', { name: 'c', lb_subset_config: { fallback_policy: 'ANY_ENDPOINT', subset_selectors: [{ keys: ['a', 'b'], fallback_policy: 'KEYS_SUBSET', fallback_keys_subset: ['a'] }] } }],
    ['upstream bind config with uint32 port', { name: 'c', upstream_bind_config: { source_address: { address: '::', port_value: 65535 } } }],
    ['bytes as url-safe base64 and Uint8Array', { name: 'c', metadata: {} }],
  ];
  for (const [label, value] of cases) agrees(TypeUrl.Cluster, value, label);
  agrees(TypeUrl.Secret, { name: 's', tls_certificate: { private_key: { inline_bytes: 'AQID_-8=' } } }, 'url-safe base64');
  agrees(TypeUrl.Secret, { name: 's', tls_certificate: { private_key: { inline_bytes: new Uint8Array([1, 2, 3]) } } }, 'Uint8Array bytes');
  agrees(TypeUrl.Runtime, { name: 'r', layer: { a: { b: [true, null] } } }, 'runtime layer Struct');
  agrees(TypeUrl.Route, { name: 'r', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/', headers: [{ name: 'x', string_match: { exact: 'y' } }] }, route: { weighted_clusters: { clusters: [{ name: 'a', weight: 1 }, { name: 'b', weight: 3 }] } } }] }] }, 'weighted clusters');
  agrees(TypeUrl.Endpoint, { cluster_name: 'e', endpoints: [{ priority: 1, lb_endpoints: [{ endpoint: { address: { socket_address: { address: '1.2.3.4', port_value: 1 } } }, load_balancing_weight: 0 }] }], policy: { overprovisioning_factor: 140 } }, 'endpoints');
});

test('values the checked path rejects are rejected by the fast path too', () => {
  const bad: [string, unknown][] = [
    ['unknown field', { name: 'c', nope: 1 }],
    ['a field given by both names', { name: 'c', connect_timeout: '1s', connectTimeout: '2s' }],
    ['a field given by both names, JSON name first', { connectTimeout: '2s', name: 'c', connect_timeout: '1s' }],
    ['unknown enum name', { name: 'c', type: 'NOPE' }],
    ['non-integer enum number', { name: 'c', type: 1.5 }],
    ['uint32 below range', { name: 'c', upstream_bind_config: { source_address: { address: 'x', port_value: -1 } } }],
    ['uint32 above range', { name: 'c', upstream_bind_config: { source_address: { address: 'x', port_value: 4294967296 } } }],
    ['non-integer for an integer', { name: 'c', upstream_bind_config: { source_address: { address: 'x', port_value: 1.5 } } }],
    ['string for a bool', { name: 'c', respect_dns_ttl: 'true' }],
    ['number for a string', { name: 5 }],
    ['duration without unit', { name: 'c', connect_timeout: '5' }],
    ['duration as number', { name: 'c', connect_timeout: 5 }],
    ['two members of a oneof', { name: 'c', type: 'EDS', cluster_type: { name: 'x' } }],
    ['array for a message', { name: 'c', eds_cluster_config: [] }],
    ['object for a repeated field', { name: 'c', health_checks: {} }],
    ['null inside a repeated field', { name: 'c', health_checks: [null] }],
    ['unknown Any type', { name: 'c', transport_socket: { name: 't', typed_config: { '@type': 'type.googleapis.com/acme.Nope' } } }],
    ['unknown field inside an Any', { name: 'c', transport_socket: { name: 't', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext', snii: 'x' } } }],
    ['Any without @type', { name: 'c', transport_socket: { name: 't', typed_config: { sni: 'x' } } }],
    ['non-finite number in a Struct', { name: 'c', metadata: { filter_metadata: { a: { x: Infinity } } } }],
    ['int64 overflow', { name: 'c', circuit_breakers: { thresholds: [{ max_connections: '99999999999999999999' }] } }],
  ];
  for (const [label, value] of bad) {
    assert.equal(fast(TypeUrl.Cluster, value), 'bail', `${label}: the fast path must decline`);
    assert.throws(() => encodeMessage(TypeUrl.Cluster, value), ResourceError, `${label}: encodeMessage reports it`);
  }
  assert.equal(fast(TypeUrl.Secret, { name: 's', tls_certificate: { private_key: { inline_bytes: 'not base64!' } } }), 'bail');
});

test('an encode started while another runs (a getter of the value encoding) gets its own writer', () => {
  const inner = { name: 'inner', connect_timeout: '2s' };
  let innerBytes: Buffer | 'bail' | undefined;
  const outer = {
    name: 'outer',
    get alt_stat_name(): string {
      innerBytes = fast(TypeUrl.Cluster, inner);
      return 'alt';
    },
    connect_timeout: '1s',
  };
  const outerBytes = fast(TypeUrl.Cluster, outer);
  assert.deepEqual(innerBytes, encodeMessageChecked(TypeUrl.Cluster, inner));
  assert.deepEqual(outerBytes, encodeMessageChecked(TypeUrl.Cluster, { name: 'outer', alt_stat_name: 'alt', connect_timeout: '1s' }));
});

test('values the checked path refuses or writes otherwise are declined by the fast path', () => {
  // An Any's type URL that is not well-formed text: typeNameOf finds the type after the last '/', so only the
  // text check keeps the fast path from writing it differently from protobuf.js.
  const loneSurrogate = { name: 'c', metadata: { typed_filter_metadata: { k: { '@type': '\uD800/google.protobuf.Duration', value: '3s' } } } };
  assert.equal(fast(TypeUrl.Cluster, loneSurrogate), 'bail');
  assert.deepEqual(Buffer.from(encodeMessage(TypeUrl.Cluster, loneSurrogate)), encodeMessageChecked(TypeUrl.Cluster, loneSurrogate));
  // An Any of Empty with a value, and Longs out of their field's range: protobuf.js refuses them.
  assert.equal(fast(TypeUrl.Cluster, { name: 'c', metadata: { typed_filter_metadata: { k: { '@type': 'type.googleapis.com/google.protobuf.Empty', value: {} } } } }), 'bail');
  const inAny = (type: string, value: unknown) => ({ name: 'c', metadata: { typed_filter_metadata: { k: { '@type': `type.googleapis.com/google.protobuf.${type}`, value } } } });
  assert.equal(fast(TypeUrl.Cluster, inAny('Int64Value', Long.fromString('18446744073709551615', true))), 'bail');
  assert.equal(fast(TypeUrl.Cluster, inAny('UInt64Value', Long.fromNumber(-1))), 'bail');
  agrees(TypeUrl.Cluster, inAny('Int64Value', Long.fromNumber(-5)), 'a signed Long in range');
  agrees(TypeUrl.Cluster, inAny('UInt64Value', Long.fromString('18446744073709551615', true)), 'an unsigned Long in range');
});
