/**
 * The node of a stream, kept in wire form until someone reads more of it than its id and cluster. Envoy's node is
 * some 60 KB (an entry per extension built in); a stream needs only its id, and turning it into an object costs
 * milliseconds per stream and several times its size in memory. Callbacks, authorizers and cache hashes still see
 * the whole node: its other fields are accessors that decode it on first read.
 */
import { isUtf8 } from 'node:buffer';
import protobuf from 'protobufjs';
import { lookupProtoNamesType } from '../resource/registry.js';
import type { Node } from '../types/index.js';
import { decodeNode, nodeToJson } from './messages.js';

/**
 * Wire type each scalar kind comes with. A field of a known number with another wire type is refused here (the
 * decoder would skip it: refusing is the stricter side). Packed repeated scalars may also come as 2.
 */
const SCALAR_WIRE: Record<string, number> = {
  double: 1, fixed64: 1, sfixed64: 1, float: 5, fixed32: 5, sfixed32: 5,
  int32: 0, uint32: 0, sint32: 0, int64: 0, uint64: 0, sint64: 0, bool: 0,
  string: 2, bytes: 2,
};

/** How one field of a message is checked. */
interface FieldCheck {
  /** The field's name, for errors. */
  readonly name: string;
  /** The wire type it must come with (a packed repeated scalar may also come as 2). */
  readonly wire: number;
  readonly packable: boolean;
  /** A string: its bytes must be UTF-8, as the decoder requires. */
  readonly text: boolean;
  /** A message (or, for a map, the entry's value when it is a message). */
  readonly message: protobuf.Type | undefined;
  /** The checks of `message`'s fields, taken on first use (types may nest themselves, as Struct does). */
  nested?: FieldChecks;
  /** A map: its key is a string. */
  readonly mapTextKey: boolean;
  /** A map: its value is a string. */
  readonly mapTextValue: boolean;
  readonly map: boolean;
}

/** The checks of a message's fields, by field id. */
type FieldChecks = Map<number, FieldCheck>;

const checksByType = new WeakMap<protobuf.Type, FieldChecks>();

/** The checks of a type's fields by id, made on first use. */
function checksOf(type: protobuf.Type): FieldChecks {
  let checks = checksByType.get(type);
  if (checks !== undefined) return checks;
  checks = new Map();
  for (const field of type.fieldsArray) {
    // Fields learn their types on first use; the decoder resolves the same way.
    if (!field.resolved) field.resolve();
    const message = field.resolvedType instanceof protobuf.Type ? field.resolvedType : undefined;
    const scalarWire = field.resolvedType instanceof protobuf.Enum ? 0 : (SCALAR_WIRE[field.type] ?? 2);
    checks.set(field.id, {
      name: field.name,
      wire: field.map || message !== undefined ? 2 : scalarWire,
      packable: field.repeated && !field.map && message === undefined,
      text: !field.map && field.type === 'string',
      message,
      map: field.map,
      mapTextKey: field.map && (field as unknown as protobuf.MapField).keyType === 'string',
      mapTextValue: field.map && field.type === 'string',
    });
  }
  checksByType.set(type, checks);
  return checks;
}

/**
 * Checks that `reader` holds a well-formed `type` up to `end`: every length within bounds, every known field with
 * the wire type its kind needs, every string valid UTF-8, nested messages likewise, without turning anything
 * into objects or text. Bytes that pass decode without error (protobuf.js reads by field id and trusts the wire
 * type), so a node checked here can be decoded later, when it is read, without failing there.
 */
function checkMessage(reader: protobuf.Reader, end: number, checks: FieldChecks, depth: number): void {
  if (depth > protobuf.Reader.recursionLimit) throw new Error('max depth exceeded');
  while (reader.pos < end) {
    const tag = reader.uint32();
    checkField(reader, end, checks, tag, depth);
  }
}

/**
 * Checks one field of a message whose tag was just read (see {@link checkMessage}); an unknown field is skipped
 * as the decoder skips it (a group must end with its own field number).
 */
