import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TypeUrl, getResourceName, getResourceReferences } from '../../src/resource/index.js';
import { cluster, listener, samples } from '../support/sample-resources.js';

test('resource names come from name, or cluster_name for endpoint assignments', () => {
  assert.equal(getResourceName(TypeUrl.Cluster, samples[TypeUrl.Cluster]), 'backend');
  assert.equal(getResourceName(TypeUrl.Endpoint, samples[TypeUrl.Endpoint]), 'backend');
  assert.equal(getResourceName(TypeUrl.Secret, samples[TypeUrl.Secret]), 'server_cert');
  assert.equal(getResourceName(TypeUrl.LbEndpoint, samples[TypeUrl.LbEndpoint]), '');
});

test('EDS clusters reference their service name or their own name; other clusters nothing', () => {
  const refs = getResourceReferences({
    [TypeUrl.Cluster]: [
      cluster('a'),
      cluster('b', { eds_cluster_config: { eds_config: { ads: {} }, service_name: 'b-svc' } }),
      { name: 'dns', type: 'LOGICAL_DNS' },
    ],
  });
  assert.deepEqual([...refs.get(TypeUrl.Endpoint)!].sort(), ['a', 'b-svc']);
});

test('listeners reference RDS routes in every filter chain, the default one and inline scoped routes', () => {
  const withDefault = { ...listener('l2', 'ignored'), filter_chains: [], default_filter_chain: listener('x', 'default-route').filter_chains![0] };
  const scoped = {
    name: 'l3',
    filter_chains: [{ filters: [{ name: 'hcm', typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
      stat_prefix: 's',
      scoped_routes: { name: 'sr', scope_key_builder: { fragments: [] }, rds_config_source: { ads: {} },
        scoped_route_configurations_list: { scoped_route_configurations: [{ name: 's1', route_configuration_name: 'scoped-route' }] } },
    } }] }],
  };
  const refs = getResourceReferences({ [TypeUrl.Listener]: [listener('l1', 'r1'), withDefault, scoped], [TypeUrl.ScopedRoute]: [samples[TypeUrl.ScopedRoute]] });
  assert.deepEqual([...refs.get(TypeUrl.Route)!].sort(), ['default-route', 'local_route', 'r1', 'scoped-route']);
});
