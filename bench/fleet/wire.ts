/**
 * A tiny protobuf reader and writer for the load generator: it reads the few fields it needs out of
 * resource bytes (names) without decoding whole messages, and writes xDS requests with a cached,
 * pre-encoded block of resource names.
 *
 * @packageDocumentation
 */

/** Wire types of the protobuf encoding. */
const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;

/** Reads a varint at `pos`; returns the value (up to 2^53) and the position after it. */
function readVarint(buf: Uint8Array, pos: number): [value: number, next: number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) throw new RangeError('truncated varint');
    const b = buf[pos++];
    value += (b & 0x7f) * scale;
    if (b < 0x80) return [value, pos];
    scale *= 128;
  }
  throw new RangeError('varint longer than 10 bytes');
}

/** Returns the position after a field's value whose tag has been read. */
function skipValue(buf: Uint8Array, pos: number, wireType: number): number {
  switch (wireType) {
    case VARINT:
      return readVarint(buf, pos)[1];
    case I64:
      return pos + 8;
    case LEN: {
      const [len, next] = readVarint(buf, pos);
      return next + len;
    }
    case I32:
      return pos + 4;
    default:
      throw new RangeError(`unsupported wire type ${wireType}`);
  }
}

/**
 * Calls `visit(start, end)` for every occurrence of the length-delimited field `field` at the top level
 * of `buf` (start and end of its payload).
 */
function forEachLenField(buf: Uint8Array, field: number, visit: (start: number, end: number) => void): void {
  let pos = 0;
  const end = buf.length;
  while (pos < end) {
    const [tag, afterTag] = readVarint(buf, pos);
    const wireType = tag & 7;
    if (tag >>> 3 === field && wireType === LEN) {
      const [len, start] = readVarint(buf, afterTag);
      if (start + len > end) throw new RangeError('truncated field');
      visit(start, start + len);
      pos = start + len;
    } else {
      pos = skipValue(buf, afterTag, wireType);
    }
  }
}

const utf8 = new TextDecoder();

/** One top-level field of an encoded message. */
export interface WireField {
  /** Field number. */
  readonly number: number;
  /** The field as encoded: tag, and length and payload or value. */
  readonly bytes: Buffer;
  /** Payload of a length-delimited field (empty for other wire types). */
  readonly payload: Buffer;
}

/** Splits an encoded message into its top-level fields, in wire order. */
export function fieldsOf(buf: Uint8Array): WireField[] {
  const bytes = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: WireField[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const start = pos;
    const [tag, afterTag] = readVarint(bytes, pos);
    const wireType = tag & 7;
    let payload = bytes.subarray(0, 0);
    if (wireType === LEN) {
      const [len, payloadStart] = readVarint(bytes, afterTag);
      payload = bytes.subarray(payloadStart, payloadStart + len);
    }
    pos = skipValue(bytes, afterTag, wireType);
    if (pos > bytes.length) throw new RangeError('truncated field');
    out.push({ number: tag >>> 3, bytes: bytes.subarray(start, pos), payload });
  }
  return out;
}

/**
 * Reads the first string field `field` at the top level of a message (e.g. field 1, `name` of Cluster,
 * Listener and RouteConfiguration, or `cluster_name` of ClusterLoadAssignment). Returns `''` when absent.
 */
export function readStringField(buf: Uint8Array, field: number): string {
  let pos = 0;
  const end = buf.length;
  while (pos < end) {
    const [tag, afterTag] = readVarint(buf, pos);
    const wireType = tag & 7;
    if (tag >>> 3 === field && wireType === LEN) {
      const [len, start] = readVarint(buf, afterTag);
      if (Buffer.isBuffer(buf)) return buf.toString('utf8', start, start + len);
      return utf8.decode(buf.subarray(start, start + len));
    }
    pos = skipValue(buf, afterTag, wireType);
  }
  return '';
}

