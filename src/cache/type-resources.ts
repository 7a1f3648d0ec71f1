/**
 * The resources of one type at one version, with what the caches derive from them once and share among the
 * streams they answer: the list of all resources, a digest of their content, the names that changed since
 * other resources, and the responses already built.
 *
 * The contract: a `TypeResources` owns its map of items. Whoever builds one hands over a map it will never
 * change again (a snapshot builds a fresh map per type; the linear cache copies its collection before changing
 * it once a view of it exists). Everything derived is then valid for the object's whole life.
 *
 * What it keeps is keyed only on what the server owns: the wildcard and every-resource responses (one each),
 * and the comparisons with earlier resources. Responses for subsets that clients choose are shared only while a
 * stream holds them (see {@link WeakResponseMemo}), and delta responses, which depend on what each client
 * holds, are not kept at all beyond the every-resource one.
 */
import { createHash } from 'node:crypto';
import { SOTW_FULL_STATE_TYPES, type ResourceTypeUrl } from '../resource/type-url.js';
import type { DeltaResponse, Response } from './config-watcher.js';
import type { EncodedResource } from './encoded-resource.js';
import { createDeltaResponse, createDeltaResponseWithState, createResponse } from './response.js';
import { WeakResponseMemo } from './response-memo.js';

/** Key characters of subset responses one `TypeResources` may hold while streams hold those responses. */
const MAX_SUBSET_KEY_CHARS = 1 << 20;

/** The resources of one type at one version; see the module comment for the contract. Internal to the caches. */
export class TypeResources {
  /** The resource type. */
  readonly typeUrl: ResourceTypeUrl;
  /** The version clients see. */
  readonly version: string;
  /** The resources by name, in the order given. Never changed (see the module comment). */
  readonly items: ReadonlyMap<string, EncodedResource>;
  #all: readonly EncodedResource[] | undefined;
  #withTtl: readonly EncodedResource[] | undefined;
  #digest: string | undefined;
  #wildcard: Response | undefined;
  #wildcardHeartbeat: Response | undefined;
  #everyDelta: DeltaResponse | undefined;
  // Responses for subsets of the names, shared while streams hold them.
  readonly #subsets = new WeakResponseMemo<Response>(MAX_SUBSET_KEY_CHARS);
  // changedSince's answers by the earlier resources they compare with (usually one: the previous snapshot's).
  readonly #changed = new WeakMap<TypeResources, readonly string[]>();

  /**
   * @param items - the resources by name; from now on owned by this object: the caller must not change it
   */
  constructor(typeUrl: ResourceTypeUrl, version: string, items: ReadonlyMap<string, EncodedResource>) {
    this.typeUrl = typeUrl;
    this.version = version;
    this.items = items;
  }

