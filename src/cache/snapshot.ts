/**
 * A snapshot: a consistent set of resources of every type, with a version per type, as go-control-plane's
 * `cache.Snapshot`. Every resource is validated against its Envoy message type and encoded when the snapshot is
 * built, once: the snapshot keeps each resource's bytes and content hash, and no stream ever encodes it again.
 */
import { getResourceReferences } from '../resource/references.js';
import { getResourceName } from '../resource/resource-name.js';
import { RESOURCE_TYPE_URLS, TYPE_SHORT_NAME, assertResourceTypeUrl, typeNameOf, type ResourceTypeMap, type ResourceTypeUrl } from '../resource/type-url.js';
import { Code, XdsError } from '../resource/xds-error.js';
import { EncodedResource } from './encoded-resource.js';
import { nextTurn, TimeSlice } from './time-slice.js';
import { TypeResources } from './type-resources.js';

/**
 * A resource with options that the resource itself cannot carry: a time to live, or a name (LEDS `LbEndpoint`s
 * have no name field). Made by {@link withTtl} and {@link withName}.
 */
export class ResourceEntry<T = unknown> {
  /** The resource, in ProtoJSON shape, or already encoded. */
  readonly resource: T | EncodedResource;
  /** The name to serve it under; absent means the resource's own name. */
  readonly name: string | undefined;
  /** Time to live in milliseconds: the client drops the resource unless it is refreshed (heartbeats) in time. */
  readonly ttlMs: number | undefined;

  /** Prefer {@link withTtl} and {@link withName}, which read better. */
  constructor(resource: T | EncodedResource, options: { name?: string | undefined; ttlMs?: number | undefined } = {}) {
    this.resource = resource;
    this.name = options.name;
    this.ttlMs = options.ttlMs;
  }
}

/**
 * Gives a resource a time to live: the client forgets it unless a response or a heartbeat refreshes it in time.
 * A cache created with `heartbeatIntervalMs` sends such heartbeats. SotW responses carry the resource wrapped in
 * an `envoy.service.discovery.v3.Resource`, as Envoy expects for TTLs.
 *
 * @param resource - the resource, an encoded resource, or an entry from {@link withName}
 * @param ttlMs - the time to live in milliseconds (positive)
 */
export function withTtl<T>(resource: T | EncodedResource | ResourceEntry<T>, ttlMs: number): ResourceEntry<T> {
  if (resource instanceof ResourceEntry) return new ResourceEntry<T>(resource.resource, { name: resource.name, ttlMs });
  return new ResourceEntry<T>(resource, { ttlMs });
}

/**
 * Serves a resource under an explicit name. Needed for LEDS `LbEndpoint`s, which have no name field; for other
 * types the name must equal the resource's own name.
 *
 * @param name - the resource name clients subscribe to
 * @param resource - the resource, an encoded resource, or an entry from {@link withTtl}
 */
export function withName<T>(name: string, resource: T | EncodedResource | ResourceEntry<T>): ResourceEntry<T> {
  if (resource instanceof ResourceEntry) return new ResourceEntry<T>(resource.resource, { name, ttlMs: resource.ttlMs });
  return new ResourceEntry<T>(resource, { name });
}

/** One item of a snapshot: a resource in ProtoJSON shape, an already encoded resource, or an entry with options. */
export type SnapshotItem<T> = T | EncodedResource | ResourceEntry<T>;

/** The resources of a snapshot by type URL: `{ [TypeUrl.Cluster]: [cluster], [TypeUrl.Endpoint]: [cla] }`. */
export type SnapshotResources = { readonly [K in ResourceTypeUrl]?: readonly SnapshotItem<ResourceTypeMap[K]>[] };

/** Resources and version of one type, for {@link Snapshot.withVersions}. */
export interface VersionedResources<T> {
  /** The version clients see for this type (`version_info`). */
  version: string;
  /** The resources of this type. */
  resources: readonly SnapshotItem<T>[];
}

/** Options of the {@link Snapshot} constructor and of {@link Snapshot.create}. */
export interface SnapshotOptions {
  /** Versions of particular types, overriding the snapshot's version for them. */
  versions?: { readonly [K in ResourceTypeUrl]?: string };
}

