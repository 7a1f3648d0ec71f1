/**
 * The mux cache: routes each request to one of several caches, as go-control-plane's `MuxCache`. The usual
 * split: endpoints from a `LinearCache` shared by the fleet, everything else from a per-node `SnapshotCache`.
 */
import type { Node } from '../types/index.js';
import { Code, XdsError } from '../resource/xds-error.js';
import type { CancelWatch, ConfigWatcher, DeltaResponse, DeltaWatchRequest, Response, WatchRequest } from './config-watcher.js';

/** Options of {@link MuxCache}. */
export interface MuxCacheOptions {
  /** The caches, by the key the classifiers return. */
  caches: Readonly<Record<string, ConfigWatcher>> | ReadonlyMap<string, ConfigWatcher>;
  /** Picks the cache of a state-of-the-world (or fetch) request. Default: its type URL. */
  classify?: (request: WatchRequest) => string;
  /** Picks the cache of a delta request. Default: its type URL. */
  classifyDelta?: (request: DeltaWatchRequest) => string;
}

/**
 * A {@link ConfigWatcher} that hands each request to one of several caches, chosen by a classifier (by default
 * the request's type URL):
 *
 * ```ts
 * const mux = new MuxCache({ caches: { [TypeUrl.Endpoint]: endpoints, [TypeUrl.Cluster]: snapshots, ... } });
 * ```
 *
 * A request that no cache takes fails with `INVALID_ARGUMENT` naming the key (go-control-plane closes the
 * stream without a word). Stream open and close notices go to every cache, so each can release its state.
 */
export class MuxCache implements ConfigWatcher {
  readonly #caches: ReadonlyMap<string, ConfigWatcher>;
  readonly #classify: (request: WatchRequest) => string;
  readonly #classifyDelta: (request: DeltaWatchRequest) => string;
  readonly #distinct: readonly ConfigWatcher[];

  /** @param options - the caches and the classifiers */
  constructor(options: MuxCacheOptions) {
    this.#caches = options.caches instanceof Map ? new Map(options.caches) : new Map(Object.entries(options.caches));
    this.#classify = options.classify ?? ((request) => request.typeUrl);
    this.#classifyDelta = options.classifyDelta ?? ((request) => request.typeUrl);
    this.#distinct = [...new Set(this.#caches.values())];
  }

  #pick(key: string): ConfigWatcher {
    const cache = this.#caches.get(key);
    if (cache === undefined) {
      throw new XdsError(Code.INVALID_ARGUMENT, `no cache serves "${key}"; this server's caches serve: ${[...this.#caches.keys()].join(', ')}`);
    }
    return cache;
  }

  /** Routes a state-of-the-world watch. */
  createWatch(request: WatchRequest, respond: (response: Response) => void): CancelWatch {
    return this.#pick(this.#classify(request)).createWatch(request, respond);
  }

  /** Routes a delta watch. */
  createDeltaWatch(request: DeltaWatchRequest, respond: (response: DeltaResponse) => void): CancelWatch {
    return this.#pick(this.#classifyDelta(request)).createDeltaWatch(request, respond);
  }

  /** Routes a fetch. */
  fetch(request: WatchRequest): Response | undefined {
    return this.#pick(this.#classify(request)).fetch(request);
  }

  /** Tells every cache (once each) that a stream of the node opened. */
  streamOpened(node: Node): void {
    for (const cache of this.#distinct) cache.streamOpened?.(node);
  }

  /** Tells every cache (once each) that a stream of the node closed. */
  streamClosed(node: Node): void {
    for (const cache of this.#distinct) cache.streamClosed?.(node);
  }
}