  /** Every resource, in the order given. */
  get all(): readonly EncodedResource[] {
    return (this.#all ??= [...this.items.values()]);
  }

  /** The resources that have a TTL. */
  get withTtl(): readonly EncodedResource[] {
    return (this.#withTtl ??= this.all.filter((r) => r.ttlMs !== undefined));
  }

  /**
   * A digest of the names and content hashes: equal digests mean equal content, whatever the version strings.
   * Lets the cache notice a version string reused for different content.
   */
  get digest(): string {
    if (this.#digest === undefined) {
      const hash = createHash('sha256');
      for (const name of [...this.items.keys()].sort()) hash.update(name).update('\u0000').update(this.items.get(name)!.hash).update('\n');
      this.#digest = hash.digest('base64url');
    }
    return this.#digest;
  }

  /** True if `digest` and version match: the client that holds one holds the other. */
  sameAs(other: TypeResources): boolean {
    return other === this || (other.version === this.version && other.digest === this.digest);
  }

  /**
   * The names whose content differs between `earlier` and these resources: added, changed (another content
   * hash) or removed. Memoised per `earlier`, so every delta watch that waits on the same snapshot shares one
   * comparison.
   */
  changedSince(earlier: TypeResources): readonly string[] {
    if (earlier === this) return [];
    let changed = this.#changed.get(earlier);
    if (changed === undefined) {
      const names: string[] = [];
      for (const [name, resource] of this.items) if (earlier.items.get(name)?.hash !== resource.hash) names.push(name);
      for (const name of earlier.items.keys()) if (!this.items.has(name)) names.push(name);
      changed = names;
      this.#changed.set(earlier, changed);
    }
    return changed;
  }

  /**
   * The resources a subscription gets, or `undefined` for every resource (a wildcard, or names that cover them
   * all, as Envoy's EDS often does). Names that do not exist are left out; the rest are in name order, so that
   * the same names in another order make the same response.
   */
  #pick(wildcard: boolean, names: Iterable<string>, filter?: (r: EncodedResource) => boolean): EncodedResource[] | undefined {
    if (wildcard) return filter === undefined ? undefined : this.all.filter(filter);
    const found: EncodedResource[] = [];
    const seen = new Set<string>();
    for (const name of names) {
      const r = this.items.get(name);
      if (r !== undefined && !seen.has(name) && (filter === undefined || filter(r))) {
        seen.add(name);
        found.push(r);
      }
    }
    if (filter === undefined && found.length === this.items.size) return undefined;
    found.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return found;
  }

  /**
   * The state-of-the-world response for a subscription: every resource for a wildcard, else the named ones that
   * exist (names that do not exist are left out, the others are not withheld). Equal subscriptions share one
   * response: always for every resource, and for a subset while some stream holds its response.
   */
  response(wildcard: boolean, names: Iterable<string>): Response {
    const picked = this.#pick(wildcard, names);
    if (picked === undefined) return (this.#wildcard ??= createResponse(this.typeUrl, this.version, this.all));
    return this.#subsets.get(picked.map((r) => r.name).join('\n'), () => createResponse(this.typeUrl, this.version, picked));
  }

  /**
   * The answer to a client that holds some of the resources it subscribes to at this very version and lacks the
   * others (it has just subscribed to more names, or the server has forgotten that it holds some: see the
   * server's warming rules). For a named subscription to a type whose responses need not be the full state
   * (endpoints, routes, secrets and the rest: everything but listeners, clusters and scoped routes), only the
   * resources it lacks, whose `returnedNames()` also lists those it keeps; otherwise, as `response`. Equal
   * answers are shared while streams hold them.
   *
   * @param known - the names the client holds at this version (the request's `knownNames`)
   */
  catchUp(wildcard: boolean, names: Iterable<string>, known: ReadonlySet<string>): Response {
    const full = this.response(wildcard, names);
    if (wildcard || SOTW_FULL_STATE_TYPES.has(this.typeUrl)) return full;
    const lacking = full.resources.filter((r) => !known.has(r.name));
    if (lacking.length === 0 || lacking.length === full.resources.length) return full;
    const key = `\u0000catch-up\n${lacking.map((r) => r.name).join('\n')}\u0000${full.resources.map((r) => r.name).join('\n')}`;
    return this.#subsets.get(key, () => createResponse(this.typeUrl, this.version, lacking, false, full.returnedNames()));
  }

  /**
   * The state-of-the-world TTL heartbeat for a subscription, or `undefined` when it covers no resource with a TTL:
   * the TTL resources by name and TTL without their body. For the types whose responses are the full state
   * (listeners, clusters, scoped routes), the response itself: Envoy drops the bodiless resources of a response
   * before applying it, so a heartbeat of those types would remove every resource it did not carry in full.
   */
  heartbeat(wildcard: boolean, names: Iterable<string>): Response | undefined {
    if (this.withTtl.length === 0) return undefined;
    const resources = this.#pick(wildcard, names, (r) => r.ttlMs !== undefined)!;
    if (resources.length === 0) return undefined;
    if (SOTW_FULL_STATE_TYPES.has(this.typeUrl)) return this.response(wildcard, names);
    if (wildcard) return (this.#wildcardHeartbeat ??= createResponse(this.typeUrl, this.version, resources, true));
    const key = `\u0000heartbeat\n${resources.map((r) => r.name).join('\n')}`;
    return this.#subsets.get(key, () => createResponse(this.typeUrl, this.version, resources, true));
  }

  /**
   * A delta response. The one that carries every resource and nothing else (a wildcard client's first response,
   * or after a full change) is made once and shared; the others depend on what each client holds and are made
   * for it. Except for heartbeats, the response returns these resources as its `returnedState`: a client that
   * applies it is up to date with them for every name it subscribes to.
   */
  deltaResponse(resources: readonly EncodedResource[], removed: readonly string[], heartbeat = false, unresolved: readonly string[] = []): DeltaResponse {
    if (heartbeat) return createDeltaResponse(this.typeUrl, this.version, resources, removed, true, unresolved);
    const every = removed.length === 0 && unresolved.length === 0 && resources.length === this.items.size && resources.length > 0 &&
      resources.every((r) => this.items.get(r.name) === r);
    if (every) return (this.#everyDelta ??= createDeltaResponseWithState(this.typeUrl, this.version, this.all, [], [], this));
    return createDeltaResponseWithState(this.typeUrl, this.version, resources, removed, unresolved, this);
  }
}
