/**
 * The `initial_resource_versions` of delta requests, turned into maps once per content. A reconnecting Envoy
 * sends an entry per resource it holds, thousands per request, and the Envoys of one fleet hold the same
 * resources at the same versions: they send the same entries, each in its own order (Envoy writes the map in a
 * per-connection hash order, so no two requests have the same bytes). Reading each request's entries into fresh
 * strings and a fresh map costs every stream the same time and memory again.
 *
 * {@link HeldVersions} keeps recent maps by their content: a request's entries are hashed where they lie in its
 * bytes, in any order, and a map read before from the same entries is handed out again, after checking every
 * entry byte for byte against the ones it was read from (so a hash collision costs a decode, never a wrong map).
 * The maps it hands out are shared and never changed; a stream that changes what it knows copies its own (see
 * `DeltaSubscription`). The table holds a bounded number of entries and of their bytes, the least recently used
 * map leaving first; requests of long entries are read without it. A shared map lists its names in the order of
 * the request it was first read from.
 */
import protobuf from 'protobufjs';

/**
 * The entries of a request's `initial_resource_versions` as the decoder found them: where each entry's bytes
 * (its key and value fields) lie in the request, not yet turned into text.
 */
export class VersionEntries {
  /**
   * @param bytes - the request's bytes
   * @param spans - start and end of each entry's bytes in `bytes`, in pairs
   */
  constructor(
    readonly bytes: Uint8Array,
    readonly spans: Uint32Array,
  ) {}

  /** The number of entries (a name repeated counts each time). */
  get count(): number {
    return this.spans.length / 2;
  }

  /**
   * Reads the entries into a new map (a later entry for the same name wins, as protobuf's maps do).
   *
   * @throws an Error saying what is wrong when an entry is not a well-formed map entry
   */
  read(): Map<string, string> {
    const versions = new Map<string, string>();
    const reader = protobuf.Reader.create(this.bytes);
    const { spans } = this;
    for (let i = 0; i < spans.length; i += 2) {
      const end = spans[i + 1];
      reader.pos = spans[i];
      let key = '';
      let value = '';
      while (reader.pos < end) {
        const tag = reader.uint32();
        if (tag === 10) key = reader.string();
        else if (tag === 18) value = reader.string();
        else reader.skipType(tag & 7);
        if (reader.pos > end) throw new RangeError('an initial_resource_versions entry runs past its end');
      }
      versions.set(key, value);
    }
    return versions;
  }
}

/** An empty set of entries. */
export const NO_ENTRIES = new VersionEntries(new Uint8Array(0), new Uint32Array(0));

/** Fewer entries than this are read directly: sharing them would save less than it costs. */
export const MIN_SHARED_ENTRIES = 32;

/** Entries the table of a server holds at most, over all its maps (about 150 bytes each with Envoy's names). */
export const DEFAULT_HELD_ENTRIES = 100_000;

/**
 * Bytes of entries the table of a server holds at most, over all its maps. Each map also holds its names and
 * versions as text: with both bounds full, a table takes at most about 32 MiB (measured with two-byte names).
 */
export const DEFAULT_HELD_BYTES = 8 * 1024 * 1024;

/** Requests whose entries average more bytes than this are read directly: names and versions are short. */
export const MAX_HELD_ENTRY_BYTES = 512;

/** A map of versions held in the table, with the entries it was read from. */
class Held {
  /** Which entries were matched by the request being checked (`generation` marks this check). */
  readonly #marks: Uint32Array;
  #generation = 0;
  /** Entry numbers by hash, open addressing: slot `i` is a hash at `2i` and its entry number at `2i + 1` (−1 when empty). */
  readonly #slots: Int32Array;