/** A reference from one resource to another that the snapshot lacks, as listed by {@link SnapshotConsistencyError}. */
export interface MissingReference {
  /** Type of the missing resource. */
  typeUrl: ResourceTypeUrl;
  /** Name of the missing resource. */
  name: string;
  /** The resource that refers to it. */
  referencedBy: { typeUrl: ResourceTypeUrl; name: string };
}

/** Thrown by {@link Snapshot.consistent}: the snapshot refers to resources it does not contain. */
export class SnapshotConsistencyError extends XdsError {
  /** Every missing reference, with the resource that makes it. */
  readonly missing: readonly MissingReference[];

  /** @param missing - the missing references (at least one) */
  constructor(version: string, missing: readonly MissingReference[]) {
    const list = missing.map((m) => `${kind(m.referencedBy.typeUrl)} "${m.referencedBy.name}" needs ${kind(m.typeUrl)} "${m.name}"`);
    super(Code.FAILED_PRECONDITION, `snapshot "${version}" is not consistent: ${list.join('; ')}; add the missing resources or remove the references`);
    this.name = 'SnapshotConsistencyError';
    this.missing = missing;
  }
}

function kind(typeUrl: ResourceTypeUrl): string {
  const name = typeNameOf(typeUrl);
  return name.slice(name.lastIndexOf('.') + 1);
}

function encodeItem(typeUrl: ResourceTypeUrl, item: unknown): EncodedResource {
  let resource = item;
  let name: string | undefined;
  let ttlMs: number | undefined;
  if (item instanceof ResourceEntry) {
    resource = item.resource;
    name = item.name;
    ttlMs = item.ttlMs;
    if (ttlMs !== undefined && !(Number.isFinite(ttlMs) && ttlMs > 0)) {
      throw new XdsError(Code.INVALID_ARGUMENT, `the TTL of ${kind(typeUrl)} "${name ?? ''}" must be a positive number of milliseconds, got ${ttlMs}`);
    }
  }
  let encoded: EncodedResource;
  if (resource instanceof EncodedResource) {
    if (resource.typeUrl !== typeUrl) {
      throw new XdsError(Code.INVALID_ARGUMENT, `${kind(resource.typeUrl)} "${resource.name}" was given among the ${TYPE_SHORT_NAME[typeUrl]} of a snapshot`);
    }
    encoded = resource.with({ name, ttlMs: ttlMs ?? resource.ttlMs });
  } else {
    encoded = EncodedResource.encode(typeUrl, resource, { name, ttlMs });
  }
  if (encoded.name === '') {
    throw new XdsError(Code.INVALID_ARGUMENT, `a ${kind(typeUrl)} in the snapshot has no name: set its name field, or give one with withName(name, resource)`);
  }
  return encoded;
}

function checkNameMatches(typeUrl: ResourceTypeUrl, item: unknown, encoded: EncodedResource): void {
  // A name given with withName must agree with the name inside the resource, or SotW clients (which read the
  // name from the resource) and delta clients (which read it from the wrapper) would see different names.
  if (!(item instanceof ResourceEntry) || item.name === undefined) return;
  const inner = item.resource instanceof EncodedResource ? item.resource.name : getResourceName(typeUrl, item.resource);
  if (inner !== '' && inner !== encoded.name) {
    throw new XdsError(Code.INVALID_ARGUMENT, `${kind(typeUrl)} "${inner}" was given the different name "${encoded.name}"; a name given with withName must match the resource's own name`);
  }
}

/** Builds the types of a snapshot, yielding after each resource so that {@link Snapshot.create} can pause. */
function* buildTypes(
  entries: readonly (readonly [ResourceTypeUrl, string, readonly unknown[]])[],
): Generator<void, Map<ResourceTypeUrl, TypeResources>, void> {
  const types = new Map<ResourceTypeUrl, TypeResources>();
  for (const [typeUrl, version, items] of entries) {
    const byName = new Map<string, EncodedResource>();
    for (const item of items) {
      const encoded = encodeItem(typeUrl, item);
      checkNameMatches(typeUrl, item, encoded);
      if (byName.has(encoded.name)) {
        throw new XdsError(Code.INVALID_ARGUMENT, `the snapshot has two ${TYPE_SHORT_NAME[typeUrl]} named "${encoded.name}"; names must be unique within a type`);
      }
      byName.set(encoded.name, encoded);
      yield;
    }
    types.set(typeUrl, new TypeResources(typeUrl, version, byName));
  }
  return types;
}

