/**
 * The versions a delta client holds, as a map of resource name to content hash.
 *
 * A reconnecting fleet presents the same `initial_resource_versions`, which the request decoder hands to every
 * stream as one shared map. {@link LayeredVersions} keeps such a map as its base, never changed, and a stream's
 * own changes (a changed resource, a removal) in a small map on top, so that a stream's first response does not
 * copy thousands of entries.
 */

/**
 * A map of versions layered over a shared base that it never changes: reads look at the stream's own entries
 * first, then at the base. When the stream's own entries outgrow the base, they are folded into one plain map.
 */
export class LayeredVersions implements ReadonlyMap<string, string> {
  #base: ReadonlyMap<string, string>;
  /** The stream's own entries; `undefined` marks a name of the base that this stream no longer holds. */
  #own = new Map<string, string | undefined>();
  #size: number;

  /** @param base - the shared versions; never changed through this map */
  constructor(base: ReadonlyMap<string, string>) {
    this.#base = base;
    this.#size = base.size;
  }

  get size(): number {
    return this.#size;
  }

  get(name: string): string | undefined {
    const own = this.#own;
    if (own.size === 0) return this.#base.get(name);
    return own.has(name) ? own.get(name) : this.#base.get(name);
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** Records that the client holds `name` at `version`. */
  set(name: string, version: string): this {
    if (!this.has(name)) this.#size++;
    this.#own.set(name, version);
    this.#fold();
    return this;
  }

  /** Records that the client no longer holds `name`; true if it did. */
  delete(name: string): boolean {
    if (!this.has(name)) return false;
    this.#size--;
    if (this.#base.has(name)) this.#own.set(name, undefined);
    else this.#own.delete(name);
    this.#fold();
    return true;
  }

  *entries(): MapIterator<[string, string]> {
    const own = this.#own;
    for (const entry of this.#base) if (!own.has(entry[0])) yield entry;
    for (const [name, version] of own) if (version !== undefined) yield [name, version];
  }

  *keys(): MapIterator<string> {
    for (const [name] of this.entries()) yield name;
  }

  *values(): MapIterator<string> {
    for (const [, version] of this.entries()) yield version;
  }

  [Symbol.iterator](): MapIterator<[string, string]> {
    return this.entries();
  }

  forEach(callback: (value: string, key: string, map: ReadonlyMap<string, string>) => void, thisArg?: unknown): void {
    for (const [name, version] of this.entries()) callback.call(thisArg, version, name, this);
  }

  /** Once the stream's own entries are as many as the base's, one plain map is smaller and faster. */
  #fold(): void {
    if (this.#own.size <= 64 || this.#own.size < this.#base.size) return;
    this.#base = new Map(this.entries());
    this.#own = new Map();
  }
}