/** Returns the `value` (field 2) of an encoded `google.protobuf.Any`, as a view of its bytes. */
export function anyValue(any: Uint8Array): Uint8Array {
  let found: Uint8Array = new Uint8Array(0);
  forEachLenField(any, 2, (start, end) => {
    found = any.subarray(start, end);
  });
  return found;
}

/**
 * Collects every string found by following the path of length-delimited fields `path` (repeated fields at
 * any level are all followed). The last element names the string field.
 */
export function readStringsAtPath(buf: Uint8Array, path: readonly number[], out: string[] = []): string[] {
  if (path.length === 0) return out;
  const [head, ...rest] = path as [number, ...number[]];
  forEachLenField(buf, head, (start, end) => {
    const sub = buf.subarray(start, end);
    if (rest.length === 0) out.push(utf8.decode(sub));
    else readStringsAtPath(sub, rest, out);
  });
  return out;
}

/** Field path from a Listener to `route_config_name` of the RDS settings of its HTTP connection managers. */
export const LISTENER_ROUTE_NAME_PATH: readonly number[] = [
  3, // Listener.filter_chains
  3, // FilterChain.filters
  4, // Filter.typed_config (Any)
  2, // Any.value (HttpConnectionManager)
  3, // HttpConnectionManager.rds
  2, // Rds.route_config_name
];

/** Number of bytes of `value` (below 2^32) as a varint. */
function varintLength(value: number): number {
  let n = 1;
  for (let v = value >>> 7; v > 0 && n < 5; v >>>= 7) n++;
  return n;
}

/** An append-only protobuf writer of length-delimited fields, into one growing buffer. */
export class Writer {
  private buf: Buffer;
  private pos = 0;

  constructor(initialBytes = 128) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  private ensure(more: number): void {
    if (this.pos + more <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + more));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  private varint(value: number): void {
    this.ensure(5);
    let v = value >>> 0;
    for (let i = 0; i < 4 && v >= 0x80; i++) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[this.pos++] = v;
  }

  private utf8(value: string, length: number): void {
    this.ensure(length);
    this.pos += this.buf.write(value, this.pos, length, 'utf8');
  }

  /** Appends a raw, already-encoded block. */
  raw(bytes: Uint8Array): this {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
    return this;
  }

  /** Appends the tag and length of a length-delimited field whose `length` bytes of payload follow. */
  header(field: number, length: number): this {
    this.varint((field << 3) | LEN);
    this.varint(length);
    return this;
  }

  /** Appends a length-delimited field with the given payload. */
  bytes(field: number, payload: Uint8Array): this {
    this.varint((field << 3) | LEN);
    this.varint(payload.length);
    return this.raw(payload);
  }

  /** Appends a string field; an empty string is omitted unless `always`. */
  string(field: number, value: string, always = false): this {
    if (value === '' && !always) return this;
    const length = Buffer.byteLength(value, 'utf8');
    this.varint((field << 3) | LEN);
    this.varint(length);
    this.utf8(value, length);
    return this;
  }

  /** Appends one entry of a map<string,string> field (key = 1, value = 2). */
  mapEntry(field: number, key: string, value: string): this {
    const k = Buffer.byteLength(key, 'utf8');
    const v = Buffer.byteLength(value, 'utf8');
    this.varint((field << 3) | LEN);
    this.varint(2 + varintLength(k) + k + varintLength(v) + v);
    this.varint((1 << 3) | LEN);
    this.varint(k);
    this.utf8(key, k);
    this.varint((2 << 3) | LEN);
    this.varint(v);
    this.utf8(value, v);
    return this;
  }