function checkVersion(version: unknown, what: string): string {
  if (typeof version !== 'string' || version === '') {
    // '' is what a client sends before it has any version: a snapshot at '' could never be told apart from none.
    throw new XdsError(Code.INVALID_ARGUMENT, `${what} must be a non-empty string, got ${JSON.stringify(version)}`);
  }
  return version;
}

function plan(version: string, resources: SnapshotResources, options: SnapshotOptions): [ResourceTypeUrl, string, readonly unknown[]][] {
  checkVersion(version, 'a snapshot version');
  for (const typeUrl of Object.keys(resources)) assertResourceTypeUrl(typeUrl);
  for (const typeUrl of Object.keys(options.versions ?? {})) assertResourceTypeUrl(typeUrl);
  // Every type is present: a type not given is empty at the snapshot's version, so that clients asking for it
  // (Envoy asks for listeners and clusters at start) get an answer instead of waiting.
  return RESOURCE_TYPE_URLS.map((typeUrl) => {
    const typeVersion = options.versions?.[typeUrl];
    return [typeUrl, typeVersion === undefined ? version : checkVersion(typeVersion, `the version of ${TYPE_SHORT_NAME[typeUrl]}`), resources[typeUrl] ?? []];
  });
}

/**
 * Types already built by a static factory, for the constructor call it makes next. Module-private: users cannot
 * reach it, so the public constructor's signature stays the one users call.
 */
let prebuilt: Map<ResourceTypeUrl, TypeResources> | undefined;

/**
 * An immutable set of resources of every type, each type with its version. Set one per cache key with
 * `SnapshotCache.setSnapshot`; the same snapshot can serve any number of keys and streams.
 *
 * ```ts
 * const snapshot = new Snapshot('1', { [TypeUrl.Cluster]: [cluster], [TypeUrl.Endpoint]: [cla] });
 * snapshot.consistent();
 * ```
 *
 * Building a snapshot validates and encodes every resource (a `ResourceError` names the resource and field that
 * does not fit). That is the one encode each resource gets. To reuse resources across snapshots without encoding
 * them again, pass `EncodedResource`s. For large snapshots, {@link Snapshot.create} does the same work in slices
 * that leave the event loop free.
 */
export class Snapshot {
  /**
   * The version given to the constructor. For {@link Snapshot.withVersions}, the types' versions joined by `/`,
   * in ADS order (only for display).
   */
  readonly version: string;
  readonly #types: ReadonlyMap<ResourceTypeUrl, TypeResources>;

  /**
   * @param version - the version of every type (`version_info` in responses); must not be empty
   * @param resources - the resources by type URL; types not given are empty at `version`
   * @param options - per-type versions
   */
  constructor(version: string, resources: SnapshotResources, options: SnapshotOptions = {}) {
    this.version = version;
    if (prebuilt !== undefined) {
      this.#types = prebuilt;
      prebuilt = undefined;
      return;
    }
    const generator = buildTypes(plan(version, resources, options));
    let step = generator.next();
    while (!step.done) step = generator.next();
    this.#types = step.value;
  }

  /**
   * Like the constructor, but encodes in slices of about `sliceMs` milliseconds with a pause between them, so that
   * a snapshot of tens of thousands of resources does not hold the event loop (and every stream) for the whole
   * encode.
   */
  static async create(version: string, resources: SnapshotResources, options: SnapshotOptions & { sliceMs?: number } = {}): Promise<Snapshot> {
    const generator = buildTypes(plan(version, resources, options));
    const slice = new TimeSlice(options.sliceMs ?? 5);
    let count = 0;
    let step = generator.next();
    while (!step.done) {
      // Asked every 16 resources: reading the clock costs more than encoding a small resource.
      if ((++count & 15) === 0 && slice.spent()) await nextTurn();
      step = generator.next();
    }
    return Snapshot.#fromTypes(version, step.value);
  }

