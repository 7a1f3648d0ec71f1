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

import { LayeredVersions } from './known-versions.js';

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

/**
 * A first request's subscribe list, read once for every stream that sends the same list object (the request
 * decoder hands identical long lists to streams as one shared array): the names as a set, whether `*` is among
 * them, and per map of initial versions the names newly subscribed and the key that marks identical requests.
 */
interface SharedFirstRead {
  readonly names: ReadonlySet<string>;
  readonly wildcard: boolean;
  readonly byKnown: WeakMap<ReadonlyMap<string, string>, { readonly newly: readonly string[]; readonly key: object }>;
}

/** Lists shorter than this are read per stream: sharing them saves little. */
const SHARE_MIN_NAMES = 32;
const sharedFirstReads = new WeakMap<readonly string[], SharedFirstRead>();
const emptyListKeys = new WeakMap<ReadonlyMap<string, string>, { readonly wildcard: object; readonly named: object }>();

/** The key of first requests that name nothing, per map of initial versions and wildcard. */
function emptyListKey(known: ReadonlyMap<string, string>, wildcard: boolean): object {
  let keys = emptyListKeys.get(known);
  if (keys === undefined) {
    keys = { wildcard: {}, named: {} };
    emptyListKeys.set(known, keys);
  }
  return wildcard ? keys.wildcard : keys.named;
}

function sharedFirstRead(subscribe: readonly string[]): SharedFirstRead {
  let read = sharedFirstReads.get(subscribe);
  if (read === undefined) {
    const names = new Set<string>();
    let wildcard = false;
    for (const name of subscribe) {
      if (name === WILDCARD) wildcard = true;
      else names.add(name);
    }
    read = { names, wildcard, byKnown: new WeakMap() };
    sharedFirstReads.set(subscribe, read);
  }
  return read;
}

/**
 * A delta subscription: requests carry changes (names subscribed and unsubscribed), and the server remembers
 * which version of each resource the client holds.
 *
 * The streams of a fleet often reconnect with the same long subscribe list and the same initial versions; then
 * the subscribed set and the known versions are shared between their subscriptions until one changes (it then
 * copies the set, and keeps its own versions in a layer over the shared ones), and
 * {@link DeltaSubscription.sharedKey} says so.
 */
export class DeltaSubscription {
  #legacy: boolean;
  #wildcard = false;
  #started = false;
  /** Names explicitly subscribed (without `*`); kept even under wildcard, which can be dropped later. */
  #subscribed: ReadonlySet<string> = new Set<string>();
  /** False while `#subscribed` is shared with other subscriptions: copied on first change. */
  #ownsSubscribed = true;
  #known: ReadonlyMap<string, string> = new Map<string, string>();
  /** False while `#known` is the request's map of initial versions, which may be shared: layered over on first change. */
  #ownsKnown = true;
  /** Set while nothing is owned: the same object for every subscription in the same state. */
  #sharedKey: object | undefined;

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
   * An object shared by every subscription whose subscribed names, wildcard, known versions and last newly
   * subscribed names are the same shared objects (a fleet's streams right after their identical first
   * requests); `undefined` once this one has changed anything. Equal keys mean equal requests.
   */
  get sharedKey(): object | undefined {
    return this.#sharedKey;
  }