  /** Returns the encoded message (a view of the writer's buffer; the writer must not be reused). */
  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

/** Encodes `names` as repeated string field `field`: a block to append to a request as is. */
export function encodeRepeatedString(field: number, names: readonly string[]): Buffer {
  const w = new Writer(names.length * 24 + 16);
  for (const name of names) w.string(field, name, true);
  return w.finish();
}

/** Encodes a map<string,string> field as repeated entries (key = 1, value = 2). */
export function encodeStringMap(field: number, map: ReadonlyMap<string, string>): Buffer {
  const w = new Writer(map.size * 96 + 16);
  for (const [key, value] of map) w.mapEntry(field, key, value);
  return w.finish();
}

/** Position after the varint read by the last {@link varintAt}. */
let varintEnd = 0;

/** Reads a varint at `pos` (up to 2^53) without allocating; the position after it is left in `varintEnd`. */
function varintAt(buf: Uint8Array, pos: number): number {
  let b = buf[pos];
  if (b < 0x80 && pos < buf.length) {
    varintEnd = pos + 1;
    return b;
  }
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) throw new RangeError('truncated varint');
    b = buf[pos++];
    value += (b & 0x7f) * scale;
    if (b < 0x80) {
      varintEnd = pos;
      return value;
    }
    scale *= 128;
  }
  throw new RangeError('varint longer than 10 bytes');
}

/** Where the field found by the last {@link nextLenField} starts (its tag), and its payload's start and end. */
let fieldAt = 0;
let payloadStart = 0;
let payloadEnd = 0;

/**
 * Finds the next length-delimited field in `buf[pos, end)`, skipping fields of other wire types, and returns its
 * number, or 0 at `end`. Its position is left in `fieldAt`, `payloadStart` and `payloadEnd`: continue from
 * `payloadEnd`.
 */
function nextLenField(buf: Uint8Array, pos: number, end: number): number {
  while (pos < end) {
    const tag = varintAt(buf, pos);
    const wireType = tag & 7;
    if (wireType !== LEN) {
      pos = skipValue(buf, varintEnd, wireType);
      continue;
    }
    const len = varintAt(buf, varintEnd);
    if (varintEnd + len > end) throw new RangeError('truncated field');
    fieldAt = pos;
    payloadStart = varintEnd;
    payloadEnd = varintEnd + len;
    return tag >>> 3;
  }
  return 0;
}

/** DiscoveryResponse / DeltaDiscoveryResponse fields the load generator reads. */
const RESPONSE_VERSION = 1;
const RESPONSE_RESOURCES = 2;
const RESPONSE_TYPE_URL = 4;
const RESPONSE_NONCE = 5;
const DELTA_REMOVED_RESOURCES = 6;
/** envoy.service.discovery.v3.Resource fields. */
const RESOURCE_VERSION = 1;
const RESOURCE_BODY = 2;
const RESOURCE_NAME = 3;
/** google.protobuf.Any.value. */
const ANY_VALUE = 2;

/**
 * What the load generator reads of a response envelope. The resources stay in the response's bytes:
 * `spans` holds the start and end of each one (SotW: the `Any`; delta: the `Resource`), two numbers per
 * resource. One object is reused by every call of {@link readResponse}: read it before the next call.
 */
export interface ResponseView {
  /** `version_info` (SotW) or `system_version_info` (delta). */
  version: string;
  typeUrl: string;
  nonce: string;
  /** Resources in the response. */
  resources: number;
  /** Start and end of resource i at `2i` and `2i + 1`. */
  readonly spans: number[];
  /** Delta: `removed_resources`. */
  readonly removed: string[];
  /** Start of the first resource field (its tag) and end of the last one. */
  regionStart: number;
  regionEnd: number;
  /** Whether the resource fields follow each other with nothing between them: `[regionStart, regionEnd)` holds them all and only them. */
  contiguous: boolean;
}

const view: ResponseView = {
  version: '', typeUrl: '', nonce: '', resources: 0, spans: [], removed: [], regionStart: 0, regionEnd: 0, contiguous: true,
};

/**
 * Reads the envelope of a DiscoveryResponse or DeltaDiscoveryResponse (the fields they share have the
 * same numbers) without decoding its resources: the load generator needs their names (and delta versions)
 * only, and only for some types.
 */
