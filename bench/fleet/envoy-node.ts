/**
 * The `Node` a simulated Envoy sends: real Envoy 1.40's node (`fixtures/envoy-1.40/node.bin`, captured by
 * `capture-envoy.ts`: about 61 KB, 516 extensions) with the simulated Envoy's own id.
 *
 * Envoy writes the node anew for every request, and the metadata map of its `user_agent_build_version`
 * (a `google.protobuf.Struct`, four entries) comes out in a hash order that changes from one request to the
 * next: the capture saw up to 10 different encodings of one Envoy's node over 20 requests, differing only
 * there. So equal nodes are not equal bytes; {@link EnvoyNode.write} picks one of the orders at random for each
 * request.
 *
 * @packageDocumentation
 */
import { readFileSync } from 'node:fs';
import { Writer, fieldsOf, type WireField } from './wire.js';

/** Node fields (envoy.config.core.v3.Node). */
const NODE_ID = 1;
const NODE_CLUSTER = 2;
const NODE_BUILD_VERSION = 8;
/** BuildVersion.metadata (Struct), Struct.fields (map entries). */
const BUILD_VERSION_METADATA = 2;
const STRUCT_FIELDS = 1;

/** Path of the captured node. */
export const ENVOY_NODE_FIXTURE = new URL('./fixtures/envoy-1.40/node.bin', import.meta.url);

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [items.slice()];
  const out: T[][] = [];
  items.forEach((item, i) => {
    for (const rest of permutations([...items.slice(0, i), ...items.slice(i + 1)])) out.push([item, ...rest]);
  });
  return out;
}

function concat(fields: readonly WireField[]): Buffer {
  return Buffer.concat(fields.map((f) => f.bytes));
}

/** The encodings of the `user_agent_build_version` field, one per order of its metadata entries. */
function buildVersionVariants(field: WireField | undefined): Buffer[] {
  if (field === undefined) return [Buffer.alloc(0)];
  const inner = fieldsOf(field.payload);
  const metadata = inner.find((f) => f.number === BUILD_VERSION_METADATA);
  if (metadata === undefined) return [field.bytes];
  const entries = fieldsOf(metadata.payload).filter((f) => f.number === STRUCT_FIELDS);
  const others = fieldsOf(metadata.payload).filter((f) => f.number !== STRUCT_FIELDS);
  return permutations(entries).map((order) => {
    const struct = Buffer.concat([...order.map((e) => e.bytes), ...others.map((o) => o.bytes)]);
    const version = new Writer();
    for (const f of inner) {
      if (f.number === BUILD_VERSION_METADATA) version.bytes(BUILD_VERSION_METADATA, struct);
      else version.raw(f.bytes);
    }
    return Buffer.from(new Writer().bytes(NODE_BUILD_VERSION, version.finish()).finish());
  });
}

/**
 * Real Envoy's node, ready to be written into requests with any node id. Fields keep Envoy's order (field
 * number order): id, then the rest before `user_agent_build_version`, that field (one of its orders), then
 * the rest (the extensions).
 */
export class EnvoyNode {
  private readonly head: Buffer;
  private readonly variants: Buffer[];
  private readonly tail: Buffer;

  /** @param bytes - an encoded Node (default: the captured one); its id is replaced, its cluster kept. */
  constructor(bytes: Uint8Array = readFileSync(ENVOY_NODE_FIXTURE)) {
    const fields = fieldsOf(bytes).filter((f) => f.number !== NODE_ID);
    this.head = concat(fields.filter((f) => f.number < NODE_BUILD_VERSION));
    this.tail = concat(fields.filter((f) => f.number > NODE_BUILD_VERSION));
    this.variants = buildVersionVariants(fields.find((f) => f.number === NODE_BUILD_VERSION));
  }

  /** Size of the node with an id of `idBytes` bytes (about 61 KB). */
  size(idBytes: number): number {
    return 2 + idBytes + this.head.length + this.variants[0].length + this.tail.length;
  }

  /** Writes the node with id `id` as field `field` of a request. */
  write(w: Writer, field: number, id: string): void {
    const variant = this.variants[Math.floor(Math.random() * this.variants.length)];
    const idBytes = Buffer.byteLength(id, 'utf8');
    w.header(field, 1 + varintSize(idBytes) + idBytes + this.head.length + variant.length + this.tail.length);
    w.string(NODE_ID, id, true);
    w.raw(this.head).raw(variant).raw(this.tail);
  }
}

function varintSize(value: number): number {
  let n = 1;
  for (let v = value >>> 7; v > 0; v >>>= 7) n++;
  return n;
}

/** A small node (id and cluster only): the `--node small` shortcut. */
export function writeSmallNode(w: Writer, field: number, id: string): void {
  w.bytes(field, new Writer().string(NODE_ID, id).string(NODE_CLUSTER, 'bench-fleet').finish());
}
