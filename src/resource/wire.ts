/**
 * Hand-assembled protobuf for the hot path: discovery responses built from resource bytes that were encoded once,
 * without decoding or re-encoding them. Field numbers are those of `envoy.service.discovery.v3` and
 * `google.protobuf.Any`; a test checks every function here against protobuf.js decoding.
 */

const WIRE_VARINT = 0;
const WIRE_LEN = 2;

/** Bytes of `value` as a varint (non-negative, up to 2^53). */
export function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

/** Writes `value` as a varint at `offset` of `buf`; returns the offset after it. */
export function writeVarint(buf: Uint8Array, offset: number, value: number): number {
  while (value >= 0x80) {
    buf[offset++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 128);
  }
  buf[offset++] = value;
  return offset;
}

function tag(field: number, wireType: number): number {
  return field * 8 + wireType;
}

/** A length-delimited field: tag, length, payload. */
export function lengthDelimited(field: number, payload: Uint8Array): Buffer {
  const t = tag(field, WIRE_LEN);
  const size = varintSize(t) + varintSize(payload.length) + payload.length;
  const out = Buffer.allocUnsafe(size);
  let offset = writeVarint(out, 0, t);
  offset = writeVarint(out, offset, payload.length);
  out.set(payload, offset);
  return out;
}

/** A string field (omitted when empty, as proto3 does). */
export function stringField(field: number, value: string): Buffer {
  if (value === '') return EMPTY;
  return lengthDelimited(field, Buffer.from(value, 'utf8'));
}

/** A varint field (omitted when zero). */
export function varintField(field: number, value: number): Buffer {
  if (value === 0) return EMPTY;
  const t = tag(field, WIRE_VARINT);
  const out = Buffer.allocUnsafe(varintSize(t) + varintSize(value));
  writeVarint(out, writeVarint(out, 0, t), value);
  return out;
}

const EMPTY = Buffer.alloc(0);

/** `google.protobuf.Any { type_url = 1; value = 2 }` around already-encoded message bytes. */
export function encodeAny(typeUrl: string, value: Uint8Array): Buffer {
  return Buffer.concat([stringField(1, typeUrl), lengthDelimited(2, value)]);
}

/** `google.protobuf.Duration` from milliseconds. */
export function encodeDuration(ms: number): Buffer {
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.round((ms - seconds * 1000) * 1e6);
  return Buffer.concat([varintField(1, seconds), varintField(2, nanos)]);
}

/**
 * The part of a `DiscoveryResponse` that every stream receiving the same response shares: `version_info` (1),
 * `resources` (2, each given as encoded Any bytes), `type_url` (4), and `control_plane` (6) when given. The
 * per-stream `nonce` (5) is appended with {@link withNonce}; field order does not matter in protobuf.
 */
export function encodeDiscoveryResponseBody(versionInfo: string, anys: readonly Uint8Array[], typeUrl: string, controlPlane?: string): Buffer {
  const parts: Uint8Array[] = [stringField(1, versionInfo)];
  for (const any of anys) parts.push(lengthDelimited(2, any));
  parts.push(stringField(4, typeUrl));
  if (controlPlane) parts.push(lengthDelimited(6, stringField(1, controlPlane)));
  return Buffer.concat(parts);
}

/** A shared response body followed by its `nonce` field (5 in both DiscoveryResponse and DeltaDiscoveryResponse). */
export function withNonce(body: Buffer, nonce: string): Buffer {
  return Buffer.concat([body, stringField(5, nonce)]);
}

/**
 * `envoy.service.discovery.v3.Resource` for delta and TTL responses: `version` (1), `resource` (2, Any bytes,
 * omitted for a TTL heartbeat), `name` (3), `ttl` (6).
 */
export function encodeDeltaResource(name: string, version: string, any: Uint8Array | undefined, ttlMs?: number): Buffer {
  const parts: Uint8Array[] = [stringField(1, version)];
  if (any !== undefined) parts.push(lengthDelimited(2, any));
  parts.push(stringField(3, name));
  if (ttlMs !== undefined) parts.push(lengthDelimited(6, encodeDuration(ttlMs)));
  return Buffer.concat(parts);
}

/**
 * A delta `Resource` that answers an on-demand name the server cannot resolve (VHDS): `name` (3) and `aliases`
 * (4) hold the name, and there is no `resource` body.
 */
export function encodeUnresolvedAlias(name: string): Buffer {
  return Buffer.concat([stringField(3, name), lengthDelimited(4, Buffer.from(name, 'utf8'))]);
}

/**
 * The shared part of a `DeltaDiscoveryResponse`: `system_version_info` (1), `resources` (2, encoded Resource
 * messages), `type_url` (4), `removed_resources` (6), `control_plane` (7) when given. Append the nonce with
 * {@link withNonce}.
 */
export function encodeDeltaDiscoveryResponseBody(
  systemVersionInfo: string,
  resources: readonly Uint8Array[],
  typeUrl: string,
  removed: readonly string[],
  controlPlane?: string,
): Buffer {
  const parts: Uint8Array[] = [stringField(1, systemVersionInfo)];
  for (const resource of resources) parts.push(lengthDelimited(2, resource));
  parts.push(stringField(4, typeUrl));
  for (const name of removed) parts.push(lengthDelimited(6, Buffer.from(name, 'utf8')));
  if (controlPlane) parts.push(lengthDelimited(7, stringField(1, controlPlane)));
  return Buffer.concat(parts);
}