  /**
   * The map and the entries it was read from, or `undefined` if two entries have the same hash (the index could
   * not tell them apart).
   *
   * @param versions - the map read from the entries (never changed)
   * @param bytes - the entries' bytes, one after another
   * @param offsets - where each entry starts in `bytes`, and where the last one ends
   * @param hashes - each entry's hash
   */
  static of(versions: ReadonlyMap<string, string>, bytes: Uint8Array, offsets: Uint32Array, hashes: Int32Array): Held | undefined {
    let size = 8;
    while (size < hashes.length * 2) size *= 2;
    const slots = new Int32Array(2 * size).fill(-1);
    for (let entry = 0; entry < hashes.length; entry++) {
      const hash = hashes[entry];
      let slot = hash & (size - 1);
      while (slots[2 * slot + 1] >= 0) {
        if (slots[2 * slot] === hash) return undefined;
        slot = (slot + 1) & (size - 1);
      }
      slots[2 * slot] = hash;
      slots[2 * slot + 1] = entry;
    }
    return new Held(versions, bytes, offsets, slots);
  }

  private constructor(
    readonly versions: ReadonlyMap<string, string>,
    readonly bytes: Uint8Array,
    readonly offsets: Uint32Array,
    slots: Int32Array,
  ) {
    this.#marks = new Uint32Array(offsets.length - 1);
    this.#slots = slots;
  }

  /**
   * True when `entries` (whose hashes are `hashes`, and `theirView` a view of whose bytes) are these entries, each
   * once, in any order.
   */
  matches(entries: VersionEntries, hashes: Int32Array, theirView: DataView): boolean {
    if (this.#generation === 0xffffffff) {
      this.#marks.fill(0);
      this.#generation = 0;
    }
    const generation = ++this.#generation;
    const marks = this.#marks;
    const { bytes: theirs, spans } = entries;
    const ours = this.bytes;
    const offsets = this.offsets;
    const slots = this.#slots;
    const mask = slots.length / 2 - 1;
    const ourView = new DataView(ours.buffer, ours.byteOffset, ours.byteLength);
    for (let i = 0; i < hashes.length; i++) {
      const hash = hashes[i];
      let slot = hash & mask;
      let at = slots[2 * slot + 1];
      while (at >= 0 && slots[2 * slot] !== hash) {
        slot = (slot + 1) & mask;
        at = slots[2 * slot + 1];
      }
      if (at < 0 || marks[at] === generation) return false;
      const start = spans[2 * i];
      const length = spans[2 * i + 1] - start;
      const from = offsets[at];
      if (offsets[at + 1] - from !== length) return false;
      let k = 0;
      for (; k + 3 < length; k += 4) if (theirView.getInt32(start + k, true) !== ourView.getInt32(from + k, true)) return false;
      for (; k < length; k++) if (theirs[start + k] !== ours[from + k]) return false;
      marks[at] = generation;
    }
    return true;
  }
}

/**
 * A server's table of recent `initial_resource_versions` maps, by content (see the module's description).
 */
export class HeldVersions {
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #minEntries: number;
  /** Held maps by digest, least recently used first. */
  readonly #held = new Map<string, Held>();
  #entries = 0;
  #bytes = 0;
  readonly #seedA = (Math.random() * 0x100000000) | 0;
  readonly #seedB = (Math.random() * 0x100000000) | 0;
  #hits = 0;
  #misses = 0;

  /**
   * @param options - `maxEntries`: entries held at most over all maps ({@link DEFAULT_HELD_ENTRIES}; 0 holds
   *   none); `maxBytes`: bytes of entries held at most ({@link DEFAULT_HELD_BYTES}); `minEntries`: requests with
   *   fewer entries are read directly ({@link MIN_SHARED_ENTRIES})
   */
  constructor(options: { readonly maxEntries?: number; readonly maxBytes?: number; readonly minEntries?: number } = {}) {
    this.#maxEntries = options.maxEntries ?? DEFAULT_HELD_ENTRIES;
    this.#maxBytes = options.maxBytes ?? DEFAULT_HELD_BYTES;
    this.#minEntries = options.minEntries ?? MIN_SHARED_ENTRIES;
  }

