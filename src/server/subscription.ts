/**
 * What a client is subscribed to, per type and stream, following the xDS protocol's rules
 * ("How the client specifies what resources to return"):
 *
 * - legacy wildcard: for the types Envoy subscribes to by wildcard (listeners, clusters, scoped routes), a
 *   stream whose requests have never named a resource wants every resource;
 * - explicit wildcard: the name `*` asks for every resource, alongside any names also listed;
 * - once a request has named a resource (or `*`), an empty list means "nothing": proxyless gRPC clients send
 *   that to unsubscribe when they stop watching.
 */

/** The wildcard resource name. */
export const WILDCARD = '*';

/** A state-of-the-world subscription: each request carries the full list of names. */
export class SotwSubscription {
  /** True while every request so far named nothing and the type allows the legacy wildcard. */
  #legacy: boolean;
  #wildcard = false;
  #names: readonly string[] = [];

  /** @param legacyWildcard - whether an empty first request means wildcard for this type */
  constructor(legacyWildcard: boolean) {
    this.#legacy = legacyWildcard;
  }

  /** True if the client wants every resource of the type. */
  get wildcard(): boolean {
    return this.#wildcard;
  }

  /** The names the client wants (without `*`). */
  get names(): readonly string[] {
    return this.#names;
  }

  /** Applies the `resource_names` of a request. */
  update(resourceNames: readonly string[]): void {
    if (this.#legacy) {
      if (resourceNames.length === 0) {
        this.#wildcard = true;
        return;
      }
      this.#legacy = false;
    }
    // An ACK repeats the list it answers, in the same order: the subscription stays as it is, without a set built
    // anew from thousands of names (an EDS request names every cluster).
    if (!this.#wildcard && sameNames(resourceNames, this.#names)) return;
    let wildcard = false;
    const names: string[] = [];
    const seen = new Set<string>();
    for (const name of resourceNames) {
      if (name === WILDCARD) wildcard = true;
      else if (!seen.has(name)) {
        seen.add(name);
        names.push(name);
      }
    }
    this.#wildcard = wildcard;
    this.#names = names;
  }
}

/** True when both lists hold the same names in the same order. */
function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A delta subscription: requests carry changes (names subscribed and unsubscribed), and the server remembers
 * which version of each resource the client holds.
 */
export class DeltaSubscription {
  #legacy: boolean;
  #wildcard = false;
  #started = false;
  /** Names explicitly subscribed (without `*`); kept even under wildcard, which can be dropped later. */
  readonly #subscribed = new Set<string>();
  /** What the client holds; shared with other streams (and never changed) until {@link #own} copies it. */
  #known: ReadonlyMap<string, string> = new Map<string, string>();
  #owned = true;
  #revision = 0;

  /** @param legacyWildcard - whether a first request that names nothing means wildcard for this type */
  constructor(legacyWildcard: boolean) {
    this.#legacy = legacyWildcard;
  }

  /** True if the client wants every resource of the type. */
  get wildcard(): boolean {
    return this.#wildcard;
  }

  /** Names explicitly subscribed (without `*`); kept even under wildcard, which can be dropped later. */
  get subscribed(): ReadonlySet<string> {
    return this.#subscribed;
  }

  /** The version (content hash) of each resource the client holds, as far as the server knows. */
  get known(): ReadonlyMap<string, string> {
    return this.#known;
  }

  /**
   * Counts the changes made other than by responses: a request that subscribes or unsubscribes, the first
   * request, versions forgotten. Equal revisions mean that only responses sent changed what the client holds.
   */
  get revision(): number {
    return this.#revision;
  }

  /**
   * Applies a request's subscribe and unsubscribe lists (and, on the first request of the type, its
   * `initial_resource_versions`). Returns the names newly subscribed, which the cache must answer even if
   * unchanged; names the client already holds from a previous stream are not among them.
   */
  update(
    subscribe: readonly string[],
    unsubscribe: readonly string[],
    initialVersions: ReadonlyMap<string, string>,
  ): readonly string[] {
    const first = !this.#started;
    this.#started = true;
    if (first || subscribe.length > 0 || unsubscribe.length > 0) this.#revision++;
    if (first) {
      if (initialVersions.size > 0) {
        // Held as given: the map may be shared with streams that hold the same, so it is copied only when
        // something changes what this client holds.
        this.#known = initialVersions;
        this.#owned = false;
      }
      if (this.#legacy && subscribe.length === 0) this.#wildcard = true;
    }
    // Only a named subscription ends the legacy wildcard; the stream stays wildcard until `*` is unsubscribed.
    if (subscribe.length > 0) this.#legacy = false;

    const newly: string[] = [];
    for (const name of subscribe) {
      if (name === WILDCARD) {
        this.#wildcard = true;
        continue;
      }
      if (this.#subscribed.has(name)) continue;
      this.#subscribed.add(name);
      if (!(first && this.#known.has(name))) newly.push(name);
    }
    let droppedWildcard = false;
    for (const name of unsubscribe) {
      if (name === WILDCARD) {
        droppedWildcard = this.#wildcard;
        this.#wildcard = false;
        continue;
      }
      const was = this.#subscribed.delete(name);
      if (was && this.#wildcard) {
        // Under wildcard the client still wants the resource: an empty known version makes the cache send it
        // again (or report it removed), as the protocol requires.
        this.#own().set(name, '');
      } else if (this.#known.has(name)) {
        this.#own().delete(name);
      }
    }
    if (droppedWildcard && !this.#wildcard) {
      // The client forgets what it held only through the wildcard; so do we, so a later subscription sends it.
      for (const name of [...this.#known.keys()]) if (!this.#subscribed.has(name)) this.#own().delete(name);
    }
    return newly;
  }

  /**
   * Forgets that the client holds these names (it still subscribes to them), so that the cache sends them
   * again: Envoy needs the endpoints of a changed cluster although it holds them (see warming.ts).
   */
  forget(names: readonly string[]): void {
    if (names.length > 0) this.#revision++;
    for (const name of names) if (this.#known.has(name)) this.#own().delete(name);
  }

  /** Records what a response sent: resources now held at their versions, removed ones forgotten. */
  sent(resources: readonly { name: string; hash: string }[], removed: readonly string[]): void {
    for (const resource of resources) {
      if (this.#known.get(resource.name) !== resource.hash) this.#own().set(resource.name, resource.hash);
    }
    for (const name of removed) if (this.#known.has(name)) this.#own().delete(name);
  }

  /** The known versions as this subscription's own map, copied first if it was shared. */
  #own(): Map<string, string> {
    if (!this.#owned) {
      // forEach: `new Map(map)` goes through the iterator, an array and a result object per entry.
      const own = new Map<string, string>();
      this.#known.forEach((version, name) => own.set(name, version));
      this.#known = own;
      this.#owned = true;
    }
    return this.#known as Map<string, string>;
  }
}
