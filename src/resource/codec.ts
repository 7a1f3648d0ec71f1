import { hash } from 'node:crypto';
import Long from 'long';
import protobuf from 'protobufjs';
// protobuf.js ships ProtoJSON as a CommonJS module: its functions hang off the default export.
import protojson from 'protobufjs/ext/protojson.js';
import { lookupProtoNamesType, lookupType } from './registry.js';
import { ResourceError, XdsError, Code } from './xds-error.js';
import { typeUrlOf } from './type-url.js';
import { Bail, Invalid, encodeJson } from './json-encoder.js';

/** A JSON-like object in ProtoJSON shape. */
export type JsonMessage = Record<string, unknown>;

/**
 * Returns a canonical copy of a ProtoJSON-shaped value: object keys sorted (so map entries, which protobuf.js
 * encodes in key order, always come out the same), `undefined` members dropped, `Uint8Array` turned into base64,
 * `Long` into its decimal string, and protobuf.js message instances into their ProtoJSON. Equal content gives
 * equal output whatever order the keys were inserted in.
 */
export function canonicalize(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(canonicalize);
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  if (Long.isLong(value)) return value.toString();
  if (value instanceof protobuf.Message) {
    const type = (value as protobuf.Message & { $type: protobuf.Type }).$type;
    return canonicalize(protojson.toJson(type, value));
  }
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const member = (value as Record<string, unknown>)[key];
    if (member !== undefined) out[key] = canonicalize(member);
  }
  return out;
}

function describeExpectation(field: protobuf.Field): string {
  const resolved = field.resolvedType;
  let what: string;
  if (resolved instanceof protobuf.Enum) {
    what = `one of ${Object.keys(resolved.values).join(', ')} (or its number)`;
  } else if (resolved instanceof protobuf.Type) {
    switch (resolved.fullName) {
      case '.google.protobuf.Duration':
        what = 'a duration string like "5s" or "0.25s"';
        break;
      case '.google.protobuf.Timestamp':
        what = 'an RFC 3339 timestamp string';
        break;
      case '.google.protobuf.Struct':
        what = 'a JSON object';
        break;
      case '.google.protobuf.Any':
        what = 'an object with "@type" and the fields of that type';
        break;
      default:
        what = resolved.fullName.startsWith('.google.protobuf.') && resolved.fullName.endsWith('Value')
          ? `a ${resolved.name.replace(/Value$/, '').toLowerCase()} value`
          : `a ${resolved.fullName.slice(1)} object`;
    }
  } else {
    const scalars: Record<string, string> = {
      string: 'a string',
      bool: 'a boolean',
      bytes: 'a base64 string or a Uint8Array',
      double: 'a number',
      float: 'a number',
    };
    what = scalars[field.type] ?? `an integer (${field.type})`;
  }
  if (field.map) return `an object whose values are each ${what}`;
  if (field.repeated) return `an array whose items are each ${what}`;
  return what;
}

function fieldIndex(type: protobuf.Type): Map<string, protobuf.Field> {
  const index = new Map<string, protobuf.Field>();
  for (const field of type.fieldsArray) {
    index.set(field.name, field);
    if (field.jsonName) index.set(field.jsonName, field);
  }
  return index;
}