  /**
   * Requests answered with a held map, requests that could have been and were read anew, and what the table
   * holds (maps, entries, bytes of entries).
   */
  get stats(): { readonly hits: number; readonly misses: number; readonly maps: number; readonly entries: number; readonly bytes: number } {
    return { hits: this.#hits, misses: this.#misses, maps: this.#held.size, entries: this.#entries, bytes: this.#bytes };
  }

  /**
   * The versions the entries hold, as a map that must not be changed (it may be shared with other streams).
   *
   * @throws an Error saying what is wrong when an entry is not a well-formed map entry
   */
  versions(entries: VersionEntries): ReadonlyMap<string, string> {
    const count = entries.count;
    if (count < this.#minEntries || count > this.#maxEntries) return entries.read();
    const { bytes, spans } = entries;
    const span = spans[spans.length - 1] - spans[0];
    if (span > this.#maxBytes || span > count * MAX_HELD_ENTRY_BYTES) return entries.read();
    const hashes = new Int32Array(count);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let sumA = 0;
    let sumB = 0;
    let length = 0;
    for (let i = 0; i < count; i++) {
      const start = spans[2 * i];
      const end = spans[2 * i + 1];
      const a = hashSpan(bytes, view, start, end, this.#seedA);
      hashes[i] = a;
      // Order-free: the digest is the same whichever order the entries come in.
      sumA = (sumA + a) | 0;
      sumB = (sumB + mix(a ^ this.#seedB)) | 0;
      length += end - start;
    }
    const digest = `${count}:${length}:${sumA}:${sumB}`;
    const held = this.#held.get(digest);
    if (held !== undefined && held.matches(entries, hashes, view)) {
      this.#held.delete(digest);
      this.#held.set(digest, held);
      this.#hits++;
      return held.versions;
    }
    this.#misses++;
    const versions = entries.read();
    // A name sent twice makes entries that a map of fewer names cannot stand for one by one: not held.
    if (versions.size === count) this.#hold(digest, versions, entries, hashes, length, held);
    return versions;
  }

  #hold(digest: string, versions: ReadonlyMap<string, string>, entries: VersionEntries, hashes: Int32Array, length: number, replaced: Held | undefined): void {
    const count = hashes.length;
    const copy = new Uint8Array(length);
    const offsets = new Uint32Array(count + 1);
    let at = 0;
    for (let i = 0; i < count; i++) {
      offsets[i] = at;
      const piece = entries.bytes.subarray(entries.spans[2 * i], entries.spans[2 * i + 1]);
      copy.set(piece, at);
      at += piece.length;
    }
    offsets[count] = at;
    // Two entries with the same hash could not be told apart by the index: such maps are not held.
    const made = Held.of(versions, copy, offsets, hashes);
    if (made === undefined) return;
    if (replaced !== undefined) this.#drop(digest, replaced);
    this.#held.set(digest, made);
    this.#entries += count;
    this.#bytes += length;
    for (const [oldest, map] of this.#held) {
      if (this.#entries <= this.#maxEntries && this.#bytes <= this.#maxBytes) break;
      this.#drop(oldest, map);
    }
  }

  #drop(digest: string, held: Held): void {
    this.#held.delete(digest);
    this.#entries -= held.offsets.length - 1;
    this.#bytes -= held.bytes.length;
  }
}

/** A seeded hash of `bytes[start, end)` (`view` over the same bytes), four bytes a step, {@link mix}ed. */
function hashSpan(bytes: Uint8Array, view: DataView, start: number, end: number, seed: number): number {
  let a = seed ^ (end - start);
  let k = start;
  for (const last = end - 3; k < last; k += 4) {
    a = Math.imul(a ^ view.getInt32(k, true), 0x01000193);
    a ^= a >>> 15;
  }
  for (; k < end; k++) a = Math.imul(a ^ bytes[k], 0x01000193);
  return mix(a);
}

/** MurmurHash3's finalizer: every input bit moves every output bit. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}
