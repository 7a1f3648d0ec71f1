// Differential test of Envoy's field rules: each resource of the corpus is judged by the library (validate) and by
// real Envoy (`envoy --mode validate` with a bootstrap that holds the resource statically), and the verdicts
// must agree. Each invalid resource breaks one protoc-gen-validate rule of a different kind; valid ones use
// fields and extensions new since the 2024 API.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { promisify } from 'node:util';
import { TypeUrl, validate } from '../../src/resource/index.js';
import { envoyTest, requireEnvoy } from '../support/envoy.js';

const run = promisify(execFile);
const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } };

type Json = Record<string, unknown>;
type Kind = 'cluster' | 'endpoints' | 'listener' | 'route';

interface Case {
  name: string;
  kind: Kind;
  resource: Json;
  /** The rule the resource breaks, as it appears in the library's message; absent for a valid resource. */
  breaks?: string;
}

const address = (port: number): Json => ({ socket_address: { address: '127.0.0.1', port_value: port } });
const endpoints = (port = 8080, extra: Json = {}): Json => ({ cluster_name: 'backend', endpoints: [{ lb_endpoints: [{ endpoint: { address: address(port) } }] }], ...extra });
const cluster = (extra: Json = {}): Json => ({ name: 'backend', connect_timeout: '1s', type: 'STATIC', load_assignment: endpoints(), ...extra });
const routes = (vhost: Json = {}, extra: Json = {}): Json => ({
  name: 'local',
  virtual_hosts: [{ name: 'vh', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'backend' } }], ...vhost }],
  ...extra,
});
const hcm = (extra: Json = {}): Json => ({ '@type': HCM, stat_prefix: 'ingress', route_config: routes(), http_filters: [ROUTER], ...extra });
const listener = (extra: Json = {}, hcmExtra: Json = {}): Json => ({
  name: 'ingress',
  address: address(10000),
  filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: hcm(hcmExtra) }] }],
  ...extra,
});
const route = (match: Json): Json => routes({ routes: [{ match, route: { cluster: 'backend' } }] });

