// Envoy's field rules (the protoc-gen-validate annotations of its .proto files): each kind of rule is checked,
// errors name the resource, the field path and the rule, and caches refuse what Envoy would NACK.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LinearCache, Snapshot } from '../../src/cache/index.js';
import { join } from 'node:path';
import { ResourceError, TypeUrl, addProtoFiles, encodeMessage, validate } from '../../src/resource/index.js';
import { contentHash } from '../../src/resource/codec.js';
import { validateEncodedContent } from '../../src/resource/validate.js';
import { cluster, endpoints, listener, route } from '../support/sample-resources.js';

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

function rejects(typeUrl: string, resource: unknown, message: RegExp): void {
  assert.throws(() => validate(typeUrl, resource), (error: unknown) => {
    assert.ok(error instanceof ResourceError, `a ResourceError, not ${String(error)}`);
    assert.match(error.message, message);
    return true;
  });
}

function staticCluster(port: number): unknown {
  return cluster('web', {
    type: 'STATIC',
    eds_cluster_config: undefined,
    load_assignment: endpoints('web', 1, port),
  });
}

function listenerWithHcm(hcm: Record<string, unknown>): unknown {
  return {
    name: 'l',
    address: { socket_address: { address: '0.0.0.0', port_value: 10000 } },
    filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: { '@type': HCM, ...hcm } }] }],
  };
}

const rdsHcm = { stat_prefix: 'ingress', rds: { route_config_name: 'r', config_source: { ads: {} } } };

test('the sample resources of every kind pass', () => {
  validate(TypeUrl.Cluster, cluster('web'));
  validate(TypeUrl.Endpoint, endpoints('web'));
  validate(TypeUrl.Listener, listener('l', 'r'));
  validate(TypeUrl.Route, route('r', 'web'));
});

test('a number above its lte bound is refused, naming the path and the rule', () => {
  rejects(
    TypeUrl.Cluster,
    staticCluster(70000),
    /^invalid envoy\.config\.cluster\.v3\.Cluster "web" at load_assignment\.endpoints\[0\]\.lb_endpoints\[0\]\.endpoint\.address\.socket_address\.port_value: 70000 is more than 65535 \(validate\.rules uint32\.lte\)$/,
  );
});

test('a duration that must be positive refuses a negative one (duration.gt)', () => {
  rejects(TypeUrl.Cluster, cluster('web', { connect_timeout: '-1s' }), /at connect_timeout: -1s is not more than 0s \(validate\.rules duration\.gt\)/);
});

test('a duration at zero passes gte and fails gt', () => {
  validate(TypeUrl.Cluster, cluster('web', { dns_refresh_rate: undefined, dns_jitter: '0s' }));
  rejects(TypeUrl.Cluster, cluster('web', { dns_refresh_rate: '0s' }), /at dns_refresh_rate: 0s is not more than 0\.001s \(validate\.rules duration\.gt\)/);
});

test('an empty string with min_len is refused inside a typed_config, by the Any\'s own type', () => {
  rejects(TypeUrl.Listener, listenerWithHcm({ ...rdsHcm, stat_prefix: '' }), /at filter_chains\[0\]\.filters\[0\]\.typed_config\.stat_prefix: must not be empty \(validate\.rules string\.min_len\)/);
});

test('a repeated field below min_items is refused (a virtual host with no domains)', () => {
  rejects(TypeUrl.Route, { name: 'r', virtual_hosts: [{ name: 'v', domains: [] }] }, /at virtual_hosts\[0\]\.domains: must have at least 1 item \(validate\.rules repeated\.min_items\)/);
});

test('each item of a repeated field is checked by the items rule', () => {
  rejects(TypeUrl.Route, { name: 'r', virtual_hosts: [{ name: 'v', domains: ['*'], request_headers_to_remove: ['ok', ''] }] }, /at virtual_hosts\[0\]\.request_headers_to_remove\[1\]: must not be empty \(validate\.rules string\.min_len\)/);
});

test('a required message field that is missing is refused (message.required)', () => {
  rejects(TypeUrl.Route, { name: 'r', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ route: { cluster: 'c' } }] }] }, /at virtual_hosts\[0\]\.routes\[0\]\.match: is required \(validate\.rules message\.required\)/);
});

