/**
 * A direct ProtoJSON → protobuf binary encoder: walks the ProtoJSON object with the reflected type and writes
 * bytes, without building protobuf.js message objects in between. It is the fast path of `encodeMessage` (several
 * times faster than parsing with protobuf.js and encoding the result), and deterministic: map entries are
 * written in sorted key order.
 *
 * It accepts only what it is sure of. Anything it does not handle or that looks wrong makes it throw
 * {@link Bail}; the caller then takes the slow, fully checked path, which either succeeds or reports a precise
 * error. So it never accepts a value that protobuf.js's ProtoJSON parser would reject.
 */
import Long from 'long';
import protobuf from 'protobufjs';
import { ProtoWriter } from './proto-writer.js';

/** Thrown when the fast path declines a value; the caller falls back to the checked path. */
export class Bail extends Error {}
/**
 * Thrown for a value that is certainly wrong even though protobuf.js's ProtoJSON parser would let it pass (an Any
 * with fields but no `@type`, whose fields it drops silently).
 */
export class Invalid extends Error {}

const bail = (): never => {
  throw new Bail();
};

type Lookup = (typeUrl: string) => protobuf.Type | undefined;

interface FieldPlan {
  field: protobuf.Field;
  id: number;
  name: string;
  jsonName: string;
  kind: 'message' | 'enum' | 'scalar';
  wkt: string | undefined;
  packed: boolean;
  presence: boolean;
  /** Index of the field's oneof in its type's `oneofsArray`, or −1. */
  oneof: number;
}

interface TypePlan {
  fields: FieldPlan[];
  byKey: Map<string, FieldPlan>;
}

const plans = new WeakMap<protobuf.Type, TypePlan>();

const SPECIAL_WKT = new Set([
  '.google.protobuf.Duration',
  '.google.protobuf.Timestamp',
  '.google.protobuf.FieldMask',
  '.google.protobuf.Struct',
  '.google.protobuf.Value',
  '.google.protobuf.ListValue',
  '.google.protobuf.Any',
  '.google.protobuf.Empty',
  '.google.protobuf.DoubleValue',
  '.google.protobuf.FloatValue',
  '.google.protobuf.Int64Value',
  '.google.protobuf.UInt64Value',
  '.google.protobuf.Int32Value',
  '.google.protobuf.UInt32Value',
  '.google.protobuf.BoolValue',
  '.google.protobuf.StringValue',
  '.google.protobuf.BytesValue',
]);

function planOf(type: protobuf.Type): TypePlan {
  let plan = plans.get(type);
  if (plan !== undefined) return plan;
  const fields: FieldPlan[] = [];
  const byKey = new Map<string, FieldPlan>();
  for (const field of [...type.fieldsArray].sort((a, b) => a.id - b.id)) {
    if (field.declaringField || field.name.startsWith('.')) continue;
    field.resolve();
    const resolved = field.resolvedType;
    const kind = resolved instanceof protobuf.Type ? 'message' : resolved instanceof protobuf.Enum ? 'enum' : 'scalar';
    const fullName = resolved instanceof protobuf.Type ? resolved.fullName : undefined;
    const fp: FieldPlan = {
      field,
      id: field.id,
      name: field.name,
      jsonName: field.jsonName ?? field.name,
      kind,
      wkt: fullName !== undefined && SPECIAL_WKT.has(fullName) ? fullName : undefined,
      packed: field.repeated && kind !== 'message' && field.type !== 'string' && field.type !== 'bytes' && field.packed,
      presence: field.hasPresence,
      oneof: field.partOf === null || field.partOf === undefined ? -1 : type.oneofsArray.indexOf(field.partOf),
    };
    fields.push(fp);
    byKey.set(fp.name, fp);
    byKey.set(fp.jsonName, fp);
  }
  plan = { fields, byKey };
  plans.set(type, plan);
  return plan;
}

const WIRE: Record<string, number> = {
  double: 1, float: 5, int32: 0, uint32: 0, sint32: 0, fixed32: 5, sfixed32: 5,
  int64: 0, uint64: 0, sint64: 0, fixed64: 1, sfixed64: 1, bool: 0, string: 2, bytes: 2,
};