function checkField(reader: protobuf.Reader, end: number, checks: FieldChecks, tag: number, depth: number): FieldCheck | undefined {
  const id = tag >>> 3;
  const wire = tag & 7;
  if (id === 0) throw new Error('illegal tag: field number 0');
  const check = checks.get(id);
  if (check === undefined) {
    reader.skipType(wire, depth, id);
  } else if (check.map) {
    expectWire(check, wire, 2);
    const entryEnd = lengthEnd(reader, end);
    while (reader.pos < entryEnd) {
      const tag = reader.uint32();
      if ((tag === 10 && check.mapTextKey) || (tag === 18 && check.mapTextValue)) checkText(reader, entryEnd, check);
      else if (tag >>> 3 === 2 && check.message !== undefined) {
        expectWire(check, tag & 7, 2);
        checkMessage(reader, lengthEnd(reader, entryEnd), (check.nested ??= checksOf(check.message)), depth + 1);
      } else reader.skipType(tag & 7, depth, tag >>> 3);
    }
    // An entry is read within its length, as the decoder reads it: a field skipped past its end is refused.
    if (reader.pos !== entryEnd) throw new RangeError(`field ${check.name} has an entry that runs past its end`);
  } else if (check.message !== undefined) {
    expectWire(check, wire, 2);
    checkMessage(reader, lengthEnd(reader, end), (check.nested ??= checksOf(check.message)), depth + 1);
  } else if (check.text) {
    expectWire(check, wire, 2);
    checkText(reader, end, check);
  } else {
    if (!(check.packable && wire === 2)) expectWire(check, wire, check.wire);
    reader.skipType(wire, depth, id);
  }
  if (reader.pos > end) throw new RangeError(`field ${check?.name ?? id} runs past the end of its message`);
  return check;
}

/** Checks a length-delimited string: within bounds and valid UTF-8. */
function checkText(reader: protobuf.Reader, end: number, check: FieldCheck): void {
  const textEnd = lengthEnd(reader, end);
  if (!isText(reader.buf, reader.pos, textEnd)) throw new Error(`field ${check.name} is not valid UTF-8`);
  reader.pos = textEnd;
}

/**
 * True when `buf[start, end)` is UTF-8. A node's strings are short and nearly always ASCII: a loop over their
 * bytes answers those without a view and a native call per string (thousands per node).
 */
function isText(buf: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i] >= 0x80) return isUtf8(buf.subarray(start, end));
  return true;
}

/** Reads a string field, refusing bytes that are not UTF-8 as the decoder does. */
function readText(reader: protobuf.Reader, name: string): string {
  const start = reader.pos;
  const end = lengthEnd(reader, reader.len);
  if (!isText(reader.buf, reader.pos, end)) throw new Error(`field ${name} is not valid UTF-8`);
  reader.pos = start;
  return reader.string();
}

/** Reads a length and returns where the field it announces ends, checked against the enclosing `end`. */
function lengthEnd(reader: protobuf.Reader, end: number): number {
  const length = reader.uint32();
  const fieldEnd = reader.pos + length;
  if (fieldEnd > end) throw new RangeError(`index out of range: ${fieldEnd} + 0 > ${end}`);
  return fieldEnd;
}

function expectWire(check: FieldCheck, wire: number, expected: number): void {
  if (wire !== expected) throw new Error(`field ${check.name} has wire type ${wire}, not ${expected}`);
}

/** A run of one field's occurrences this long or longer is looked up among the runs checked before. */
const MIN_REMEMBERED_RUN = 4096;
/** Longer runs are checked every time (and not kept). */
const MAX_REMEMBERED_RUN = 1 << 20;
/** Runs kept, most recent first: a fleet runs one or a few Envoy builds. */
const REMEMBERED_RUNS = 4;

/**
 * Copies of the longest runs of node fields checked so far, by content. Envoy's node is mostly its list of
 * extensions (516 occurrences of field 9, some 55 KB in Envoy 1.40), and every Envoy of one build sends the same
 * bytes for it on every request: a run equal byte for byte to one checked before is well-formed without being
 * walked again. At most {@link REMEMBERED_RUNS} runs of at most {@link MAX_REMEMBERED_RUN} bytes are kept.
 */
const rememberedRuns: Uint8Array[] = [];

/** True when `bytes[start, end)` equals a run checked before (which then becomes the most recent). */
function checkedBefore(bytes: Uint8Array, start: number, end: number): boolean {
  const length = end - start;
  for (let i = 0; i < rememberedRuns.length; i++) {
    const run = rememberedRuns[i];
    if (run.length !== length || Buffer.compare(run, bytes.subarray(start, end)) !== 0) continue;
    if (i > 0) rememberedRuns.unshift(...rememberedRuns.splice(i, 1));
    return true;
  }
  return false;
}

function remember(bytes: Uint8Array, start: number, end: number): void {
  const copy = new Uint8Array(end - start);
  copy.set(bytes.subarray(start, end));
  rememberedRuns.unshift(copy);
  rememberedRuns.length = Math.min(rememberedRuns.length, REMEMBERED_RUNS);
}

/**
 * Where the run of occurrences of the length-delimited field `tag` that starts at `start` ends: the position after
 * its last occurrence, or `start` when a length runs past `end` (the check then says what is wrong).
 */
