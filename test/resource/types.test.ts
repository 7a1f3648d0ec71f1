// The generated types catch mistakes in the editor: each `@ts-expect-error` below is a mistake the compiler must
// report (`npm run typecheck` fails if it does not), and the runtime assertions show the same values work.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type TypeUrl, pack, type MessageOf } from '../../src/resource/index.js';
import type { Cluster, Duration, TypeMap } from '../../src/types/index.js';

test('a duration is a string of seconds with an "s" suffix', () => {
  const ok: Duration[] = ['5s', '0.25s', '-1s'];
  // @ts-expect-error: no unit
  const noUnit: Duration = '5';
  // @ts-expect-error: a number is not a duration in ProtoJSON
  const cluster: Cluster = { name: 'c', connect_timeout: 5 };
  // @ts-expect-error: milliseconds are not a ProtoJSON duration
  const millis: Cluster = { name: 'c', connect_timeout: '500ms' };
  void [noUnit, cluster, millis];
  assert.deepEqual(ok, ['5s', '0.25s', '-1s']);
});

test('enums take their names (or numbers), and a misspelled name is an error', () => {
  const byName: Cluster = { name: 'c', type: 'STRICT_DNS', lb_policy: 'LEAST_REQUEST' };
  const byNumber: Cluster = { name: 'c', type: 1 };
  // @ts-expect-error: there is no LOGICAL_DNZ
  const typo: Cluster = { name: 'c', type: 'LOGICAL_DNZ' };
  void typo;
  assert.equal(byName.type, 'STRICT_DNS');
  assert.equal(byNumber.type, 1);
});

test('pack() checks the message against the type its name or URL names', () => {
  const router = pack('envoy.extensions.filters.http.router.v3.Router', { suppress_envoy_headers: true });
  const byUrl = pack('type.googleapis.com/envoy.extensions.filters.http.router.v3.Router', { start_child_span: true });
  // @ts-expect-error: Router has no field suppress_envoy_header
  const typo = () => pack('envoy.extensions.filters.http.router.v3.Router', { suppress_envoy_header: true });
  // @ts-expect-error: stat_prefix is a string
  const wrongType = () => pack('type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager', { stat_prefix: 1 });
  void [typo, wrongType];
  assert.equal(router['@type'], 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router');
  assert.equal(byUrl['@type'], 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router');
});

test('a type name not in the API (added at run time) takes any object', () => {
  type Own = MessageOf<'acme.filter.v1.Filter'>;
  const own: Own = { anything: 1 };
  const cluster: MessageOf<typeof TypeUrl.Cluster> = { name: 'c' } satisfies TypeMap['envoy.config.cluster.v3.Cluster'];
  assert.equal(own['anything'], 1);
  assert.equal(cluster.name, 'c');
});
