/**
 * Envoy's own field rules: the protoc-gen-validate (`validate.rules`) annotations of its `.proto` files, checked
 * here as Envoy checks them when it receives a resource, so that a resource Envoy would reject (a negative
 * `connect_timeout`, a `port_value` above 65535, an empty `stat_prefix`) is refused when it enters a cache
 * instead of being served and NACKed. The counterpart of the `Validate()` methods of go-control-plane's types.
 *
 * The rules are read from the generated descriptors and compiled into one check per message type, once. They are
 * checked on the decoded message (what Envoy sees), so every input shape is judged alike; Anys are checked by
 * their own type's rules.
 */
import { isIP } from 'node:net';
import Long from 'long';
import protobuf from 'protobufjs';
import { encodeMessage } from './codec.js';
import { lookupType, rulesOf, typesGeneration } from './registry.js';
import { getResourceName } from './resource-name.js';
import { typeUrlOf } from './type-url.js';
import { ResourceError } from './xds-error.js';

type Rules = Record<string, unknown>;
type FieldRules = Record<string, Rules | undefined>;

/** A broken rule: where and what. */
class Violation extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
  }
}

type ValueCheck = (value: unknown, path: string) => void;

interface FieldPlan {
  name: string;
  repeated: boolean;
  map: boolean;
  /** Checked only when set (a oneof member or a proto3 `optional`), as protoc-gen-validate does. */
  onlyIfSet: boolean;
  message: protobuf.Type | undefined;
  /** Checks of the whole field: min_items, unique, min_pairs ... */
  whole: ValueCheck | undefined;
  /** Checks of one value (each item of a repeated field, each value of a map). */
  value: ValueCheck | undefined;
  key: ValueCheck | undefined;
  required: boolean;
  /** Do not look inside the message (`message.skip`). */
  skip: boolean;
}

interface TypePlan {
  /** google.protobuf.Any: checked by the rules of the type it holds. */
  any: boolean;
  /** Another well-known type: nothing to check inside. */
  wellKnown: boolean;
  fields: FieldPlan[];
  requiredOneofs: { name: string; fields: string[] }[];
}

const plans = new WeakMap<protobuf.Type, TypePlan | null>();

const fail = (path: string, problem: string): never => {
  throw new Violation(path, problem);
};

// ---------------------------------------------------------------------------------------------------------
// Values as numbers: 64-bit integers arrive as Long (or number), rules as numbers or decimal strings.

function toBig(value: unknown): bigint {
  if (typeof value === 'bigint') return value;
  if (Long.isLong(value)) return BigInt(value.toString());
  if (typeof value === 'number') return BigInt(Math.trunc(value));
  return BigInt(String(value));
}

const NANOS = 1_000_000_000n;

function durationNanos(value: unknown): bigint {
  if (typeof value === 'string') {
    const m = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/.exec(value);
    if (m === null) throw new Error(`bad duration in a rule: ${value}`);
    const n = BigInt(m[2]) * NANOS + BigInt((m[3] ?? '').padEnd(9, '0') || '0');
    return m[1] ? -n : n;
  }
  const d = value as { seconds?: unknown; nanos?: unknown } | null;
  return toBig(d?.seconds ?? 0) * NANOS + toBig(d?.nanos ?? 0);
}

function formatDuration(nanos: bigint): string {
  const sign = nanos < 0n ? '-' : '';
  const abs = nanos < 0n ? -nanos : nanos;
  const frac = (abs % NANOS).toString().padStart(9, '0').replace(/0+$/, '');
  return `${sign}${abs / NANOS}${frac ? `.${frac}` : ''}s`;
}

/**
 * Range, const, in and not_in over an ordered kind of value. protoc-gen-validate reads `gt` with `lt` below it
 * as "outside [lt, gt]" (an exclusive range the other way round), and likewise for the inclusive forms.
 */
