// ProtoWriter must write the bytes protobuf.js's Writer writes, for every method the ProtoJSON encoder uses.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Long from 'long';
import protobuf from 'protobufjs';
import { ProtoWriter } from '../../src/resource/proto-writer.js';

type Op = (w: ProtoWriter | protobuf.Writer) => void;

function same(label: string, ops: readonly Op[]): void {
  const ours = new ProtoWriter();
  const theirs = protobuf.Writer.create();
  for (const op of ops) {
    op(ours);
    op(theirs);
  }
  assert.deepEqual(Buffer.from(ours.finish()), Buffer.from(theirs.finish()), label);
}

const INT32 = [0, 1, 127, 128, 300, 16383, 16384, 2097151, 2097152, 2147483647, -1, -2, -128, -2147483648];
const UINT32 = [0, 1, 127, 128, 268435455, 268435456, 4294967295];
const INT64: (number | Long)[] = [
  0, 1, 127, 128, 2 ** 32 - 1, 2 ** 32, 2 ** 35 + 7, Number.MAX_SAFE_INTEGER, -1, -(2 ** 32), Number.MIN_SAFE_INTEGER,
  Long.MAX_VALUE, Long.MIN_VALUE, Long.fromString('18446744073709551615', true), Long.fromString('-9000000000000000000'),
];
const FLOATS = [0, -0, 1.5, -2.25, 1e-300, 3.4028234663852886e38, Infinity, -Infinity, NaN, Math.PI];
const STRINGS = ['', 'a', 'cluster-00001', 'x'.repeat(127), 'y'.repeat(128), 'z'.repeat(20000), 'héllo', '日本語', '𝄞 clef', `${'a'.repeat(126)}é`];

test('scalars are written as protobuf.js writes them', () => {
  for (const v of INT32) same(`int32 ${v}`, [(w) => w.int32(v)]);
  for (const v of INT32) same(`sint32 ${v}`, [(w) => w.sint32(v)]);
  for (const v of INT32) same(`sfixed32 ${v}`, [(w) => w.sfixed32(v)]);
  for (const v of UINT32) same(`uint32 ${v}`, [(w) => w.uint32(v)]);
  for (const v of UINT32) same(`fixed32 ${v}`, [(w) => w.fixed32(v)]);
  for (const v of INT64) {
    same(`int64 ${String(v)}`, [(w) => w.int64(v)]);
    same(`sint64 ${String(v)}`, [(w) => w.sint64(v)]);
    same(`sfixed64 ${String(v)}`, [(w) => w.sfixed64(v)]);
    same(`fixed64 ${String(v)}`, [(w) => w.fixed64(v)]);
    same(`uint64 ${String(v)}`, [(w) => w.uint64(v)]);
  }
  for (const v of FLOATS) {
    same(`double ${v}`, [(w) => w.double(v)]);
    same(`float ${v}`, [(w) => w.float(v)]);
  }
  same('bools', [(w) => w.bool(true), (w) => w.bool(false)]);
  for (const v of STRINGS) same(`string of ${v.length}`, [(w) => w.uint32(10).string(v)]);
  for (const n of [0, 1, 127, 128, 70000]) same(`bytes of ${n}`, [(w) => w.uint32(18).bytes(Buffer.alloc(n, 7))]);
});

test('nested messages of every length size, nested in each other', () => {
  for (const n of [0, 1, 126, 127, 128, 129, 16383, 16384, 2097152]) {
    same(`one nested message of ${n} bytes`, [(w) => w.uint32(10).fork(), (w) => w.bytes(Buffer.alloc(Math.max(0, n - (n < 128 ? 1 : n < 16385 ? 2 : 3)), 1)), (w) => w.ldelim()]);
  }
  const nest = (depth: number, leaf: number): Op[] => {
    const ops: Op[] = [];
    for (let i = 0; i < depth; i++) ops.push((w) => w.uint32(10 + 8 * i).fork().uint32(8).int32(i));
    ops.push((w) => w.uint32(18).string('w'.repeat(leaf)));
    for (let i = 0; i < depth; i++) ops.push((w) => w.ldelim().uint32(16).sint32(-i));
    return ops;
  };
  for (const leaf of [0, 100, 120, 130, 20000]) same(`ten levels around a string of ${leaf}`, nest(10, leaf));
});

test('a writer is reused: finish empties it, and a big message does not stay in its buffer', () => {
  const w = new ProtoWriter();
  w.uint32(10).string('z'.repeat(200_000));
  const big = w.finish();
  assert.equal(big.length, 200_000 + 4);
  assert.equal(w.length, 0);
  w.uint32(8).int32(5);
  assert.deepEqual([...w.finish()], [8, 5]);
  assert.deepEqual([...big.subarray(0, 4)], [10, 0xc0, 0x9a, 0x0c], 'an earlier result is not overwritten');
});

test('ldelimOrDrop removes an empty nested message and its tag, and ends a non-empty one', () => {
  const w = new ProtoWriter();
  w.uint32(10).string('a');
  const mark = w.length;
  w.uint32(18).fork();
  w.ldelimOrDrop(mark);
  assert.deepEqual([...w.finish()], [10, 1, 97]);
  w.uint32(10).string('a');
  const at = w.length;
  w.uint32(18).fork().uint32(8).int32(1);
  w.ldelimOrDrop(at);
  assert.deepEqual([...w.finish()], [10, 1, 97, 18, 2, 8, 1]);
});

test('unbalanced use is refused', () => {
  const w = new ProtoWriter();
  assert.throws(() => w.ldelim(), /ldelim without fork/);
  w.fork();
  assert.throws(() => w.finish(), /still open/);
  w.reset();
  assert.equal(w.finish().length, 0);
});