  #mutableSubscribed(): Set<string> {
    this.#sharedKey = undefined;
    if (!this.#ownsSubscribed) {
      this.#subscribed = new Set(this.#subscribed);
      this.#ownsSubscribed = true;
    }
    return this.#subscribed as Set<string>;
  }

  /** The known versions, to be changed: layered over them while they are shared (see {@link LayeredVersions}). */
  #mutableKnown(): Map<string, string> | LayeredVersions {
    this.#sharedKey = undefined;
    if (!this.#ownsKnown) {
      this.#known = new LayeredVersions(this.#known);
      this.#ownsKnown = true;
    }
    return this.#known as Map<string, string> | LayeredVersions;
  }

  /**
   * Applies a request's subscribe and unsubscribe lists (and, on the first request of the type, its
   * `initial_resource_versions`). Returns the names newly subscribed, which the cache must answer even if
   * unchanged; names the client already holds from a previous stream are not among them.
   */
  update(
    subscribe: readonly string[],
    unsubscribe: readonly string[],
    initialVersions: ReadonlyMap<string, string> | Readonly<Record<string, string>>,
  ): readonly string[] {
    const first = !this.#started;
    this.#started = true;
    this.#sharedKey = undefined;
    if (first) {
      if (initialVersions instanceof Map) {
        // Taken as is (a reconnecting client sends thousands, and a fleet the same ones): copied only on change.
        this.#known = initialVersions as ReadonlyMap<string, string>;
        this.#ownsKnown = false;
      } else {
        this.#known = new Map(Object.entries(initialVersions));
      }
      if (this.#legacy && subscribe.length === 0) this.#wildcard = true;
    }
    // Only a named subscription ends the legacy wildcard; the stream stays wildcard until `*` is unsubscribed.
    if (subscribe.length > 0) this.#legacy = false;

    let newly: readonly string[];
    if (first && subscribe.length === 0 && !this.#ownsKnown) {
      // Nothing named (a legacy wildcard, or a type not yet wanted): the state is the versions and the wildcard.
      newly = [];
      if (unsubscribe.length === 0) this.#sharedKey = emptyListKey(this.#known, this.#wildcard);
    } else if (first && subscribe.length >= SHARE_MIN_NAMES && !this.#ownsKnown) {
      const read = sharedFirstRead(subscribe);
      this.#subscribed = read.names;
      this.#ownsSubscribed = false;
      if (read.wildcard) this.#wildcard = true;
      let byKnown = read.byKnown.get(this.#known);
      if (byKnown === undefined) {
        const known = this.#known;
        byKnown = { newly: [...read.names].filter((name) => !known.has(name)), key: {} };
        read.byKnown.set(known, byKnown);
      }
      newly = byKnown.newly;
      // The wildcard comes from the list itself here (`*` in it; a list this long ends the legacy wildcard).
      if (unsubscribe.length === 0) this.#sharedKey = byKnown.key;
    } else {
      const added: string[] = [];
      for (const name of subscribe) {
        if (name === WILDCARD) {
          this.#wildcard = true;
          continue;
        }
        if (this.#subscribed.has(name)) continue;
        this.#mutableSubscribed().add(name);
        if (!(first && this.#known.has(name))) added.push(name);
      }
      newly = added;
    }
    let droppedWildcard = false;
    for (const name of unsubscribe) {
      if (name === WILDCARD) {
        droppedWildcard = this.#wildcard;
        this.#wildcard = false;
        continue;
      }
      const was = this.#subscribed.has(name);
      if (was) this.#mutableSubscribed().delete(name);
      if (was && this.#wildcard) {
        // Under wildcard the client still wants the resource: an empty known version makes the cache send it
        // again (or report it removed), as the protocol requires.
        this.#mutableKnown().set(name, '');
      } else if (this.#known.has(name)) {
        this.#mutableKnown().delete(name);
      }
    }
    if (droppedWildcard && !this.#wildcard) {
      // The client forgets what it held only through the wildcard; so do we, so a later subscription sends it.
      const known = this.#mutableKnown();
      for (const name of [...known.keys()]) if (!this.#subscribed.has(name)) known.delete(name);
    }
    return newly;
  }

  /**
   * Forgets that the client holds these names (it still subscribes to them), so that the cache sends them
   * again: Envoy needs the endpoints of a changed cluster although it holds them (see warming.ts).
   */
  forget(names: readonly string[]): void {
    const known = this.#mutableKnown();
    for (const name of names) known.delete(name);
  }

  /** Records what a response sent: resources now held at their versions, removed ones forgotten. */
  sent(resources: readonly { name: string; hash: string }[], removed: readonly string[]): void {
    if (resources.length === 0 && removed.length === 0) return;
    const known = this.#mutableKnown();
    for (const resource of resources) known.set(resource.name, resource.hash);
    for (const name of removed) known.delete(name);
  }
}