  /**
   * A snapshot whose types have their own versions. Only the types listed are in it: a client asking for another
   * type waits until a snapshot has it (useful when another cache serves those types).
   *
   * ```ts
   * Snapshot.withVersions({ [TypeUrl.Cluster]: { version: 'c7', resources: [cluster] } });
   * ```
   */
  static withVersions(types: { readonly [K in ResourceTypeUrl]?: VersionedResources<ResourceTypeMap[K]> }): Snapshot {
    const entries: [ResourceTypeUrl, string, readonly unknown[]][] = [];
    for (const typeUrl of Object.keys(types)) assertResourceTypeUrl(typeUrl);
    for (const typeUrl of RESOURCE_TYPE_URLS) {
      const entry = types[typeUrl] as VersionedResources<unknown> | undefined;
      if (entry !== undefined) entries.push([typeUrl, checkVersion(entry.version, `the version of ${TYPE_SHORT_NAME[typeUrl]}`), entry.resources]);
    }
    const generator = buildTypes(entries);
    let step = generator.next();
    while (!step.done) step = generator.next();
    return Snapshot.#fromTypes(entries.map(([, version]) => version).join('/'), step.value);
  }

  /**
   * A snapshot of resources encoded elsewhere (the worker mode rebuilds the primary's snapshots from their
   * bytes): no validation and no encode. Internal to the library.
   *
   * @param types - per type, in any order: its version and its resources
   */
  static fromEncoded(version: string, types: readonly (readonly [ResourceTypeUrl, string, readonly EncodedResource[]])[]): Snapshot {
    const built = new Map<ResourceTypeUrl, TypeResources>();
    for (const [typeUrl, typeVersion, resources] of types) {
      built.set(typeUrl, new TypeResources(typeUrl, typeVersion, new Map(resources.map((r) => [r.name, r]))));
    }
    return Snapshot.#fromTypes(version, built);
  }

  static #fromTypes(version: string, types: Map<ResourceTypeUrl, TypeResources>): Snapshot {
    prebuilt = types;
    return new Snapshot(version, {});
  }

  /** The version of a type ('' if the type is not in the snapshot). */
  getVersion(typeUrl: ResourceTypeUrl): string {
    return this.#types.get(typeUrl)?.version ?? '';
  }

  /** The encoded resources of a type by name (empty if the type is not in the snapshot). */
  getResources(typeUrl: ResourceTypeUrl): ReadonlyMap<string, EncodedResource> {
    return this.#types.get(typeUrl)?.items ?? new Map();
  }

  /** True if the snapshot has this type (always, unless built with {@link Snapshot.withVersions}). */
  has(typeUrl: ResourceTypeUrl): boolean {
    return this.#types.has(typeUrl);
  }

  /** The types in the snapshot, in ADS order. */
  typeUrls(): ResourceTypeUrl[] {
    return RESOURCE_TYPE_URLS.filter((t) => this.#types.has(t));
  }

  /** @internal The resources of a type with the cache's derived data. */
  typeResources(typeUrl: ResourceTypeUrl): TypeResources | undefined {
    return this.#types.get(typeUrl);
  }

  /**
   * Checks that every resource the snapshot refers to is in it: the ClusterLoadAssignment of each EDS cluster,
   * the RouteConfiguration of each listener (RDS) and of each scoped route. Throws a
   * {@link SnapshotConsistencyError} naming each missing resource and who refers to it.
   *
   * Unlike go-control-plane's `Consistent`, resources that nothing refers to are not an error: they are
   * harmless, and proxyless gRPC clients ask for names no listener mentions.
   */
  consistent(): void {
    const missing: MissingReference[] = [];
    for (const typeUrl of this.typeUrls()) {
      for (const resource of this.#types.get(typeUrl)!.all) {
        const references = getResourceReferences({ [typeUrl]: [resource.resource] });
        for (const [refType, names] of references) {
          const have = this.#types.get(refType)?.items;
          for (const name of names) {
            if (have?.has(name) !== true) missing.push({ typeUrl: refType, name, referencedBy: { typeUrl, name: resource.name } });
          }
        }
      }
    }
    if (missing.length > 0) throw new SnapshotConsistencyError(this.version, missing);
  }
}