const corpus: Case[] = [
  { name: 'a static cluster', kind: 'cluster', resource: cluster() },
  {
    name: 'a DNS cluster with dns_jitter and TCP protocol options',
    kind: 'cluster',
    resource: cluster({
      type: 'STRICT_DNS',
      dns_refresh_rate: '5s',
      dns_jitter: '1s',
      load_assignment: { cluster_name: 'backend', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 'localhost', port_value: 8080 } } } }] }] },
      typed_extension_protocol_options: {
        'envoy.extensions.upstreams.tcp.v3.TcpProtocolOptions': { '@type': 'type.googleapis.com/envoy.extensions.upstreams.tcp.v3.TcpProtocolOptions', idle_timeout: '30s' },
      },
    }),
  },
  { name: 'endpoints', kind: 'endpoints', resource: endpoints() },
  { name: 'a listener with tcp_keepalive, tls_inspector and an HCM using stream_flush_timeout', kind: 'listener', resource: listener({ tcp_keepalive: { keepalive_time: 60 }, listener_filters: [{ name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' } }] }, { stream_flush_timeout: '10s', http1_safe_max_connection_duration: true, common_http_protocol_options: { max_connection_duration: '60s' } }) },
  { name: 'a route configuration with vhost_header and a path_rewrite', kind: 'route', resource: routes({ request_body_buffer_limit: 4096 }, { vhost_header: 'x-host' }) },

  { name: 'a zero connect_timeout', kind: 'cluster', resource: cluster({ connect_timeout: '0s' }), breaks: 'duration.gt' },
  { name: 'a dns_refresh_rate under 1ms', kind: 'cluster', resource: cluster({ type: 'STRICT_DNS', dns_refresh_rate: '0.0005s' }), breaks: 'duration.gt' },
  { name: 'a port above 65535', kind: 'endpoints', resource: endpoints(70000), breaks: 'uint32.lte' },
  { name: 'an empty HCM stat_prefix, inside the typed_config', kind: 'listener', resource: listener({}, { stat_prefix: '' }), breaks: 'string.min_len' },
  { name: 'a virtual host with no domains', kind: 'route', resource: routes({ domains: [] }), breaks: 'repeated.min_items' },
  { name: 'a route with no match', kind: 'route', resource: routes({ routes: [{ route: { cluster: 'backend' } }] }), breaks: 'message.required' },
  { name: 'a route with no action', kind: 'route', resource: routes({ routes: [{ match: { prefix: '/' } }] }), breaks: 'validate.required' },
  { name: 'an lb_policy number with no name', kind: 'cluster', resource: cluster({ lb_policy: 42 }), breaks: 'enum.defined_only' },
  { name: 'a header matcher name with a newline', kind: 'route', resource: route({ prefix: '/', headers: [{ name: 'x-bad\nname', present_match: true }] }), breaks: 'string.well_known_regex' },
  { name: 'a healthy_panic_threshold of 150%', kind: 'cluster', resource: cluster({ common_lb_config: { healthy_panic_threshold: { value: 150 } } }), breaks: 'double.lte' },
  { name: 'a least-request choice_count of 1 (a wrapper)', kind: 'cluster', resource: cluster({ lb_policy: 'LEAST_REQUEST', least_request_lb_config: { choice_count: 1 } }), breaks: 'uint32.gte' },
  { name: 'a request header value over 16 KiB', kind: 'route', resource: routes({ request_headers_to_add: [{ header: { key: 'x-big', value: 'v'.repeat(16385) } }] }), breaks: 'string.max_bytes' },
  { name: 'a metadata namespace with an empty name (map keys)', kind: 'cluster', resource: cluster({ metadata: { filter_metadata: { '': { a: 1 } } } }), breaks: 'string.min_len' },
  { name: 'a path_separated_prefix ending in a slash', kind: 'route', resource: route({ path_separated_prefix: '/api/' }), breaks: 'string.pattern' },
  { name: 'a scheme to overwrite that is not http or https', kind: 'listener', resource: listener({}, { scheme_header_transformation: { scheme_to_overwrite: 'ftp' } }), breaks: 'string.in' },
  { name: 'a header copied twice by the internal redirect policy', kind: 'route', resource: routes({ routes: [{ match: { prefix: '/' }, route: { cluster: 'backend', internal_redirect_policy: { response_headers_to_copy: ['x-a', 'x-a'] } } }] }), breaks: 'repeated.unique' },
  {
    name: 'a listener filter disabled by a predicate with any_match false',
    kind: 'listener',
    resource: listener({ listener_filters: [{ name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' }, filter_disabled: { any_match: false } }] }),
    breaks: 'bool.const',
  },
];

const TYPE_URL: Record<Kind, string> = { cluster: TypeUrl.Cluster, endpoints: TypeUrl.Endpoint, listener: TypeUrl.Listener, route: TypeUrl.Route };

/** A bootstrap that holds the resource statically (routes inside a listener's HCM, endpoints in a cluster). */
function bootstrapOf(c: Case): Json {
  const clusters = [cluster()];
  const listeners: Json[] = [];
  if (c.kind === 'cluster') clusters[0] = c.resource;
  if (c.kind === 'endpoints') clusters[0] = cluster({ load_assignment: c.resource });
  if (c.kind === 'listener') listeners.push(c.resource);
  if (c.kind === 'route') listeners.push(listener({}, { route_config: c.resource }));
  return { static_resources: { clusters, listeners } };
}

function libraryVerdict(c: Case): string | undefined {
  try {
    validate(TYPE_URL[c.kind], c.resource);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

async function envoyVerdict(envoy: string, dir: string, c: Case, i: number): Promise<string | undefined> {
  const file = join(dir, `case-${i}.json`);
  writeFileSync(file, JSON.stringify(bootstrapOf(c)));
  try {
    await run(envoy, ['--mode', 'validate', '-c', file, '--disable-hot-restart', '-l', 'critical'], { timeout: 60_000 });
    return undefined;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    return `${e.stderr ?? ''}${e.stdout ?? ''}`.trim() || e.message;
  }
}

const dir = mkdtempSync(join(tmpdir(), 'xds-envoy-rules-'));
after(() => rmSync(dir, { recursive: true, force: true }));

corpus.forEach((c, i) => {
  envoyTest(`${c.breaks ? `Envoy and the library both refuse ${c.name} (${c.breaks})` : `Envoy and the library both accept ${c.name}`}`, async () => {
    const ours = libraryVerdict(c);
    const theirs = await envoyVerdict(requireEnvoy().path, dir, c, i);
    if (c.breaks === undefined) {
      assert.equal(ours, undefined, 'the library accepts it');
      assert.equal(theirs, undefined, 'Envoy accepts it');
    } else {
      assert.ok(ours?.includes(`(${c.breaks.startsWith('validate.') ? c.breaks : `validate.rules ${c.breaks}`})`), `the library names the rule: ${ours}`);
      assert.notEqual(theirs, undefined, `Envoy refuses it too (the library said: ${ours})`);
      assert.match(theirs ?? '', /ValidationError/, 'Envoy refuses it by a protoc-gen-validate rule');
      const field = /^invalid [^ ]+ (?:"[^"]*" )?at ([^:]+):/.exec(ours ?? '')?.[1]?.split('.').pop()?.replace(/\[.*\]$/, '') ?? '';
      const pascal = field.replace(/(^|_)([a-z0-9])/g, (_, __, ch: string) => ch.toUpperCase());
      assert.ok(theirs?.includes(`.${pascal}`) || theirs?.includes(`"${field}"`), `Envoy names the same field (${field}): ${theirs?.slice(-300)}`);
    }
  });
});
