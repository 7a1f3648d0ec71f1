// From the store's contents to the snapshot a replica serves: a pure function of the keys and values under the
// prefix, so that every replica that has read the same revision serves the same resources under the same versions.
//
// Keys: `<prefix><folder>/<name>`, folder one of `clusters`, `endpoints`, `listeners`, `routes`, `secrets`; the
// value is the resource as ProtoJSON (proto or lowerCamel field names). A value that is not valid is reported
// (key and error) and left out; nothing else is left out because of it.
import { EncodedResource, Snapshot, SnapshotConsistencyError } from 'xds-control-plane/cache';
import { TypeUrl, contentHash, getResourceName, typeNameOf, type ResourceTypeUrl } from 'xds-control-plane/resource';

/** The folders under the prefix and the resource type each holds. */
export const FOLDERS = {
  clusters: TypeUrl.Cluster,
  endpoints: TypeUrl.Endpoint,
  listeners: TypeUrl.Listener,
  routes: TypeUrl.Route,
  secrets: TypeUrl.Secret,
} as const satisfies Record<string, ResourceTypeUrl>;

/** A folder name: `clusters`, `endpoints`, `listeners`, `routes` or `secrets`. */
export type Folder = keyof typeof FOLDERS;

const SERVED_TYPES: readonly ResourceTypeUrl[] = Object.values(FOLDERS);

/** A key whose value is not served, and why. */
export interface Problem {
  /** The full etcd key. */
  readonly key: string;
  /** What is wrong with it. */
  readonly error: string;
}

/** What a replica serves for one state of the store. */
export interface BuiltConfig {
  /** The snapshot: every served type, each at its content version. */
  readonly snapshot: Snapshot;
  /** A digest of every type's version: equal on replicas that serve equal content. */
  readonly version: string;
  /** The version of each served type, derived from its content only. */
  readonly versions: Readonly<Record<ResourceTypeUrl, string>>;
  /** Keys left out, with the reason, sorted by key. */
  readonly problems: readonly Problem[];
  /** References to resources that are not in the store (served anyway; Envoy waits for them). */
  readonly dangling: readonly string[];
}

/** Longest piece of a stored value quoted in an error message, and longest error message. */
const QUOTE_LIMIT = 120;
const ERROR_LIMIT = 400;

/** `Cluster`, `ClusterLoadAssignment`, …: the message name, for messages. */
function kind(typeUrl: ResourceTypeUrl): string {
  return typeNameOf(typeUrl).split('.').pop()!;
}

function quote(text: string): string {
  return JSON.stringify(text.length > QUOTE_LIMIT ? `${text.slice(0, QUOTE_LIMIT)}…` : text);
}

/**
 * Reads one key and value: the resource encoded, or the reason it cannot be served.
 *
 * @param prefix - the store prefix the key starts with
 * @param key - the full key
 * @param value - its value, as stored
 */
export function readEntry(prefix: string, key: string, value: string): EncodedResource | Problem {
  const rest = key.slice(prefix.length);
  const slash = rest.indexOf('/');
  const folder = slash < 0 ? rest : rest.slice(0, slash);
  const name = slash < 0 ? '' : rest.slice(slash + 1);
  if (!Object.hasOwn(FOLDERS, folder)) {
    return { key, error: `${quote(folder)} is not a folder of resources; use ${Object.keys(FOLDERS).join(', ')}` };
  }
  if (name === '') return { key, error: `the key names no resource: use ${prefix}${folder}/<name>` };
  const typeUrl = FOLDERS[folder as Folder];
  let resource: unknown;
  try {
    resource = JSON.parse(value);
  } catch (error) {
    return { key, error: `the value is not JSON (${(error as Error).message}): ${quote(value)}` };
  }
  if (resource === null || typeof resource !== 'object' || Array.isArray(resource)) {
    return { key, error: `the value must be a ${kind(typeUrl)} as a JSON object, got ${quote(value)}` };
  }
  const own = getResourceName(typeUrl, resource);
  if (own !== name) {
    const field = typeUrl === TypeUrl.Endpoint ? 'cluster_name' : 'name';
    return { key, error: `the key names ${quote(name)} but the resource's ${field} is ${quote(own)}; they must be equal` };
  }
  try {
    return EncodedResource.encode(typeUrl, resource);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { key, error: message.length > ERROR_LIMIT ? `${message.slice(0, ERROR_LIMIT)}…` : message };
  }
}

/**
 * The version of a type: a digest of its resources' names and content hashes, in name order. Equal content gives
 * the same version in every process, whatever order the keys were read in.
 *
 * @param resources - the type's encoded resources
 */
export function contentVersion(resources: Iterable<EncodedResource>): string {
  const lines = [...resources].map((r) => `${r.name}\u0000${r.hash}\n`).sort();
  return contentHash(Buffer.from(lines.join(''), 'utf8'));
}

/**
 * Builds what a replica serves from the store's entries under `prefix`.
 *
 * @param prefix - the store prefix
 * @param entries - every key under the prefix with its value
 */
export function buildConfig(prefix: string, entries: Iterable<readonly [string, string]>): BuiltConfig {
  const byType = new Map<ResourceTypeUrl, EncodedResource[]>(SERVED_TYPES.map((t) => [t, []]));
  const problems: Problem[] = [];
  for (const [key, value] of entries) {
    const read = readEntry(prefix, key, value);
    if (read instanceof EncodedResource) byType.get(read.typeUrl)!.push(read);
    else problems.push(read);
  }
  problems.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

  const versions = {} as Record<ResourceTypeUrl, string>;
  const resources: Partial<Record<ResourceTypeUrl, EncodedResource[]>> = {};
  for (const [typeUrl, list] of byType) {
    list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    versions[typeUrl] = contentVersion(list);
    resources[typeUrl] = list;
  }
  // The snapshot's own version digests the types' versions: it is what logs show, and the version of the types no
  // folder holds (empty, but answered, so that a client asking for one is not left waiting).
  const version = contentHash(Buffer.from(SERVED_TYPES.map((t) => versions[t]).join('/'), 'utf8'));
  const snapshot = new Snapshot(version, resources, { versions });

  let dangling: string[] = [];
  try {
    snapshot.consistent();
  } catch (error) {
    if (!(error instanceof SnapshotConsistencyError)) throw error;
    dangling = error.missing.map((m) => `${kind(m.typeUrl)} ${quote(m.name)} (named by ${kind(m.referencedBy.typeUrl)} ${quote(m.referencedBy.name)})`);
  }
  return { snapshot, version, versions, problems, dangling };
}