function tryParse(type: protobuf.Type, json: unknown): Error | undefined {
  try {
    protojson.fromJson(type, json);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

function anyTarget(json: unknown): protobuf.Type | undefined {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return undefined;
  const url = (json as Record<string, unknown>)['@type'];
  if (typeof url !== 'string') return undefined;
  try {
    return lookupType(url);
  } catch {
    return undefined;
  }
}

/** Finds where in `json` the parse of `type` fails: returns the field path and the problem. */
function locate(type: protobuf.Type, json: unknown, path: string): { path: string; problem: string } {
  const whole = tryParse(type, json);
  const fallback = { path, problem: cleanMessage(whole?.message ?? 'invalid value') };
  if (type.fullName === '.google.protobuf.Any') {
    const target = anyTarget(json);
    const url = (json as Record<string, unknown> | null)?.['@type'];
    if (typeof url !== 'string') return { path, problem: 'an Any needs an "@type" member naming its type URL' };
    if (target === undefined) {
      return { path: `${path}["@type"]`, problem: `unknown type "${url}": add its .proto with addProtoFiles()` };
    }
    const { ['@type']: _ignored, ...rest } = json as Record<string, unknown>;
    const isWkt = target.fullName.startsWith('.google.protobuf.');
    if (!isWkt) return locate(target, rest, path);
    return fallback;
  }
  if (type.fullName.startsWith('.google.protobuf.') || json === null || typeof json !== 'object' || Array.isArray(json)) {
    return fallback;
  }
  const index = fieldIndex(type);
  for (const [key, value] of Object.entries(json as Record<string, unknown>)) {
    const field = index.get(key);
    const here = path ? `${path}.${key}` : key;
    if (field === undefined) {
      const near = closest(key, type.fieldsArray.map((f) => f.name));
      return { path: here, problem: `unknown field "${key}" in ${type.fullName.slice(1)}${near ? ` (did you mean "${near}"?)` : ''}` };
    }
    if (value === null) continue;
    if (field.resolvedType?.fullName === '.google.protobuf.Any') {
      const items: [string, unknown][] = field.map && typeof value === 'object' ? Object.entries(value) : field.repeated && Array.isArray(value) ? value.map((v: unknown, i) => [String(i), v]) : [['', value]];
      for (const [k, item] of items) {
        if (item !== null && typeof item === 'object' && !Array.isArray(item) && !('@type' in item) && Object.keys(item).length > 0) {
          const at = k === '' ? here : field.map ? `${here}[${JSON.stringify(k)}]` : `${here}[${k}]`;
          return { path: at, problem: 'an Any needs an "@type" member naming its type URL' };
        }
      }
    }
    const single = { [key]: value };
    const error = tryParse(type, single);
    if (error === undefined) continue;
    const resolved = field.resolvedType;
    const expected = describeExpectation(field);
    if (resolved instanceof protobuf.Type && !resolved.fullName.startsWith('.google.protobuf.') || resolved?.fullName === '.google.protobuf.Any') {
      const sub = resolved as protobuf.Type;
      if (field.map) {
        if (typeof value !== 'object' || Array.isArray(value)) return { path: here, problem: `expected ${expected}` };
        for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
          if (tryParse(sub, v) !== undefined) return locate(sub, v, `${here}[${JSON.stringify(k)}]`);
        }
      } else if (field.repeated) {
        if (!Array.isArray(value)) return { path: here, problem: `expected ${expected}` };
        for (let i = 0; i < value.length; i++) {
          if (tryParse(sub, value[i]) !== undefined) return locate(sub, value[i], `${here}[${i}]`);
        }
      } else {
        return locate(sub, value, here);
      }
    }
    return { path: here, problem: `${cleanMessage(error.message)}; expected ${expected}` };
  }
  if (whole !== undefined && /oneof/.test(whole.message)) {
    return { path, problem: cleanMessage(whole.message) };
  }
  return fallback;
}

/** Edit distance, for "did you mean" hints on misspelled field names. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

function closest(key: string, names: string[]): string | undefined {
  const snake = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(snake.length / 4)) + 1;
  for (const name of names) {
    const d = distance(snake, name);
    if (d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  return best;
}

function cleanMessage(message: string): string {
  // protobuf.js prefixes messages with the full field name; our path says where already.
  return message.replace(/^\.[\w.]+: /, '');
}

/**
 * Parses a ProtoJSON value into a message of `type`, throwing a {@link ResourceError} that names the field path
 * and what was expected when it does not fit.
 */
function parse(type: protobuf.Type, json: unknown, typeUrl: string, name: string | undefined): protobuf.Message {
  try {
    return protojson.fromJson(type, json);
  } catch (error) {
    const where = locate(type, json, '');
    throw new ResourceError(typeUrl, name, where.path, where.problem, { cause: error });
  }
}

/** Reads the name of a resource object without validating it (for error messages). */
function peekName(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const record = value as Record<string, unknown>;
  const name = record['name'] ?? record['cluster_name'] ?? record['clusterName'];
  return typeof name === 'string' ? name : undefined;
}

/**
 * Validates a ProtoJSON-shaped object (proto or lowerCamel field names) against its message type and returns
 * the protobuf.js message. Unknown fields, wrong value types and unknown enum names are errors.
 *
 * @param typeNameOrUrl - a fully qualified message name or a type URL
 * @param value - the object, in ProtoJSON shape (or a protobuf.js message instance)
 */
export function fromJson(typeNameOrUrl: string, value: unknown): protobuf.Message {
  const type = lookupType(typeNameOrUrl);
  return parse(type, canonicalize(value), typeUrlOf(typeNameOrUrl), peekName(value));
}

/** Options of {@link toJson}. */
export interface ToJsonOptions {
  /** Write the proto field names (`connect_timeout`) instead of the canonical lowerCamel JSON names. */
  protoNames?: boolean;
}

/**
 * Formats a message (a protobuf.js message or a ProtoJSON-shaped object) as canonical ProtoJSON: Duration as
 * `"5s"`, Struct as plain JSON, Any with `@type`, enums by name, lowerCamel field names unless `protoNames`.
 */
export function toJson(typeNameOrUrl: string, message: unknown, options: ToJsonOptions = {}): JsonMessage {
  const msg = message instanceof protobuf.Message ? message : fromJson(typeNameOrUrl, message);
  const type = options.protoNames ? lookupProtoNamesType(typeNameOrUrl) : lookupType(typeNameOrUrl);
  const bytes = lookupType(typeNameOrUrl).encode(msg).finish();
  return protojson.toJson(type, type.decode(bytes)) as JsonMessage;
}

/**
 * Encodes a ProtoJSON-shaped object to protobuf binary, deterministically: map entries in sorted key order, so
 * equal content gives equal bytes. Throws a {@link ResourceError} for a value that does not fit its type.
 */
export function encodeMessage(typeNameOrUrl: string, value: unknown): Buffer {
  const type = lookupType(typeNameOrUrl);
  try {
    return asBuffer(encodeJson(type, value, lookupAny));
  } catch (error) {
    if (error instanceof Invalid) {
      const where = locate(type, canonicalize(value), '');
      throw new ResourceError(typeUrlOf(typeNameOrUrl), peekName(value), where.path, where.problem, { cause: error });
    }
    if (!(error instanceof Bail)) throw error;
  }
  // The checked path: slower, but it either encodes what the fast path declined or says precisely what is wrong.
  const message = parse(type, canonicalize(value), typeUrlOf(typeNameOrUrl), peekName(value));
  return asBuffer(type.encode(message).finish());
}

/**
 * Decodes protobuf binary into a ProtoJSON-shaped object with proto field names (the shape resources are written
 * in). Throws `INVALID_ARGUMENT` for bytes that do not decode.
 */
export function decodeMessage(typeNameOrUrl: string, bytes: Uint8Array): JsonMessage {
  const type = lookupProtoNamesType(typeNameOrUrl);
  let message: protobuf.Message;
  try {
    message = type.decode(bytes);
  } catch (error) {
    throw new XdsError(Code.INVALID_ARGUMENT, `cannot decode ${type.fullName.slice(1)}: ${(error as Error).message}`, { cause: error });
  }
  return protojson.toJson(type, message) as JsonMessage;
}

function lookupAny(typeUrl: string): protobuf.Type | undefined {
  try {
    return lookupType(typeUrl);
  } catch {
    return undefined;
  }
}

/** The checked encoding path alone (tests compare it with the fast path). */
export function encodeMessageChecked(typeNameOrUrl: string, value: unknown): Buffer {
  const type = lookupType(typeNameOrUrl);
  return asBuffer(type.encode(parse(type, canonicalize(value), typeUrlOf(typeNameOrUrl), peekName(value))).finish());
}

/**
 * The same bytes as a `Buffer`, without copying: `bytes` itself when it is one, else a view of its memory (bytes
 * that crossed a process boundary, or that protobuf.js returned, may be a plain `Uint8Array`).
 */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The content hash of encoded bytes: 96 bits of SHA-256 in base64url (16 characters). Equal bytes give equal
 * hashes in every process, which is what makes versions safe across restarts and replicas.
 */
export function contentHash(bytes: Uint8Array): string {
  return hash('sha256', bytes, 'buffer').subarray(0, 12).toString('base64url');
}