export function readResponse(buf: Buffer): ResponseView {
  view.version = '';
  view.typeUrl = '';
  view.nonce = '';
  view.resources = 0;
  view.spans.length = 0;
  view.removed.length = 0;
  view.regionStart = 0;
  view.regionEnd = 0;
  view.contiguous = true;
  const end = buf.length;
  for (let field = nextLenField(buf, 0, end); field !== 0; field = nextLenField(buf, payloadEnd, end)) {
    const fieldStart = fieldAt;
    const start = payloadStart;
    const stop = payloadEnd;
    switch (field) {
      case RESPONSE_RESOURCES:
        if (view.resources === 0) view.regionStart = fieldStart;
        else if (fieldStart !== view.regionEnd) view.contiguous = false;
        view.regionEnd = stop;
        view.spans.push(start, stop);
        view.resources++;
        break;
      case RESPONSE_VERSION:
        view.version = buf.toString('utf8', start, stop);
        break;
      case RESPONSE_TYPE_URL:
        view.typeUrl = buf.toString('utf8', start, stop);
        break;
      case RESPONSE_NONCE:
        view.nonce = buf.toString('utf8', start, stop);
        break;
      case DELTA_REMOVED_RESOURCES:
        view.removed.push(buf.toString('utf8', start, stop));
        break;
      default:
        break;
    }
  }
  return view;
}

/** Start and end of the first length-delimited field `field` in `buf[start, end)`, or `undefined`. */
export function findLenField(buf: Buffer, start: number, end: number, field: number): [start: number, end: number] | undefined {
  for (let found = nextLenField(buf, start, end); found !== 0; found = nextLenField(buf, payloadEnd, end)) {
    if (found === field) return [payloadStart, payloadEnd];
  }
  return undefined;
}

/** The `value` of the `Any` at `buf[start, end)` as a view (SotW resources). */
export function anyValueAt(buf: Buffer, start: number, end: number): Buffer {
  const value = findLenField(buf, start, end, ANY_VALUE);
  return value === undefined ? buf.subarray(0, 0) : buf.subarray(value[0], value[1]);
}

/** Field 1 (`name`, or `cluster_name` of ClusterLoadAssignment) of the resource in the `Any` at `buf[start, end)`. */
export function anyResourceName(buf: Buffer, start: number, end: number): string {
  const value = findLenField(buf, start, end, ANY_VALUE);
  if (value === undefined) return '';
  const name = findLenField(buf, value[0], value[1], 1);
  return name === undefined ? '' : buf.toString('utf8', name[0], name[1]);
}

/** A delta `Resource` at `buf[start, end)`: its name, version, and the span of its `Any` (end 0 when absent). */
export interface DeltaResourceView {
  name: string;
  version: string;
  bodyStart: number;
  bodyEnd: number;
}

const deltaResource: DeltaResourceView = { name: '', version: '', bodyStart: 0, bodyEnd: 0 };

/** Reads a delta `Resource` (one reused object: read it before the next call). */
export function readDeltaResource(buf: Buffer, start: number, end: number): DeltaResourceView {
  deltaResource.name = '';
  deltaResource.version = '';
  deltaResource.bodyStart = 0;
  deltaResource.bodyEnd = 0;
  for (let field = nextLenField(buf, start, end); field !== 0; field = nextLenField(buf, payloadEnd, end)) {
    const payload = payloadStart;
    const stop = payloadEnd;
    if (field === RESOURCE_NAME) deltaResource.name = buf.toString('utf8', payload, stop);
    else if (field === RESOURCE_VERSION) deltaResource.version = buf.toString('utf8', payload, stop);
    else if (field === RESOURCE_BODY) {
      deltaResource.bodyStart = payload;
      deltaResource.bodyEnd = stop;
    }
  }
  return deltaResource;
}