function compileOrdered<T extends number | bigint>(rules: Rules, kind: string, read: (v: unknown) => T, show: (v: T) => string): ValueCheck | undefined {
  const get = (name: string): T | undefined => (rules[name] === undefined ? undefined : read(rules[name]));
  const constant = get('const');
  const lt = get('lt');
  const lte = get('lte');
  const gt = get('gt');
  const gte = get('gte');
  const within = Array.isArray(rules['in']) ? (rules['in'] as unknown[]).map(read) : undefined;
  const notIn = Array.isArray(rules['not_in']) ? (rules['not_in'] as unknown[]).map(read) : undefined;
  const ignoreEmpty = rules['ignore_empty'] === true;
  const upper = lt ?? lte;
  const lower = gt ?? gte;
  if ([constant, upper, lower, within, notIn].every((x) => x === undefined)) return undefined;
  const rule = (name: string): string => `(validate.rules ${kind}.${name})`;
  return (raw, path) => {
    const v = read(raw);
    if (ignoreEmpty && (v === 0 || v === 0n)) return;
    if (constant !== undefined && v !== constant) fail(path, `${show(v)} is not ${show(constant)} ${rule('const')}`);
    if (within !== undefined && !within.includes(v)) fail(path, `${show(v)} is not one of ${within.map(show).join(', ')} ${rule('in')}`);
    if (notIn !== undefined && notIn.includes(v)) fail(path, `${show(v)} is one of ${notIn.map(show).join(', ')}, which are not allowed ${rule('not_in')}`);
    const below = lt !== undefined ? v < lt : lte !== undefined ? v <= lte : true;
    const above = gt !== undefined ? v > gt : gte !== undefined ? v >= gte : true;
    if (upper !== undefined && lower !== undefined && upper < lower) {
      // An exclusive range: outside [upper, lower].
      if (!below && !above) fail(path, `${show(v)} is between ${show(upper)} and ${show(lower)}, which is not allowed ${rule(`${lt !== undefined ? 'lt' : 'lte'}/${gt !== undefined ? 'gt' : 'gte'}`)}`);
      return;
    }
    if (!below) {
      fail(path, lt !== undefined ? `${show(v)} is not less than ${show(lt)} ${rule('lt')}` : `${show(v)} is more than ${show(lte as T)} ${rule('lte')}`);
    }
    if (!above) {
      fail(path, gt !== undefined ? `${show(v)} is not more than ${show(gt)} ${rule('gt')}` : `${show(v)} is less than ${show(gte as T)} ${rule('gte')}`);
    }
  };
}

// ---------------------------------------------------------------------------------------------------------
// Strings and bytes.

