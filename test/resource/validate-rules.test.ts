// Each kind of protoc-gen-validate rule by itself, on a message of our own (fixtures/protos/acme/rules/v1) that
// has one field per rule: a valid message passes, and breaking one rule gives that rule's error at that field.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { addProtoFiles, validate } from '../../src/resource/index.js';

const RULES = 'acme.rules.v1.Rules';

before(() => addProtoFiles(['acme/rules/v1/rules.proto'], [join(import.meta.dirname, 'fixtures', 'protos')]));

const valid = {
  exclusive_range: 5,
  outside_range: 20,
  in_list: 1,
  constant: 42,
  ratio: 0.5,
  prefixed: '/api/x.json',
  chars: 'ab',
  color: 'RED',
  enabled: true,
  a: 'x',
};

function breaks(change: Record<string, unknown>, message: RegExp): void {
  assert.throws(() => validate(RULES, { ...valid, ...change }), message);
}

test('a message that keeps every rule passes', () => {
  validate(RULES, valid);
  validate(RULES, { ...valid, host: 'a-b.example.com', ip: '10.0.0.1', ipv6: '::1', address: 'example.com', uri: 'https://example.com/x', raw: Buffer.from('abc').toString('base64') });
});

test('numbers: lt in an exclusive range', () => breaks({ exclusive_range: 10 }, /at exclusive_range: 10 is not less than 10 \(validate\.rules int32\.lt\)/));
test('numbers: gt with lt below it means outside the range', () => breaks({ outside_range: 5 }, /at outside_range: 5 is between 0 and 10, which is not allowed \(validate\.rules int32\.lt\/gt\)/));
test('numbers: in', () => breaks({ in_list: 4 }, /at in_list: 4 is not one of 1, 2, 3 \(validate\.rules uint64\.in\)/));
test('numbers: not_in', () => breaks({ not_in_list: 7 }, /at not_in_list: 7 is one of 7, which are not allowed \(validate\.rules sint64\.not_in\)/));
test('numbers: const', () => breaks({ constant: 41 }, /at constant: 41 is not 42 \(validate\.rules fixed32\.const\)/));
test('numbers: a double above lte', () => breaks({ ratio: 1.5 }, /at ratio: 1\.5 is more than 1 \(validate\.rules double\.lte\)/));

test('strings: prefix, suffix, contains, not_contains', () => {
  breaks({ prefixed: 'api/x.json' }, /at prefixed: "api\/x\.json" does not start with "\/" \(validate\.rules string\.prefix\)/);
  breaks({ prefixed: '/api/x.yaml' }, /does not end with "\.json" \(validate\.rules string\.suffix\)/);
  breaks({ prefixed: '/x.json' }, /does not contain "api" \(validate\.rules string\.contains\)/);
  breaks({ not_contains: '/a/../b' }, /at not_contains: "\/a\/\.\.\/b" contains "\.\." \(validate\.rules string\.not_contains\)/);
});

test('strings: lengths count characters, not bytes', () => {
  breaks({ chars: 'abcd' }, /at chars: "abcd" is longer than 3 characters \(validate\.rules string\.max_len\)/);
  breaks({ chars: 'a' }, /at chars: "a" is shorter than 2 characters \(validate\.rules string\.min_len\)/);
  validate(RULES, { ...valid, chars: 'éé' });
});

test('strings: well-known formats', () => {
  breaks({ host: 'bad_host!' }, /at host: "bad_host!" is not a hostname \(validate\.rules string\.hostname\)/);
  breaks({ ip: '1.2.3' }, /at ip: "1\.2\.3" is not an IP address \(validate\.rules string\.ip\)/);
  breaks({ ipv6: '1.2.3.4' }, /at ipv6: "1\.2\.3\.4" is not an IPv6 address \(validate\.rules string\.ipv6\)/);
  breaks({ address: 'a..b' }, /at address: "a\.\.b" is not a hostname or an IP address \(validate\.rules string\.address\)/);
  breaks({ uri: 'not a uri' }, /at uri: "not a uri" is not an absolute URI \(validate\.rules string\.uri\)/);
});

test('strings: an HTTP header value with a newline is refused (strict by default)', () => {
  breaks({ header_value: 'a\nb' }, /at header_value: "a\\nb" is not a valid HTTP header value \(validate\.rules string\.well_known_regex\)/);
});

test('bytes: max_len', () => breaks({ raw: Buffer.from('12345').toString('base64') }, /at raw: 5 bytes is more than 4 \(validate\.rules bytes\.max_len\)/));

test('enums: defined_only and not_in', () => {
  breaks({ color: 99 }, /at color: 99 is not a value of acme\.rules\.v1\.Rules\.Color \(validate\.rules enum\.defined_only\)/);
  breaks({ color: 'BLUE' }, /at color: 3 is one of 3, which are not allowed \(validate\.rules enum\.not_in\)/);
});

test('repeated: max_items, unique, items', () => {
  breaks({ tags: ['a', 'b', 'c'] }, /at tags: 3 items is more than 2 \(validate\.rules repeated\.max_items\)/);
  breaks({ tags: ['a', 'a'] }, /at tags: "a" appears more than once \(validate\.rules repeated\.unique\)/);
  breaks({ tags: [''] }, /at tags\[0\]: must not be empty \(validate\.rules string\.min_len\)/);
});

test('maps: max_pairs, keys, values', () => {
  breaks({ weights: { aa: 1, bb: 2, cc: 3 } }, /at weights: 3 entries is more than 2 \(validate\.rules map\.max_pairs\)/);
  breaks({ weights: { a: 1 } }, /at weights\["a"\]: "a" is shorter than 2 characters \(validate\.rules string\.min_len\)/);
  breaks({ weights: { aa: -1 } }, /at weights\["aa"\]: -1 is less than 0 \(validate\.rules int32\.gte\)/);
});

test('Any: in', () => {
  breaks({ config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }, /at config: type type\.googleapis\.com\/envoy\.extensions\.filters\.http\.router\.v3\.Router is not one of type\.googleapis\.com\/google\.protobuf\.Duration \(validate\.rules any\.in\)/);
  validate(RULES, { ...valid, config: { '@type': 'type.googleapis.com/google.protobuf.Duration', value: '1s' } });
});

test('durations: gte and lt', () => {
  breaks({ timeout: '0s' }, /at timeout: 0s is less than 0\.001s \(validate\.rules duration\.gte\)/);
  breaks({ timeout: '60s' }, /at timeout: 60s is not less than 60s \(validate\.rules duration\.lt\)/);
  validate(RULES, { ...valid, timeout: '59.999s' });
});

test('a rule on a wrapper applies to its value when it is set', () => {
  breaks({ limit: 6 }, /at limit: 6 is more than 5 \(validate\.rules uint32\.lte\)/);
  validate(RULES, { ...valid, limit: 0 });
});

test('bools: const', () => breaks({ enabled: false }, /at enabled: must be true \(validate\.rules bool\.const\)/));

test('a nested message is checked by its own rules, at its path', () => {
  breaks({ child: { ...valid, chars: 'a' } }, /at child\.chars: "a" is shorter than 2 characters/);
});

test('a required oneof needs one of its fields, and only the set field of a oneof is checked', () => {
  assert.throws(() => validate(RULES, { ...valid, a: undefined }), /at choice: one of a, b must be set \(validate\.required\)/);
  breaks({ a: undefined, b: 'xy' }, /at b: "xy" is shorter than 3 characters/);
  validate(RULES, { ...valid, a: undefined, b: 'xyz' });
});
