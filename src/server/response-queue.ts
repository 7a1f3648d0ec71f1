import { RESOURCE_TYPE_URLS } from '../resource/type-url.js';
import type { ResourceTypeUrl } from '../resource/type-url.js';

/**
 * The responses of one stream waiting to be written, at most one per type. A slow reader never makes the server
 * hold more: a newer response of a type replaces the one waiting, since in xDS the newest state supersedes older
 * ones. Responses are written in the order of {@link RESOURCE_TYPE_URLS} (clusters before endpoints, listeners
 * before routes) when several wait at once.
 *
 * `write` sends one response and returns false when the transport is full (as `stream.write()` does); the queue
 * then holds everything until {@link ResponseQueue.drained} is called (on the stream's `'drain'` event).
 */
export class ResponseQueue<R extends { readonly typeUrl: ResourceTypeUrl }> {
  readonly #pending = new Map<ResourceTypeUrl, R>();
  readonly #write: (response: R) => boolean;
  readonly #ordered: boolean;
  #blocked = false;
  #scheduled = false;
  #closed = false;

  /**
   * @param write - sends a response; false means "full, wait for drain"
   * @param ordered - gather the responses of one event-loop turn and write them in type order; otherwise write
   *   each at once
   */
  constructor(write: (response: R) => boolean, ordered: boolean) {
    this.#write = write;
    this.#ordered = ordered;
  }

  /** Responses waiting (for tests and stats). */
  get size(): number {
    return this.#pending.size;
  }

  /** True while the transport is full. */
  get blocked(): boolean {
    return this.#blocked;
  }

  /** Queues a response, replacing any waiting response of its type. */
  push(response: R): void {
    if (this.#closed) return;
    this.#pending.set(response.typeUrl, response);
    if (this.#blocked) return;
    if (!this.#ordered) {
      this.flush();
      return;
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      // The cache answers the watches of one update in one synchronous pass; writing after it lets the
      // responses of that pass go out in type order.
      queueMicrotask(() => {
        this.#scheduled = false;
        this.flush();
      });
    }
  }

  /** Forgets the waiting response of a type (a new request of that type replaced its watch). */
  drop(typeUrl: ResourceTypeUrl): void {
    this.#pending.delete(typeUrl);
  }

  /** The transport has room again. */
  drained(): void {
    this.#blocked = false;
    this.flush();
  }

  /** Writes what waits, in type order, until the transport is full. */
  flush(): void {
    if (this.#closed || this.#blocked || this.#pending.size === 0) return;
    for (const typeUrl of RESOURCE_TYPE_URLS) {
      const response = this.#pending.get(typeUrl);
      if (response === undefined) continue;
      this.#pending.delete(typeUrl);
      if (!this.#write(response)) {
        this.#blocked = true;
        return;
      }
      if (this.#closed) return;
    }
  }

  /** Drops everything and accepts nothing more. */
  close(): void {
    this.#closed = true;
    this.#pending.clear();
  }
}
