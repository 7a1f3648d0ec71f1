// addProtoFiles: an application's own extension protos join the known types, with their imports of well-known
// types, validate and udpa annotations and Envoy types served from the generated API; a call that fails changes
// nothing.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { Snapshot } from '../../src/cache/index.js';
import { TypeUrl, addProtoFiles, decodeMessage, encodeMessage, lookupType, validate } from '../../src/resource/index.js';
import type { Listener } from '../../src/types/index.js';
import { cluster, listener } from '../support/sample-resources.js';

const protos = join(import.meta.dirname, 'fixtures', 'protos');
const FILTER = 'acme.filter.v1.Filter';

function plainSnapshotStillWorks(): void {
  new Snapshot('1', { [TypeUrl.Cluster]: [cluster('web')], [TypeUrl.Listener]: [listener('l', 'r')] });
}

test('a proto that imports a missing file is refused, naming the import, and changes nothing', () => {
  assert.throws(() => addProtoFiles(['acme/broken/missing-import.proto'], [protos]), /cannot find acme\/does\/not\/exist\.proto \(imported by .*missing-import\.proto\)/);
  assert.throws(() => lookupType('acme.broken.Broken'), /unknown message type/);
  plainSnapshotStillWorks();
});

test('a proto that names an unknown type is refused and changes nothing', () => {
  assert.throws(() => addProtoFiles(['acme/broken/unknown-type.proto'], [protos]), /addProtoFiles: .*acme\.nowhere\.Thing/);
  assert.throws(() => lookupType('acme.broken.UsesUnknown'), /unknown message type/);
  plainSnapshotStillWorks();
});

test('a proto that does not parse is refused, naming the file, and changes nothing', () => {
  assert.throws(() => addProtoFiles(['acme/broken/syntax-error.proto'], [protos]), /addProtoFiles: .*syntax-error\.proto/);
  assert.throws(() => lookupType('acme.broken.Oops'), /unknown message type/);
  plainSnapshotStillWorks();
});

test('a proto importing duration.proto, struct.proto, validate, udpa annotations and an Envoy type is added', () => {
  addProtoFiles(['acme/filter/v1/filter.proto'], [protos]);
  const filter = {
    name: 'f',
    timeout: '1.500s',
    settings: { retries: 3, tags: ['a', 'b'], nested: { on: true } },
    upstream: { socket_address: { address: '10.0.0.1', port_value: 443 } },
    mode: 'FAST',
    weight: 10,
  };
  const bytes = encodeMessage(FILTER, filter);
  assert.deepEqual(decodeMessage(FILTER, bytes), filter);
  plainSnapshotStillWorks();
});

test("the added proto's validate rules are enforced", () => {
  assert.throws(() => validate(FILTER, { name: '' }), /at name: must not be empty \(validate\.rules string\.min_len\)/);
  assert.throws(() => validate(FILTER, { name: 'f', weight: 101 }), /at weight: 101 is more than 100 \(validate\.rules uint32\.lte\)/);
  assert.throws(() => validate(FILTER, { name: 'f', timeout: '0s' }), /at timeout: 0s is not more than 0s \(validate\.rules duration\.gt\)/);
  validate(FILTER, { name: 'f', timeout: '1s', weight: 100 });
});

test('an added type works as a typed_config inside a snapshot, rules included', () => {
  const withFilter = (name: string): Listener => {
    const l = listener('l', 'r');
    const hcm = l.filter_chains?.[0]?.filters?.[0]?.typed_config as unknown as { http_filters: unknown[] };
    hcm.http_filters.unshift({ name: 'acme.filter', typed_config: { '@type': `type.googleapis.com/${FILTER}`, name } });
    return l;
  };
  new Snapshot('1', { [TypeUrl.Listener]: [withFilter('ok')] });
  assert.throws(() => new Snapshot('1', { [TypeUrl.Listener]: [withFilter('')] }), /http_filters\[0\]\.typed_config\.name: must not be empty/);
});

test("an Envoy extension proto of the generated API is served from it and adds nothing", () => {
  addProtoFiles(['envoy/extensions/filters/http/router/v3/router.proto']);
  assert.equal(lookupType('envoy.extensions.filters.http.router.v3.Router').fullName, '.envoy.extensions.filters.http.router.v3.Router');
  plainSnapshotStillWorks();
});

test('a failed call after a successful one keeps what was added', () => {
  assert.throws(() => addProtoFiles(['acme/broken/unknown-type.proto'], [protos]));
  assert.equal(lookupType(FILTER).fullName, `.${FILTER}`);
  validate(FILTER, { name: 'still-here' });
});
