// examples/replicas/config.ts: what a replica serves is a function of the store's keys and values only, so that
// replicas agree; invalid values are reported by key and left out.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildConfig, readEntry } from '../examples/replicas/config.js';
import { SAMPLE, sampleConfig, sampleEndpoints } from '../examples/replicas/seed.js';
import { EncodedResource } from '../src/cache/index.js';
import { TypeUrl } from '../src/resource/index.js';

const PREFIX = '/xds/';

function entries(config: Record<string, object | string>): [string, string][] {
  return Object.entries(config).map(([path, value]) => [`${PREFIX}${path}`, typeof value === 'string' ? value : JSON.stringify(value)]);
}

const sample = sampleConfig({ listenerPort: 10000, upstreams: [{ host: '127.0.0.1', port: 8080 }] });

test('the same content gives the same versions whatever order the keys are read in', () => {
  const forward = buildConfig(PREFIX, entries(sample));
  const backward = buildConfig(PREFIX, entries(sample).reverse());
  assert.deepEqual(forward.versions, backward.versions);
  assert.equal(forward.version, backward.version);
  assert.deepEqual(forward.problems, []);
  assert.deepEqual(forward.dangling, []);
});

test('the same content in other JSON (key order, lowerCamel names) gives the same versions', () => {
  const cluster = { connectTimeout: '1s', type: 'EDS', edsClusterConfig: { edsConfig: { resourceApiVersion: 'V3', ads: {} } }, name: SAMPLE.cluster };
  const reworded = { ...sample, [`clusters/${SAMPLE.cluster}`]: cluster };
  assert.deepEqual(buildConfig(PREFIX, entries(reworded)).versions, buildConfig(PREFIX, entries(sample)).versions);
});

test('a change to one resource changes the version of its type only', () => {
  const before = buildConfig(PREFIX, entries(sample));
  const after = buildConfig(PREFIX, entries({ ...sample, [`endpoints/${SAMPLE.cluster}`]: sampleEndpoints([{ host: '127.0.0.1', port: 8081 }]) }));
  for (const typeUrl of Object.keys(before.versions) as (keyof typeof before.versions)[]) {
    if (typeUrl === TypeUrl.Endpoint) assert.notEqual(after.versions[typeUrl], before.versions[typeUrl]);
    else assert.equal(after.versions[typeUrl], before.versions[typeUrl], typeUrl);
  }
  assert.notEqual(after.version, before.version);
});

test('a value that does not fit its type is reported by key and left out; the others are served', () => {
  const built = buildConfig(PREFIX, entries({ ...sample, 'clusters/broken': { name: 'broken', type: 'NOT_A_TYPE' } }));
  assert.equal(built.problems.length, 1);
  assert.equal(built.problems[0].key, `${PREFIX}clusters/broken`);
  assert.match(built.problems[0].error, /NOT_A_TYPE/);
  assert.deepEqual([...built.snapshot.getResources(TypeUrl.Cluster).keys()], [SAMPLE.cluster]);
  assert.deepEqual(built.versions, buildConfig(PREFIX, entries(sample)).versions);
});

test('an invalid value replaces the resource it overwrote: nothing of the earlier value is served', () => {
  const built = buildConfig(PREFIX, entries({ ...sample, [`routes/${SAMPLE.route}`]: '{"name": "local_route", ' }));
  assert.equal(built.snapshot.getResources(TypeUrl.Route).size, 0);
  assert.match(built.problems[0].error, /not JSON/);
  assert.deepEqual(built.dangling, [`RouteConfiguration "${SAMPLE.route}" (named by Listener "${SAMPLE.listener}")`]);
});

test('a key must name the resource it holds, under a known folder', () => {
  const cluster = { name: 'c', type: 'STATIC', connect_timeout: '1s' };
  const wrongName = readEntry(PREFIX, `${PREFIX}clusters/other`, JSON.stringify(cluster));
  assert.ok(!(wrongName instanceof EncodedResource));
  assert.match(wrongName.error, /the key names "other" but the resource's name is "c"/);
  const wrongFolder = readEntry(PREFIX, `${PREFIX}cluster/c`, JSON.stringify(cluster));
  assert.ok(!(wrongFolder instanceof EncodedResource));
  assert.match(wrongFolder.error, /"cluster" is not a folder of resources; use clusters, endpoints, listeners, routes, secrets/);
  const endpoints = readEntry(PREFIX, `${PREFIX}endpoints/c`, JSON.stringify({ cluster_name: 'c' }));
  assert.ok(endpoints instanceof EncodedResource, 'endpoints are named by cluster_name');
});

test('an error quotes at most a bounded piece of a value that is not JSON', () => {
  const problem = readEntry(PREFIX, `${PREFIX}routes/r`, `x${'y'.repeat(10_000)}`);
  assert.ok(!(problem instanceof EncodedResource));
  assert.ok(problem.error.length < 400, `error of ${problem.error.length} characters`);
});

test('an error about a long value inside the resource stays bounded', () => {
  const problem = readEntry(PREFIX, `${PREFIX}clusters/c`, JSON.stringify({ name: 'c', type: 'X'.repeat(10_000) }));
  assert.ok(!(problem instanceof EncodedResource));
  assert.ok(problem.error.length <= 401, `error of ${problem.error.length} characters`);
});
