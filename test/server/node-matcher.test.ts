// Envoy's NodeMatcher as CSDS requests use it: string matchers on the id, struct matchers on the metadata.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Code } from '../../src/resource/index.js';
import { compileNodeMatchers } from '../../src/server/index.js';

const node = { id: 'Edge-7', metadata: { region: { name: 'eu-west', index: 2 }, nothing: null, labels: ['a', 'b'], on: true } };
const pick = (matchers: object[]) => compileNodeMatchers(matchers)(node);
const md = (path: string[], value: object) => ({ node_metadatas: [{ path: path.map((key) => ({ key })), value }] });

test('no matcher selects every node', () => {
  assert.equal(compileNodeMatchers(undefined)(node), true);
  assert.equal(compileNodeMatchers([])({}), true);
});

test('ignore_case folds prefix, suffix and contains too', () => {
  assert.equal(pick([{ node_id: { prefix: 'edge', ignore_case: true } }]), true);
  assert.equal(pick([{ node_id: { prefix: 'edge' } }]), false);
  assert.equal(pick([{ node_id: { suffix: '-7', ignore_case: true } }]), true);
  assert.equal(pick([{ node_id: { contains: 'GE-', ignore_case: true } }]), true);
});

test('a metadata path walks nested structs; a missing step does not match', () => {
  assert.equal(pick([md(['region', 'name'], { string_match: { prefix: 'eu-' } })]), true);
  assert.equal(pick([md(['region', 'missing'], { present_match: true })]), false);
  assert.equal(pick([md(['region', 'missing'], { present_match: false })]), true);
  assert.equal(pick([md(['labels', 'x'], { present_match: true })]), false, 'a list is not a struct');
});

test('value matchers: null, double exact and range (end excluded), or, list of a non-list', () => {
  assert.equal(pick([md(['nothing'], { null_match: {} })]), true);
  assert.equal(pick([md(['region', 'index'], { double_match: { exact: 2 } })]), true);
  assert.equal(pick([md(['region', 'index'], { double_match: { range: { start: 0, end: 2 } } })]), false);
  assert.equal(pick([md(['on'], { or_match: { value_matchers: [{ bool_match: false }, { bool_match: true }] } })]), true);
  assert.equal(pick([md(['on'], { list_match: { one_of: { bool_match: true } } })]), false);
  assert.equal(pick([md(['region'], { present_match: true })]), false, 'a struct is not a primitive value');
});

test('matchers a server cannot use are refused, naming the field', () => {
  assert.throws(() => pick([{ node_id: {} }]), /node_matchers\[0\]\.node_id sets none of exact, prefix, suffix, contains, safe_regex/);
  assert.throws(() => pick([{ node_id: { custom: { name: 'x' } } }]), (e: any) => e.code === Code.UNIMPLEMENTED);
  assert.throws(() => pick([{ node_metadatas: [{ path: [], value: { bool_match: true } }] }]), /node_metadatas\[0\]\.path is empty/);
  assert.throws(() => pick([md(['a'], {})]), /node_metadatas\[0\]\.value sets no match/);
  assert.throws(() => pick([md(['a'], { or_match: { value_matchers: [{ bool_match: true }] } })]), /at least two/);
  assert.throws(() => pick([{ node_id: { safe_regex: { regex: 'x'.repeat(2000) } } }]), /at most 1024/);
  assert.throws(() => pick([{ node_id: { safe_regex: { regex: '(\\w+\\s?)*$' } } }]), /nested quantifiers/);
});