test('a required oneof with nothing set is refused (validate.required)', () => {
  rejects(TypeUrl.Route, { name: 'r', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' } }] }] }, /at virtual_hosts\[0\]\.routes\[0\]\.action: one of route, redirect, direct_response, .* must be set \(validate\.required\)/);
});

test('an enum number that names no value is refused (enum.defined_only)', () => {
  rejects(TypeUrl.Cluster, cluster('web', { lb_policy: 42 }), /at lb_policy: 42 is not a value of envoy\.config\.cluster\.v3\.Cluster\.LbPolicy \(validate\.rules enum\.defined_only\)/);
});

test('a header name with a character HTTP forbids is refused (well_known_regex HTTP_HEADER_NAME)', () => {
  rejects(
    TypeUrl.Route,
    { name: 'r', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/', headers: [{ name: 'bad\nname', present_match: true }] }, route: { cluster: 'c' } }] }] },
    /at virtual_hosts\[0\]\.routes\[0\]\.match\.headers\[0\]\.name: "bad\\nname" is not a valid HTTP header name \(validate\.rules string\.well_known_regex\)/,
  );
});

test('a string above max_bytes is refused', () => {
  rejects(TypeUrl.Route, { name: 'r', virtual_hosts: [{ name: 'v', domains: ['*'], request_headers_to_add: [{ header: { key: 'x-a', value: 'v'.repeat(16385) } }] }] }, /header\.value: .* is longer than 16384 bytes \(validate\.rules string\.max_bytes\)/);
});

test('a double outside its range is refused', () => {
  rejects(
    TypeUrl.Cluster,
    cluster('web', { outlier_detection: { max_ejection_percent: 50 }, common_lb_config: { healthy_panic_threshold: { value: 150 } } }),
    /at common_lb_config\.healthy_panic_threshold\.value: 150 is more than 100 \(validate\.rules double\.lte\)/,
  );
});

test('a rule on a wrapper checks the wrapped value', () => {
  rejects(TypeUrl.Cluster, cluster('web', { per_connection_buffer_limit_bytes: 1, max_requests_per_connection: 0, circuit_breakers: { thresholds: [{ priority: 'DEFAULT', max_connections: 1 }] }, lb_subset_config: undefined, upstream_connection_options: { tcp_keepalive: { keepalive_probes: 1 } }, least_request_lb_config: { choice_count: 1 } }), /at least_request_lb_config\.choice_count: 1 is less than 2 \(validate\.rules uint32\.gte\)/);
});

test('a new Snapshot refuses a resource that breaks a rule, naming it', () => {
  assert.throws(
    () => new Snapshot('1', { [TypeUrl.Cluster]: [cluster('web', { connect_timeout: '-1s' })] }),
    /invalid envoy\.config\.cluster\.v3\.Cluster "web" at connect_timeout: -1s is not more than 0s/,
  );
});

test('a LinearCache refuses a resource that breaks a rule and keeps what it had', () => {
  const cache = new LinearCache(TypeUrl.Route, { initialResources: { r: route('r', 'web') } });
  assert.throws(() => cache.updateResource('r', { name: 'r', virtual_hosts: [{ name: 'v', domains: [] }] }), /virtual_hosts\[0\]\.domains: must have at least 1 item/);
  assert.equal(cache.getResources().get('r')?.virtual_hosts?.[0]?.domains?.[0], '*');
});

test('content that passed, named by its content hash, is not checked again until addProtoFiles adds types', () => {
  const good = encodeMessage(TypeUrl.Endpoint, endpoints('a', 1, 8080));
  const bad = encodeMessage(TypeUrl.Endpoint, endpoints('a', 1, 70000));
  const goodHash = contentHash(good);
  validateEncodedContent(TypeUrl.Endpoint, good, goodHash, 'a');
  // The hash names content that passed: whatever bytes come with it are not checked again.
  validateEncodedContent(TypeUrl.Endpoint, bad, goodHash, 'a');
  assert.throws(() => validateEncodedContent(TypeUrl.Endpoint, bad, contentHash(bad), 'a'), /port_value: 70000 is more than 65535/);
  const badCluster = encodeMessage(TypeUrl.Cluster, staticCluster(70000));
  assert.throws(() => validateEncodedContent(TypeUrl.Cluster, badCluster, goodHash, 'web'), ResourceError, 'remembered per type');
  // Types added may judge content differently: what passed before is checked again.
  addProtoFiles(['acme/filter/v1/filter.proto'], [join(import.meta.dirname, 'fixtures', 'protos')]);
  assert.throws(() => validateEncodedContent(TypeUrl.Endpoint, bad, goodHash, 'a'), /port_value: 70000 is more than 65535/);
});