const INT_RE = /^-?[0-9]+$/;
const BASE64_RE = /^[A-Za-z0-9+/_-]*={0,2}$/;

function int32(value: unknown, min: number, max: number): number {
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && INT_RE.test(value)) n = Number(value);
  else return bail();
  if (!Number.isInteger(n) || n < min || n > max) bail();
  return n;
}

function int64(value: unknown, unsigned: boolean): Long | number {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || (unsigned && value < 0)) bail();
    return value;
  }
  if (typeof value === 'string' && INT_RE.test(value)) {
    if (unsigned && value.startsWith('-')) bail();
    const long = Long.fromString(value, unsigned);
    if (long.toString() !== value.replace(/^(-?)0+(?=\d)/, '$1')) bail(); // overflow
    return long;
  }
  if (Long.isLong(value)) {
    // A Long out of the field's range (negative for an unsigned field, 2^63 or more for a signed one) is
    // refused by the checked path.
    if (unsigned ? !value.unsigned && value.isNegative() : value.unsigned && value.high < 0) bail();
    return value;
  }
  return bail();
}

function float(value: unknown, isFloat: boolean): number {
  let n: number;
  if (typeof value === 'number') n = value;
  else if (value === 'NaN') return NaN;
  else if (value === 'Infinity') return Infinity;
  else if (value === '-Infinity') return -Infinity;
  else if (typeof value === 'string' && value.trim() === value && value !== '' && Number.isFinite(Number(value))) n = Number(value);
  else return bail();
  if (!Number.isFinite(n) || (isFloat && Math.abs(n) > 3.4028234663852886e38)) bail();
  return n;
}

function str(value: unknown): string {
  if (typeof value !== 'string' || !(value as string & { isWellFormed(): boolean }).isWellFormed()) bail();
  return value as string;
}

function bytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value !== 'string' || !BASE64_RE.test(value)) bail();
  return Buffer.from((value as string).replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

function isZero(type: string, value: unknown): boolean {
  switch (type) {
    case 'bool':
      return value === false;
    case 'string':
      return value === '';
    case 'bytes':
      return (value as Uint8Array).length === 0;
    default:
      return Long.isLong(value) ? (value).isZero() : value === 0;
  }
}

/** Writes a scalar value without its tag (for packed arrays) after checking it. */
function writeScalar(w: JsonWriter, type: string, value: unknown): void {
  switch (type) {
    case 'int32': w.int32(int32(value, -2147483648, 2147483647)); break;
    case 'sint32': w.sint32(int32(value, -2147483648, 2147483647)); break;
    case 'sfixed32': w.sfixed32(int32(value, -2147483648, 2147483647)); break;
    case 'uint32': w.uint32(int32(value, 0, 4294967295)); break;
    case 'fixed32': w.fixed32(int32(value, 0, 4294967295)); break;
    case 'int64': w.int64(int64(value, false)); break;
    case 'sint64': w.sint64(int64(value, false)); break;
    case 'sfixed64': w.sfixed64(int64(value, false)); break;
    case 'uint64': w.uint64(int64(value, true)); break;
    case 'fixed64': w.fixed64(int64(value, true)); break;
    case 'double': w.double(float(value, false)); break;
    case 'float': w.float(float(value, true)); break;
    case 'bool': if (typeof value !== 'boolean') bail(); w.bool(value as boolean); break;
    case 'string': w.string(str(value)); break;
    case 'bytes': w.bytes(bytes(value)); break;
    default: bail();
  }
}

/** Converts a scalar to its canonical in-memory form, for the implicit-default check. */
function scalarValue(type: string, value: unknown): unknown {
  switch (type) {
    case 'int32': case 'sint32': case 'sfixed32': return int32(value, -2147483648, 2147483647);
    case 'uint32': case 'fixed32': return int32(value, 0, 4294967295);
    case 'int64': case 'sint64': case 'sfixed64': return int64(value, false);
    case 'uint64': case 'fixed64': return int64(value, true);
    case 'double': return float(value, false);
    case 'float': return float(value, true);
    case 'bool': if (typeof value !== 'boolean') bail(); return value;
    case 'string': return str(value);
    case 'bytes': return bytes(value);
    default: return bail();
  }
}

function enumValue(enm: protobuf.Enum, value: unknown): number {
  if (typeof value === 'string') {
    const n = enm.values[value];
    return n === undefined ? bail() : n;
  }
  if (typeof value === 'number' && (value | 0) === value) return value;
  return bail();
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function sortedKeys(obj: Record<string, unknown>): string[] {
  return Object.keys(obj).sort();
}

// ---- well-known types with a special JSON form

const DURATION_RE = /^(-)?([0-9]+)(?:\.([0-9]{1,9}))?s$/;

function writeDuration(w: JsonWriter, value: unknown): void {
  if (typeof value !== 'string') bail();
  const m = DURATION_RE.exec(value as string) ?? bail();
  const sign = m[1] ? -1 : 1;
  const seconds = Number(m[2]) * sign;
  const nanos = m[3] ? Number(m[3].padEnd(9, '0')) * sign : 0;
  if (!Number.isSafeInteger(seconds) || Math.abs(seconds) > 315576000000) bail();
  if (seconds !== 0) w.uint32(8).int64(seconds);
  if (nanos !== 0) w.uint32(16).int32(nanos);
}

function writeValue(w: JsonWriter, value: unknown, depth: number): void {
  if (depth > 100) bail();
  if (value === null) {
    w.uint32(8).int32(0);
  } else if (typeof value === 'number') {
    if (!Number.isFinite(value)) bail();
    w.uint32(17).double(value);
  } else if (typeof value === 'string') {
    w.uint32(26).string(str(value));
  } else if (typeof value === 'boolean') {
    w.uint32(32).bool(value);
  } else if (Array.isArray(value)) {
    w.uint32(50).fork();
    writeListValue(w, value, depth + 1);
    w.ldelim();
  } else if (isPlainObject(value)) {
    w.uint32(42).fork();
    writeStruct(w, value, depth + 1);
    w.ldelim();
  } else {
    bail();
  }
}

function writeStruct(w: JsonWriter, obj: unknown, depth: number): void {
  if (!isPlainObject(obj)) bail();
  const record = obj as Record<string, unknown>;
  for (const key of sortedKeys(record)) {
    const v = record[key];
    if (v === undefined) continue;
    w.uint32(10).fork().uint32(10).string(str(key)).uint32(18).fork();
    writeValue(w, v, depth);
    w.ldelim().ldelim();
  }
}

function writeListValue(w: JsonWriter, list: unknown, depth: number): void {
  if (!Array.isArray(list)) bail();
  for (const item of list as unknown[]) {
    w.uint32(10).fork();
    writeValue(w, item, depth);
    w.ldelim();
  }
}

/** The scalar inside each wrapper type. */
const WRAPPED: ReadonlyMap<string, string> = new Map([
  ['.google.protobuf.DoubleValue', 'double'], ['.google.protobuf.FloatValue', 'float'],
  ['.google.protobuf.Int64Value', 'int64'], ['.google.protobuf.UInt64Value', 'uint64'],
  ['.google.protobuf.Int32Value', 'int32'], ['.google.protobuf.UInt32Value', 'uint32'],
  ['.google.protobuf.BoolValue', 'bool'], ['.google.protobuf.StringValue', 'string'],
  ['.google.protobuf.BytesValue', 'bytes'],
]);

function writeWrapper(w: JsonWriter, wkt: string, value: unknown): void {
  const t = WRAPPED.get(wkt) ?? bail();
  const v = scalarValue(t, value);
  if (isZero(t, v)) return;
  w.uint32(8 | WIRE[t]);
  writeScalar(w, t, v);
}

/** Writes the content of a special well-known type (without tag and length). */
function writeWkt(w: JsonWriter, wkt: string, value: unknown, lookup: Lookup, depth: number): void {
  switch (wkt) {
    case '.google.protobuf.Duration':
      return writeDuration(w, value);
    case '.google.protobuf.Struct':
      return writeStruct(w, value, depth);
    case '.google.protobuf.Value':
      return writeValue(w, value, depth);
    case '.google.protobuf.ListValue':
      return writeListValue(w, value, depth);
    case '.google.protobuf.Empty':
      if (!isPlainObject(value) || Object.keys(value).some((k) => value[k] !== undefined)) bail();
      return;
    case '.google.protobuf.Any':
      return writeAny(w, value, lookup, depth);
    case '.google.protobuf.Timestamp':
    case '.google.protobuf.FieldMask':
      return bail();
    default:
      return writeWrapper(w, wkt, value);
  }
}

function writeAny(w: JsonWriter, value: unknown, lookup: Lookup, depth: number): void {
  if (!isPlainObject(value)) bail();
  const record = value as Record<string, unknown>;
  const url = record['@type'];
  if (url === undefined && Object.values(record).some((v) => v !== undefined)) {
    throw new Invalid('an Any needs an "@type" member naming its type URL');
  }
  if (typeof url !== 'string' || url === '') bail();
  const inner = lookup(url as string) ?? bail();
  w.uint32(10).string(str(url));
  // The packed message is written in place; an empty one is dropped with its tag, as proto3 omits empty bytes.
  const mark = w.length;
  w.uint32(18).fork();
  if (SPECIAL_WKT.has(inner.fullName)) {
    for (const key of Object.keys(record)) if (key !== '@type' && key !== 'value' && record[key] !== undefined) bail();
    // protobuf.js's ProtoJSON parser refuses an Any of Empty that has a value: so does this path.
    if (inner.fullName === '.google.protobuf.Empty' && record['value'] !== undefined) bail();
    if (record['value'] !== undefined) writeWkt(w, inner.fullName, record['value'], lookup, depth + 1);
  } else {
    writeFields(w, inner, record, lookup, depth + 1, true);
  }
  w.ldelimOrDrop(mark);
}

// ---- messages

/**
 * The writer of one encode, with a stack of the fields present in the messages being written (one frame per
 * open message), reused from message to message instead of two arrays per message.
 */
class JsonWriter extends ProtoWriter {
  readonly present: FieldPlan[] = [];
  readonly values: unknown[] = [];
  top = 0;

  override reset(): void {
    super.reset();
    this.top = 0;
  }
}

function writeMessageField(w: JsonWriter, fp: FieldPlan, value: unknown, lookup: Lookup, depth: number): void {
  w.uint32((fp.id << 3) | 2).fork();
  if (fp.wkt !== undefined) writeWkt(w, fp.wkt, value, lookup, depth + 1);
  else writeFields(w, fp.field.resolvedType as protobuf.Type, value, lookup, depth + 1, false);
  w.ldelim();
}

function writeSingle(w: JsonWriter, fp: FieldPlan, value: unknown, lookup: Lookup, depth: number, presence: boolean): void {
  if (fp.kind === 'message') {
    writeMessageField(w, fp, value, lookup, depth);
  } else if (fp.kind === 'enum') {
    const n = enumValue(fp.field.resolvedType as protobuf.Enum, value);
    if (n === 0 && !presence) return;
    w.uint32(fp.id << 3).int32(n);
  } else {
    const type = fp.field.type;
    const v = scalarValue(type, value);
    if (!presence && isZero(type, v)) return;
    w.uint32((fp.id << 3) | WIRE[type]);
    writeScalar(w, type, v);
  }
}

function writeMapKey(w: JsonWriter, keyType: string, key: string): void {
  switch (keyType) {
    case 'string':
      w.uint32(10).string(str(key));
      return;
    case 'bool':
      if (key !== 'true' && key !== 'false') bail();
      w.uint32(8).bool(key === 'true');
      return;
    default:
      if (!INT_RE.test(key)) bail();
      w.uint32(8 | WIRE[keyType]);
      writeScalar(w, keyType, key);
  }
}

function writeFields(w: JsonWriter, type: protobuf.Type, value: unknown, lookup: Lookup, depth: number, isAny: boolean): void {
  if (depth > 100 || !isPlainObject(value)) bail();
  const record = value as Record<string, unknown>;
  const plan = planOf(type);
  // The fields present, found from the object's keys (a message sets a few of its type's many fields), on the
  // writer's stack above what the enclosing messages put there. Every present key must be a known field, given
  // once (not by both its proto and JSON name).
  const { present, values } = w;
  const first = w.top;
  let end = first;
  let ordered = true;
  for (const key in record) {
    const v = record[key];
    if (v === undefined || (isAny && key === '@type')) continue;
    const fp = plan.byKey.get(key) ?? bail();
    if (key !== fp.name && record[fp.name] !== undefined) bail();
    if (end > first && present[end - 1].id >= fp.id) ordered = false;
    present[end] = fp;
    values[end] = v;
    end++;
  }
  w.top = end;
  // Written in field-number order, as deterministic encoding requires (sorted in place: a message has few).
  if (!ordered) {
    for (let i = first + 1; i < end; i++) {
      const fp = present[i];
      const v = values[i];
      let j = i - 1;
      for (; j >= first && present[j].id > fp.id; j--) {
        present[j + 1] = present[j];
        values[j + 1] = values[j];
      }
      present[j + 1] = fp;
      values[j + 1] = v;
    }
  }
  // Oneofs already set, as bits of their index in the type (a Set for a type with more than 31).
  let oneofBits = 0;
  let oneofs: Set<number> | undefined;
  for (let i = first; i < end; i++) {
    const fp = present[i];
    const v = values[i];
    values[i] = undefined;
    if (v === null) {
      // null means "absent", except for google.protobuf.Value, where it is the null value.
      if (fp.wkt !== '.google.protobuf.Value' || fp.field.repeated || fp.field.map) continue;
    }
    if (fp.oneof >= 0) {
      if (fp.oneof < 31) {
        if ((oneofBits & (1 << fp.oneof)) !== 0) bail();
        oneofBits |= 1 << fp.oneof;
      } else {
        oneofs ??= new Set();
        if (oneofs.has(fp.oneof)) bail();
        oneofs.add(fp.oneof);
      }
    }
    const field = fp.field;
    if (field.map) {
      if (!isPlainObject(v)) bail();
      const map = v as Record<string, unknown>;
      const keyType = (field as unknown as protobuf.MapField).keyType;
      for (const key of sortedKeys(map)) {
        const entry = map[key];
        if (entry === undefined) continue;
        w.uint32((fp.id << 3) | 2).fork();
        writeMapKey(w, keyType, key);
        if (entry !== null || fp.wkt === '.google.protobuf.Value') {
          if (fp.kind === 'message') {
            w.uint32(18).fork();
            if (fp.wkt !== undefined) writeWkt(w, fp.wkt, entry, lookup, depth + 1);
            else writeFields(w, field.resolvedType as protobuf.Type, entry, lookup, depth + 1, false);
            w.ldelim();
          } else if (fp.kind === 'enum') {
            w.uint32(16).int32(enumValue(field.resolvedType as protobuf.Enum, entry));
          } else {
            w.uint32(16 | WIRE[field.type]);
            writeScalar(w, field.type, entry);
          }
        } else {
          bail();
        }
        w.ldelim();
      }
    } else if (field.repeated) {
      if (!Array.isArray(v)) bail();
      const list = v as unknown[];
      if (list.length === 0) continue;
      if (fp.packed) {
        w.uint32((fp.id << 3) | 2).fork();
        for (const item of list) {
          if (fp.kind === 'enum') w.int32(enumValue(field.resolvedType as protobuf.Enum, item));
          else writeScalar(w, field.type, item);
        }
        w.ldelim();
      } else {
        for (const item of list) {
          if (item === null) bail();
          writeSingle(w, fp, item, lookup, depth, true);
        }
      }
    } else {
      writeSingle(w, fp, v, lookup, depth, fp.presence || fp.oneof >= 0);
    }
  }
  w.top = first;
}

/**
 * Encodes a ProtoJSON value of `type` to bytes, or throws {@link Bail} when it declines the value.
 * @param lookup - resolves an Any's `@type` to a type, `undefined` when unknown
 */
export function encodeJson(type: protobuf.Type, value: unknown, lookup: Lookup): Uint8Array {
  // One writer, reused; a nested call (a getter of the value encoding something) gets a writer of its own.
  const w = writerBusy ? new JsonWriter() : writer;
  const own = w === writer;
  if (own) writerBusy = true;
  try {
    w.reset();
    writeFields(w, type, value, lookup, 0, false);
    return w.finish();
  } catch (error) {
    w.values.fill(undefined);
    throw error;
  } finally {
    if (own) writerBusy = false;
  }
}

const writer = new JsonWriter();
let writerBusy = false;