const HEADER_NAME_STRICT = /^:?[0-9a-zA-Z!#$%&'*+\-.^_|~`]+$/;
// HTTP header rules (RFC 7230): control characters are what they exclude.
// eslint-disable-next-line no-control-regex
const HEADER_VALUE_STRICT = /^[^\u0000-\u0008\u000A-\u001F\u007F]*$/;
// eslint-disable-next-line no-control-regex
const HEADER_LOOSE = /^[^\u0000\u000A\u000D]*$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

function isHostname(s: string): boolean {
  const host = s.endsWith('.') ? s.slice(0, -1) : s;
  if (host.length === 0 || host.length > 253) return false;
  return host.split('.').every((label) => /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/.test(label));
}

function isUri(s: string): boolean {
  try {
    new URL(s);
    return /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(s);
  } catch {
    return false;
  }
}

const WELL_KNOWN: Record<string, [string, (s: string) => boolean]> = {
  hostname: ['a hostname', isHostname],
  ip: ['an IP address', (s) => isIP(s) !== 0],
  ipv4: ['an IPv4 address', (s) => isIP(s) === 4],
  ipv6: ['an IPv6 address', (s) => isIP(s) === 6],
  address: ['a hostname or an IP address', (s) => isIP(s) !== 0 || isHostname(s)],
  uri: ['an absolute URI', isUri],
  uri_ref: ['a URI reference', (s) => !/\s/.test(s)],
  email: ['an email address', (s) => /^[^@\s]+@[^@\s]+$/.test(s) && isHostname(s.slice(s.lastIndexOf('@') + 1))],
  uuid: ['a UUID', (s) => UUID.test(s)],
};

/** An RE2 pattern as a JavaScript RegExp; `undefined` for the few RE2 forms JavaScript cannot express. */
function regExpOf(pattern: string): RegExp | undefined {
  try {
    return new RegExp(pattern.replace(/\\z/g, '$'), 'u');
  } catch {
    try {
      return new RegExp(pattern);
    } catch {
      return undefined;
    }
  }
}

function compileString(rules: Rules): ValueCheck | undefined {
  const checks: ((s: string, path: string) => void)[] = [];
  const rule = (name: string): string => `(validate.rules string.${name})`;
  const n = (name: string): number | undefined => (rules[name] === undefined ? undefined : Number(rules[name]));
  const chars = (s: string): number => [...s].length;
  const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');
  const show = (s: string): string => JSON.stringify(s.length > 60 ? `${s.slice(0, 57)}...` : s);
  const minLen = n('min_len');
  const maxLen = n('max_len');
  const len = n('len');
  const minBytes = n('min_bytes');
  const maxBytes = n('max_bytes');
  const lenBytes = n('len_bytes');
  if (len !== undefined) checks.push((s, p) => void (chars(s) !== len && fail(p, `${show(s)} is not ${len} characters long ${rule('len')}`)));
  if (minLen !== undefined) checks.push((s, p) => void (chars(s) < minLen && fail(p, s === '' ? `must not be empty ${rule('min_len')}` : `${show(s)} is shorter than ${minLen} characters ${rule('min_len')}`)));
  if (maxLen !== undefined) checks.push((s, p) => void (chars(s) > maxLen && fail(p, `${show(s)} is longer than ${maxLen} characters ${rule('max_len')}`)));
  if (lenBytes !== undefined) checks.push((s, p) => void (bytes(s) !== lenBytes && fail(p, `${show(s)} is not ${lenBytes} bytes long ${rule('len_bytes')}`)));
  if (minBytes !== undefined) checks.push((s, p) => void (bytes(s) < minBytes && fail(p, s === '' ? `must not be empty ${rule('min_bytes')}` : `${show(s)} is shorter than ${minBytes} bytes ${rule('min_bytes')}`)));
  if (maxBytes !== undefined) checks.push((s, p) => void (bytes(s) > maxBytes && fail(p, `${show(s).slice(0, 40)} is longer than ${maxBytes} bytes ${rule('max_bytes')}`)));
  if (typeof rules['const'] === 'string') {
    const c = rules['const'];
    checks.push((s, p) => void (s !== c && fail(p, `${show(s)} is not ${show(c)} ${rule('const')}`)));
  }
  if (typeof rules['prefix'] === 'string') {
    const c = rules['prefix'];
    checks.push((s, p) => void (!s.startsWith(c) && fail(p, `${show(s)} does not start with ${show(c)} ${rule('prefix')}`)));
  }
  if (typeof rules['suffix'] === 'string') {
    const c = rules['suffix'];
    checks.push((s, p) => void (!s.endsWith(c) && fail(p, `${show(s)} does not end with ${show(c)} ${rule('suffix')}`)));
  }
  if (typeof rules['contains'] === 'string') {
    const c = rules['contains'];
    checks.push((s, p) => void (!s.includes(c) && fail(p, `${show(s)} does not contain ${show(c)} ${rule('contains')}`)));
  }
  if (typeof rules['not_contains'] === 'string') {
    const c = rules['not_contains'];
    checks.push((s, p) => void (s.includes(c) && fail(p, `${show(s)} contains ${show(c)} ${rule('not_contains')}`)));
  }
  if (Array.isArray(rules['in'])) {
    const set = rules['in'] as string[];
    checks.push((s, p) => void (!set.includes(s) && fail(p, `${show(s)} is not one of ${set.map(show).join(', ')} ${rule('in')}`)));
  }
  if (Array.isArray(rules['not_in'])) {
    const set = rules['not_in'] as string[];
    checks.push((s, p) => void (set.includes(s) && fail(p, `${show(s)} is not allowed ${rule('not_in')}`)));
  }
  if (typeof rules['pattern'] === 'string') {
    const source = rules['pattern'];
    const re = regExpOf(source);
    if (re !== undefined) checks.push((s, p) => void (!re.test(s) && fail(p, `${show(s)} does not match ${source} ${rule('pattern')}`)));
  }
  for (const [name, [what, test]] of Object.entries(WELL_KNOWN)) {
    if (rules[name] === true) checks.push((s, p) => void (!test(s) && fail(p, `${show(s)} is not ${what} ${rule(name)}`)));
  }
  const regex = rules['well_known_regex'];
  if (regex === 'HTTP_HEADER_NAME' || regex === 'HTTP_HEADER_VALUE') {
    const strict = rules['strict'] !== false;
    const re = !strict ? HEADER_LOOSE : regex === 'HTTP_HEADER_NAME' ? HEADER_NAME_STRICT : HEADER_VALUE_STRICT;
    const what = regex === 'HTTP_HEADER_NAME' ? 'a valid HTTP header name' : 'a valid HTTP header value';
    checks.push((s, p) => void (!re.test(s) && fail(p, `${show(s)} is not ${what} ${rule('well_known_regex')}`)));
  }
  if (checks.length === 0) return undefined;
  const ignoreEmpty = rules['ignore_empty'] === true;
  return (value, path) => {
    const s = typeof value === 'string' ? value : '';
    if (ignoreEmpty && s === '') return;
    for (const check of checks) check(s, path);
  };
}

function compileBytes(rules: Rules): ValueCheck | undefined {
  const n = (name: string): number | undefined => (rules[name] === undefined ? undefined : Number(rules[name]));
  const rule = (name: string): string => `(validate.rules bytes.${name})`;
  const minLen = n('min_len');
  const maxLen = n('max_len');
  const len = n('len');
  const ipKind = rules['ip'] === true ? [4, 16] : rules['ipv4'] === true ? [4] : rules['ipv6'] === true ? [16] : undefined;
  const ignoreEmpty = rules['ignore_empty'] === true;
  if (minLen === undefined && maxLen === undefined && len === undefined && ipKind === undefined) return undefined;
  return (value, path) => {
    const length = value instanceof Uint8Array ? value.length : 0;
    if (ignoreEmpty && length === 0) return;
    if (len !== undefined && length !== len) fail(path, `${length} bytes, not ${len} ${rule('len')}`);
    if (minLen !== undefined && length < minLen) fail(path, `${length} bytes is fewer than ${minLen} ${rule('min_len')}`);
    if (maxLen !== undefined && length > maxLen) fail(path, `${length} bytes is more than ${maxLen} ${rule('max_len')}`);
    if (ipKind !== undefined && !ipKind.includes(length)) fail(path, `${length} bytes is not an IP address ${rule('ip')}`);
  };
}

function compileEnum(rules: Rules, enumType: protobuf.Enum | undefined): ValueCheck | undefined {
  const numbers = compileOrdered(rules, 'enum', (v) => Number(v), String);
  const definedOnly = rules['defined_only'] === true && enumType !== undefined;
  if (numbers === undefined && !definedOnly) return undefined;
  return (value, path) => {
    if (definedOnly && enumType.valuesById[value as number] === undefined) {
      fail(path, `${String(value)} is not a value of ${enumType.fullName.slice(1)} (validate.rules enum.defined_only)`);
    }
    numbers?.(value, path);
  };
}

const INTEGER_KINDS = new Set(['int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64', 'fixed32', 'fixed64', 'sfixed32', 'sfixed64']);

/** The check of one value (not a whole repeated or map field) by a `validate.FieldRules`. */
function compileValue(rules: FieldRules, field: protobuf.Field): ValueCheck | undefined {
  const [kind, body] = Object.entries(rules).find(([k]) => k !== 'message') ?? [];
  if (kind === undefined || body === undefined) return undefined;
  const wrapped = field.resolvedType instanceof protobuf.Type && /^\.google\.protobuf\.\w+Value$/.test(field.resolvedType.fullName);
  let check: ValueCheck | undefined;
  if (INTEGER_KINDS.has(kind)) check = compileOrdered(body, kind, toBig, String);
  else if (kind === 'float' || kind === 'double') check = compileOrdered(body, kind, Number, String);
  else if (kind === 'bool') {
    const c = body['const'];
    if (typeof c === 'boolean') check = (v, p) => void ((v === true) !== c && fail(p, `must be ${String(c)} (validate.rules bool.const)`));
  } else if (kind === 'string') check = compileString(body);
  else if (kind === 'bytes') check = compileBytes(body);
  else if (kind === 'enum') check = compileEnum(body, field.resolvedType instanceof protobuf.Enum ? field.resolvedType : undefined);
  else if (kind === 'duration') {
    const ordered = compileOrdered(body, kind, durationNanos, (n) => formatDuration(n));
    if (ordered !== undefined) check = (v, p) => void (v != null && ordered(v, p));
  } else if (kind === 'any') {
    const within = body['in'] as string[] | undefined;
    const notIn = body['not_in'] as string[] | undefined;
    if (within !== undefined || notIn !== undefined) {
      check = (v, p) => {
        if (v == null) return;
        const url = (v as { type_url?: string }).type_url ?? '';
        if (within !== undefined && !within.includes(url)) fail(p, `type ${url} is not one of ${within.join(', ')} (validate.rules any.in)`);
        if (notIn !== undefined && notIn.includes(url)) fail(p, `type ${url} is not allowed (validate.rules any.not_in)`);
      };
    }
  }
  // (Timestamp rules, which Envoy's API does not use, are not checked.)
  if (check === undefined || !wrapped || kind === 'duration' || kind === 'any') return check;
  // Rules on a wrapper (UInt32Value ...) apply to its value, when it is set.
  const inner = check;
  return (v, p) => void (v != null && inner((v as { value?: unknown }).value ?? (kind === 'string' ? '' : 0), p));
}

function isRequired(rules: FieldRules | undefined): boolean {
  if (rules === undefined) return false;
  return (rules['message'])?.['required'] === true || Object.values(rules).some((r) => (r)?.['required'] === true);
}

function compileRepeated(rules: Rules, field: protobuf.Field): { whole: ValueCheck | undefined; value: ValueCheck | undefined } {
  const n = (name: string): number | undefined => (rules[name] === undefined ? undefined : Number(rules[name]));
  const min = n('min_items');
  const max = n('max_items');
  const unique = rules['unique'] === true;
  const ignoreEmpty = rules['ignore_empty'] === true;
  const items = rules['items'] as FieldRules | undefined;
  const value = items === undefined ? undefined : compileValue(items, field);
  let whole: ValueCheck | undefined;
  if (min !== undefined || max !== undefined || unique) {
    whole = (v, path) => {
      const list = v as unknown[];
      if (ignoreEmpty && list.length === 0) return;
      if (min !== undefined && list.length < min) fail(path, list.length === 0 ? `must have at least ${min} item${min === 1 ? '' : 's'} (validate.rules repeated.min_items)` : `${list.length} items is fewer than ${min} (validate.rules repeated.min_items)`);
      if (max !== undefined && list.length > max) fail(path, `${list.length} items is more than ${max} (validate.rules repeated.max_items)`);
      if (unique) {
        const seen = new Set<string>();
        for (const item of list) {
          const key = item instanceof Uint8Array ? Buffer.from(item).toString('base64') : Long.isLong(item) ? item.toString() : JSON.stringify(item);
          if (seen.has(key)) fail(path, `${key} appears more than once (validate.rules repeated.unique)`);
          seen.add(key);
        }
      }
    };
  }
  return { whole, value };
}

function compileMap(rules: Rules, field: protobuf.Field): { whole: ValueCheck | undefined; value: ValueCheck | undefined; key: ValueCheck | undefined } {
  const n = (name: string): number | undefined => (rules[name] === undefined ? undefined : Number(rules[name]));
  const min = n('min_pairs');
  const max = n('max_pairs');
  const ignoreEmpty = rules['ignore_empty'] === true;
  const keys = rules['keys'] as FieldRules | undefined;
  const values = rules['values'] as FieldRules | undefined;
  const keyField = new protobuf.Field('key', 1, (field as unknown as protobuf.MapField).keyType);
  let whole: ValueCheck | undefined;
  if (min !== undefined || max !== undefined) {
    whole = (v, path) => {
      const size = Object.keys(v as object).length;
      if (ignoreEmpty && size === 0) return;
      if (min !== undefined && size < min) fail(path, `${size} entries is fewer than ${min} (validate.rules map.min_pairs)`);
      if (max !== undefined && size > max) fail(path, `${size} entries is more than ${max} (validate.rules map.max_pairs)`);
    };
  }
  return { whole, key: keys === undefined ? undefined : compileValue(keys, keyField), value: values === undefined ? undefined : compileValue(values, field) };
}

/** The compiled rules of a message type, or `null` when it opted out. */
function planOf(type: protobuf.Type): TypePlan | null {
  let plan = plans.get(type);
  if (plan !== undefined) return plan;
  const messageRules = rulesOf(type.fullName.slice(1));
  if (messageRules?.disabled === true) {
    plans.set(type, null);
    return null;
  }
  const fields: FieldPlan[] = [];
  for (const field of type.fieldsArray) {
    if (field.name.startsWith('.')) continue;
    field.resolve();
    const rules = messageRules?.fields?.[field.name] as FieldRules | undefined;
    const message = field.resolvedType instanceof protobuf.Type && (!field.resolvedType.fullName.startsWith('.google.protobuf.') || field.resolvedType.fullName === '.google.protobuf.Any') ? field.resolvedType : undefined;
    const fp: FieldPlan = {
      name: field.name,
      repeated: field.repeated,
      map: field.map,
      onlyIfSet: field.partOf !== null || field.options?.['proto3_optional'] === true,
      message,
      whole: undefined,
      value: undefined,
      key: undefined,
      required: false,
      skip: (rules?.['message'])?.['skip'] === true,
    };
    if (rules !== undefined) {
      if (field.map && rules['map'] !== undefined) Object.assign(fp, compileMap(rules['map'], field));
      else if (field.repeated && rules['repeated'] !== undefined) Object.assign(fp, compileRepeated(rules['repeated'], field));
      else if (!field.map && !field.repeated) {
        fp.value = compileValue(rules, field);
        fp.required = isRequired(rules);
      }
    }
    if (fp.message === undefined && fp.whole === undefined && fp.value === undefined && fp.key === undefined && !fp.required) continue;
    fields.push(fp);
  }
  const requiredOneofs = (messageRules?.oneofs ?? []).map((name) => ({ name, fields: type.oneofs[name]?.oneof ?? [] }));
  const fullName = type.fullName;
  plan = { any: fullName === '.google.protobuf.Any', wellKnown: fullName.startsWith('.google.protobuf.') && fullName !== '.google.protobuf.Any', fields, requiredOneofs };
  plans.set(type, plan);
  return plan;
}

const at = (path: string, name: string): string => (path === '' ? name : `${path}.${name}`);

function has(message: Record<string, unknown>, name: string): boolean {
  return Object.hasOwn(message, name) && message[name] != null;
}

function checkMessage(type: protobuf.Type, message: Record<string, unknown>, path: string, depth: number): void {
  if (depth > 100) return;
  const plan = planOf(type);
  if (plan === null || plan.wellKnown) return;
  if (plan.any) {
    const url = message['type_url'];
    if (typeof url !== 'string' || url === '') return;
    let inner: protobuf.Type;
    try {
      inner = lookupType(url);
    } catch {
      return; // an unknown @type is reported by the encoder, not here
    }
    const innerPlan = planOf(inner);
    if (innerPlan === null || innerPlan.wellKnown) return;
    checkMessage(inner, inner.decode((message['value'] as Uint8Array | undefined) ?? new Uint8Array()), path, depth + 1);
    return;
  }
  for (const oneof of plan.requiredOneofs) {
    if (!oneof.fields.some((f) => has(message, f))) fail(at(path, oneof.name), `one of ${oneof.fields.join(', ')} must be set (validate.required)`);
  }
  for (const f of plan.fields) {
    const here = at(path, f.name);
    const value = message[f.name];
    if (f.map) {
      const entries = Object.entries((value ?? {}) as Record<string, unknown>);
      f.whole?.(value ?? {}, here);
      for (const [k, v] of entries) {
        const entryPath = `${here}[${JSON.stringify(k)}]`;
        f.key?.(k, entryPath);
        f.value?.(v, entryPath);
        if (f.message !== undefined && !f.skip && v != null) checkMessage(f.message, v as Record<string, unknown>, entryPath, depth + 1);
      }
    } else if (f.repeated) {
      const list = (value ?? []) as unknown[];
      f.whole?.(list, here);
      for (let i = 0; i < list.length; i++) {
        f.value?.(list[i], `${here}[${i}]`);
        if (f.message !== undefined && !f.skip) checkMessage(f.message, list[i] as Record<string, unknown>, `${here}[${i}]`, depth + 1);
      }
    } else {
      if (f.onlyIfSet && !has(message, f.name)) continue;
      if (f.required && value == null) fail(here, 'is required (validate.rules message.required)');
      f.value?.(value, here);
      if (f.message !== undefined && !f.skip && value != null) checkMessage(f.message, value as Record<string, unknown>, here, depth + 1);
    }
  }
}

/**
 * Checks encoded bytes of a message against Envoy's field rules; throws a {@link ResourceError} naming the
 * resource, the field path and the broken rule. What a cache calls when a resource enters it.
 *
 * @param typeNameOrUrl - the message type (name or type URL)
 * @param bytes - the message, encoded
 * @param name - the resource's name, for the error
 */
export function validateEncoded(typeNameOrUrl: string, bytes: Uint8Array, name: string | undefined): void {
  const type = lookupType(typeNameOrUrl);
  try {
    checkMessage(type, type.decode(bytes), '', 0);
  } catch (error) {
    if (!(error instanceof Violation)) throw error;
    throw new ResourceError(typeUrlOf(typeNameOrUrl), name, error.path, error.problem);
  }
}

/** Content hashes per type in one generation of {@link PassedContent}; the older generation is dropped when full. */
const PASSED_PER_GENERATION = 1 << 16;

/**
 * Content that passed the rules lately, by type and content hash, in two generations: a hit in the older one
 * moves to the newer, and when the newer holds {@link PASSED_PER_GENERATION} hashes the older is dropped. So
 * the content of the last snapshots is remembered and memory stays bounded however much content passes.
 */
class PassedContent {
  #current = new Map<string, Set<string>>();
  #previous = new Map<string, Set<string>>();
  #size = 0;
  #generation = typesGeneration();

  has(type: string, hash: string): boolean {
    if (this.#generation !== typesGeneration()) {
      this.#generation = typesGeneration();
      this.#current = new Map();
      this.#previous = new Map();
      this.#size = 0;
      return false;
    }
    if (this.#current.get(type)?.has(hash) === true) return true;
    if (this.#previous.get(type)?.has(hash) !== true) return false;
    this.add(type, hash);
    return true;
  }

  add(type: string, hash: string): void {
    if (this.#size >= PASSED_PER_GENERATION) {
      this.#previous = this.#current;
      this.#current = new Map();
      this.#size = 0;
    }
    let set = this.#current.get(type);
    if (set === undefined) {
      set = new Set();
      this.#current.set(type, set);
    }
    if (!set.has(hash)) {
      set.add(hash);
      this.#size++;
    }
  }
}

const passed = new PassedContent();

/**
 * {@link validateEncoded} for content known by its content hash: content of a type that passed the rules lately
 * is not checked again. Applications that rebuild a snapshot from all their resources on each change re-encode
 * mostly unchanged resources; their bytes, and so their hash, are those checked last time. The rules depend on
 * the type and the bytes only (and on the types known: {@link typesGeneration}); `name` is for the error.
 *
 * @param hash - the content hash of `bytes` (`contentHash` of the codec)
 */
export function validateEncodedContent(typeUrl: string, bytes: Uint8Array, hash: string, name: string | undefined): void {
  if (passed.has(typeUrl, hash)) return;
  validateEncoded(typeUrl, bytes, name);
  passed.add(typeUrl, hash);
}

/**
 * Checks a resource (ProtoJSON shape, as everywhere here) against its message type and Envoy's own field rules,
 * the protoc-gen-validate annotations of Envoy's `.proto` files: ranges of numbers and durations, string
 * lengths and patterns, required fields and oneofs, item counts, defined enum values... Anys are checked by the
 * rules of their `@type`. Throws a {@link ResourceError} such as
 * `invalid envoy.config.cluster.v3.Cluster "web" at load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value: 70000 is more than 65535 (validate.rules uint32.lte)`.
 *
 * Snapshots and linear caches call it on every resource they take in, so an application needs it only to check
 * a resource earlier. The counterpart of go-control-plane's `Validate()`.
 *
 * @param typeNameOrUrl - the message type (name or type URL), `TypeUrl.Cluster` say
 * @param resource - the resource in ProtoJSON shape
 */
export function validate(typeNameOrUrl: string, resource: unknown): void {
  const bytes = encodeMessage(typeNameOrUrl, resource);
  let name: string | undefined;
  try {
    name = getResourceName(typeUrlOf(typeNameOrUrl), resource);
  } catch {
    name = undefined;
  }
  validateEncoded(typeNameOrUrl, bytes, name);
}