function runEnd(reader: protobuf.Reader, tag: number, start: number, end: number): number {
  const resume = reader.pos;
  reader.pos = start;
  let last = start;
  try {
    while (reader.pos < end && reader.uint32() === tag) {
      const length = reader.uint32();
      if (reader.pos + length > end) break;
      reader.pos += length;
      last = reader.pos;
    }
  } catch {
    // A truncated varint: the run ends at the last whole occurrence.
  }
  reader.pos = resume;
  return last;
}

/** The wire bytes of a node read by {@link lazyNode} and not decoded yet; see {@link nodeBytes}. */
const BYTES = Symbol('node bytes');

/** The Node message type, looked up on first use. */
let nodeType: protobuf.Type | undefined;

/**
 * Reads a node from its bytes: `id` and `cluster` at once, the other fields present in the bytes as enumerable
 * accessors that decode the whole node on first read (and then become ordinary properties; the bytes are
 * dropped). Spreading the node, `JSON.stringify`, `Object.keys` and `in` see the fields the bytes hold, as with an
 * object decoded at once. Throws, as a decoder would, when the bytes are not a well-formed node.
 *
 * @param bytes - the bytes of a request's `node` field; copied (those of the node alone), so the request's buffer
 *   is neither kept nor read again
 */
export function lazyNode(bytes: Uint8Array): Node {
  const type = (nodeType ??= lookupProtoNamesType('envoy.config.core.v3.Node'));
  const checks = checksOf(type);
  const reader = protobuf.Reader.create(bytes);
  let id: string | undefined;
  let cluster: string | undefined;
  const deferred = new Set<string>();
  while (reader.pos < reader.len) {
    const start = reader.pos;
    const tag = reader.uint32();
    if (tag === 10) id = readText(reader, 'id');
    else if (tag === 18) cluster = readText(reader, 'cluster');
    else {
      const end = (tag & 7) === 2 ? runEnd(reader, tag, start, reader.len) : start;
      const check = checks.get(tag >>> 3);
      // A long run of one known field (Envoy's extensions) is checked once per content.
      const rememberable = check !== undefined && end - start >= MIN_REMEMBERED_RUN && end - start <= MAX_REMEMBERED_RUN;
      if (rememberable && checkedBefore(bytes, start, end)) {
        reader.pos = end;
      } else {
        // Every occurrence of the run now, so that it is walked once (looking for its end at each would be
        // quadratic in a client's run of, say, thousands of empty unknown fields).
        checkField(reader, reader.len, checks, tag, 0);
        while (reader.pos < end) checkField(reader, reader.len, checks, reader.uint32(), 0);
        if (rememberable) remember(bytes, start, end);
      }
      if (check !== undefined) deferred.add(check.name);
    }
  }
  const node: Node = {};
  // Proto3 JSON leaves empty strings out, as the decoded node would.
  if (id !== undefined && id !== '') node.id = id;
  if (cluster !== undefined && cluster !== '') node.cluster = cluster;
  if (deferred.size === 0) return node;
  // A copy of the node's bytes alone: `bytes` may be a view into a larger receive buffer that is reused or that
  // the copy would keep alive (a Buffer's `slice` is such a view too).
  let pending: Uint8Array | undefined = new Uint8Array(bytes);
  Object.defineProperty(node, BYTES, { value: pending, configurable: true });
  const materialize = (): void => {
    if (pending === undefined) return;
    const decoded = nodeToJson(decodeNode(pending)) as Record<string, unknown>;
    pending = undefined;
    delete (node as { [BYTES]?: Uint8Array })[BYTES];
    for (const name of deferred) {
      if (decoded[name] === undefined) delete (node as Record<string, unknown>)[name];
      else Object.defineProperty(node, name, { value: decoded[name], writable: true, enumerable: true, configurable: true });
    }
  };
  for (const name of type.fieldsArray.map((field) => field.name)) {
    if (!deferred.has(name)) continue;
    Object.defineProperty(node, name, {
      enumerable: true,
      configurable: true,
      get(): unknown {
        materialize();
        return (node as Record<string, unknown>)[name];
      },
      set(value: unknown): void {
        materialize();
        Object.defineProperty(node, name, { value, writable: true, enumerable: true, configurable: true });
      },
    });
  }
  return node;
}

/**
 * The wire bytes of a node that {@link lazyNode} read and nobody has decoded yet (its own copy: pass it on, do not
 * change it), or undefined for any other node. A node crosses to another process cheaper as these bytes, read
 * there with {@link lazyNode}, than as the object.
 */
export function nodeBytes(node: Node): Uint8Array | undefined {
  return (node as { [BYTES]?: Uint8Array })[BYTES];
}
