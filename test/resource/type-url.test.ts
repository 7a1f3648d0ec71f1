import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RESOURCE_TYPE_URLS, TypeUrl, XdsError, assertResourceTypeUrl, isResourceTypeUrl, lookupType, typeNameOf } from '../../src/resource/index.js';

test('every type URL names a message the registry knows', () => {
  for (const url of Object.values(TypeUrl)) assert.equal(lookupType(url).fullName, `.${typeNameOf(url)}`);
});

test('an unknown type URL is an error that lists the known ones', () => {
  assert.throws(
    () => assertResourceTypeUrl('type.googleapis.com/envoy.config.cluster.v2.Cluster'),
    (e: unknown) => e instanceof XdsError && e.code === 3 && e.message.includes('envoy.config.cluster.v2.Cluster') && RESOURCE_TYPE_URLS.every((u) => e.message.includes(u)),
  );
  assert.equal(isResourceTypeUrl(TypeUrl.DiscoveryRequest), false);
});

test('resource types are ordered clusters before endpoints and listeners before routes', () => {
  const at = (u: string) => RESOURCE_TYPE_URLS.indexOf(u as never);
  assert.ok(at(TypeUrl.Cluster) < at(TypeUrl.Endpoint));
  assert.ok(at(TypeUrl.Listener) < at(TypeUrl.Route));
  assert.ok(at(TypeUrl.Route) < at(TypeUrl.VirtualHost));
});

test('XdsError.from keeps codes and normalizes anything thrown', () => {
  assert.equal(XdsError.from(new XdsError(7, 'no')).code, 7);
  assert.equal(XdsError.from(Object.assign(new Error('x'), { code: 5 })).code, 5);
  assert.equal(XdsError.from('boom').code, 13);
  assert.equal(XdsError.from(new Error('y'), 3).message, 'y');
});
