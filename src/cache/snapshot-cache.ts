/**
 * The snapshot cache: one snapshot per cache key (a node, or a group of nodes), watches answered from it, as
 * go-control-plane's `SnapshotCache`. See docs/caches.md for the rules and where they differ from Go's.
 */
import { EventEmitter } from 'eventemitter3';
import type { Node } from '../types/index.js';
import { RESOURCE_TYPE_URLS, TYPE_SHORT_NAME, type ResourceTypeUrl } from '../resource/type-url.js';
import { Code, XdsError } from '../resource/xds-error.js';
import type { CancelWatch, ConfigWatcher, DeltaResponse, DeltaWatchRequest, Response, WatchRequest } from './config-watcher.js';
import { deltaDiff, mustAnswerDelta } from './delta-diff.js';
import { silentLogger, type Logger } from '../logger.js';
import { createDeltaResponse } from './response.js';
import { Snapshot } from './snapshot.js';
import { nextTurn, TimeSlice } from './time-slice.js';
import { TypeResources } from './type-resources.js';
import { NodeStatus, type SnapshotCacheEvents, type StatusInfo } from './status.js';
import type { AckEvent, NackEvent } from './verdict.js';

/**
 * Told of every snapshot a cache serves: those set before it started following, then each `setSnapshot` (the
 * snapshot) and `clearSnapshot` (undefined). The promise it returns for a set is part of `setSnapshot`'s. The
 * worker mode of the server follows the cache this way to hand each worker the encoded snapshots.
 */
export type SnapshotFollower = (key: string, snapshot: Snapshot | undefined) => Promise<void> | void;

/** What another process needs to run a copy of a cache with the same behaviour (see `SnapshotCache.settings`). */
export interface SnapshotCacheSettings {
  readonly ads: boolean;
  readonly releaseDelayMs: number;
  readonly heartbeatIntervalMs: number | undefined;
  readonly sliceMs: number;
  /** True when the cache was given its own `hash`: a function, which cannot be sent to another process. */
  readonly customHash: boolean;
}

/** Options of {@link SnapshotCache}. */
export interface SnapshotCacheOptions {
  /**
   * ADS mode, as go-control-plane's `ads` flag. Accepted for parity: responses that one snapshot triggers for a
   * node always go out in ADS order (clusters before endpoints, listeners before routes), and, unlike Go, no
   * response is withheld from a client that names fewer resources than the snapshot has.
   */
  ads?: boolean;
  /** Maps a node to its cache key. Default: the node id. */
  hash?: (node: Node) => string;
  /** Where decisions are logged. Default: nowhere. */
  logger?: Logger;
  /**
   * Send TTL heartbeats this often (milliseconds) to every open watch that covers resources with a TTL, as
   * go-control-plane's `NewSnapshotCacheWithHeartbeating`. Off when absent. Stop with {@link SnapshotCache.close}.
   */
  heartbeatIntervalMs?: number;
  /**
   * Keep a key's watches and status this long (milliseconds) after its last stream closes, so that a quick
   * reconnect keeps its status. Default 0: released at once.
   */
  releaseDelayMs?: number;
  /**
   * How long `setSnapshot` may answer watches before it lets other work run (milliseconds). Default 5.
   */
  sliceMs?: number;
}

interface SotwWatch {
  readonly request: WatchRequest;
  readonly respond: (response: Response) => void;
  readonly bucket: Set<SotwWatch>;
  done: boolean;
  /** The resources the client was found up to date with when the watch parked. */
  baseline: TypeResources | undefined;
  /** For a NACK: the version the client rejected. */
  rejectedVersion: string | undefined;
}

interface DeltaWatch {
  readonly request: DeltaWatchRequest;
  readonly respond: (response: DeltaResponse) => void;
  readonly bucket: Set<DeltaWatch>;
  done: boolean;
  /** For a NACK: content (name to hash) the client rejected, never sent to it again. */
  rejected: ReadonlyMap<string, string> | undefined;
  /**
   * The resources this watch was last compared with and found nothing to send. The request does not change
   * while the watch waits, so against later resources only the names that changed since need comparing.
   */
  baseline: TypeResources | undefined;
}

/** Everything the cache holds for one key while streams are open; dropped when the last one closes. */
class NodeState {
  readonly status: NodeStatus;
  readonly watches = new Map<ResourceTypeUrl, Set<SotwWatch>>();
  readonly deltaWatches = new Map<ResourceTypeUrl, Set<DeltaWatch>>();
  streams = 0;
  releaseTimer: NodeJS.Timeout | undefined;

  constructor(key: string, node: Node) {
    this.status = new NodeStatus(key, node);
  }

  bucket<W>(map: Map<ResourceTypeUrl, Set<W>>, typeUrl: ResourceTypeUrl): Set<W> {
    let set = map.get(typeUrl);
    if (set === undefined) {
      set = new Set();
      map.set(typeUrl, set);
    }
    return set;
  }

  count(map: Map<ResourceTypeUrl, Set<unknown>>): number {
    let n = 0;
    for (const set of map.values()) n += set.size;
    return n;
  }
}

function defaultHash(node: Node): string {
  return node.id ?? '';
}

/** True for a subscription to nothing: not wildcard, no names. Such a watch is never answered. */
function wantsNothing(request: WatchRequest): boolean {
  return !request.wildcard && request.resourceNames.length === 0;
}

/** True if the client lacks a resource it subscribes to, as far as the server told (`knownNames`). */
function lacksNames(request: WatchRequest, t: TypeResources): boolean {
  const known = request.knownNames;
  if (known === undefined) return false;
  if (request.wildcard) {
    for (const name of t.items.keys()) if (!known.has(name)) return true;
  }
  for (const name of request.resourceNames) if (t.items.has(name) && !known.has(name)) return true;
  return false;
}

/**
 * Holds a snapshot per cache key and answers the server's watches from it. State-of-the-world rules:
 * - a watch is answered when the snapshot's version of the type differs from the client's `version_info`;
 * - the first request of a type on a stream (empty nonce) is answered even if its version equals the snapshot's,
 *   because version strings repeat across restarts and replicas with different content;
 * - a NACK is never answered with the version it rejected: the watch waits for another version;
 * - a response carries every subscribed resource that exists (all of the type for a wildcard), except the
 *   answer to a client that holds the snapshot's version but lacks some of the names it subscribes to (it
 *   subscribed to more, or the server's warming rules made it forget some): for named subscriptions to types
 *   whose responses need not be the full state (all but listeners, clusters and scoped routes), that answer
 *   carries only what the client lacks;
 * - watches answered together go out in ADS order; equal answers share one {@link Response} object.
 *
 * Delta watches send what changed per resource (content hashes), removals, and newly subscribed names.
 *
 * Events (eventemitter3): `set`, `pushed`, `ack`, `nack`; see {@link SnapshotCacheEvents}.
 */
export class SnapshotCache extends EventEmitter<SnapshotCacheEvents> implements ConfigWatcher {
  /** The ADS flag given at creation. */
  readonly ads: boolean;
  readonly #hash: (node: Node) => string;
  readonly #log: Logger;
  readonly #releaseDelayMs: number;
  readonly #slice: TimeSlice;
  readonly #settings: SnapshotCacheSettings;
  readonly #followers = new Set<SnapshotFollower>();
  readonly #snapshots = new Map<string, Snapshot>();
  readonly #nodes = new Map<string, NodeState>();
  #heartbeatTimer: NodeJS.Timeout | undefined;
  // setSnapshot's pending work: watches to review, per snapshot set.
  readonly #jobs: { key: string; state: NodeState; snapshot: Snapshot; queue: readonly (SotwWatch | DeltaWatch)[]; next: number; resolve: () => void }[] = [];
  #running = false;
  #scheduled = false;

  /** @param options - ADS flag, node hash, logger, heartbeats, release delay */
  constructor(options: SnapshotCacheOptions = {}) {
    super();
    this.ads = options.ads ?? false;
    this.#hash = options.hash ?? defaultHash;
    this.#log = options.logger ?? silentLogger;
    this.#releaseDelayMs = options.releaseDelayMs ?? 0;
    this.#slice = new TimeSlice(options.sliceMs ?? 5);
    this.#settings = Object.freeze({
      ads: this.ads,
      releaseDelayMs: this.#releaseDelayMs,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      sliceMs: options.sliceMs ?? 5,
      customHash: options.hash !== undefined,
    });
    if (options.heartbeatIntervalMs !== undefined) {
      if (!(options.heartbeatIntervalMs > 0)) throw new XdsError(Code.INVALID_ARGUMENT, 'heartbeatIntervalMs must be a positive number of milliseconds');
      // unref: heartbeats alone must not keep the process alive.
      this.#heartbeatTimer = setInterval(() => this.sendHeartbeats(), options.heartbeatIntervalMs).unref();
    }
  }

  /**
   * Sets the snapshot of a key and answers the open watches it changes, in ADS order. Answers are given in
   * slices with pauses between them, so that a key with thousands of watches does not hold the event loop; the
   * promise resolves when every watch is answered (or a newer snapshot for the key took over).
   *
   * @param key - the cache key (by default the node id)
   */
  setSnapshot(key: string, snapshot: Snapshot): Promise<void> {
    if (!(snapshot instanceof Snapshot)) throw new TypeError('setSnapshot needs a Snapshot: new Snapshot(version, resources)');
    const started = performance.now();
    this.#snapshots.set(key, snapshot);
    this.emit('set', { key, snapshot });
    const answered = this.#answerWatches(key, snapshot, started);
    if (this.#followers.size === 0) return answered;
    const waits: Promise<void>[] = [answered];
    for (const follower of this.#followers) waits.push(Promise.resolve(follower(key, snapshot)));
    return Promise.all(waits).then(() => undefined);
  }

  #answerWatches(key: string, snapshot: Snapshot, started: number): Promise<void> {
    const state = this.#nodes.get(key);
    if (state === undefined) {
      this.#pushed(key, snapshot, 0, started);
      return Promise.resolve();
    }
    const queue: (SotwWatch | DeltaWatch)[] = [];
    for (const typeUrl of RESOURCE_TYPE_URLS) {
      const sotw = state.watches.get(typeUrl);
      if (sotw !== undefined) for (const w of sotw) queue.push(w);
      const delta = state.deltaWatches.get(typeUrl);
      if (delta !== undefined) for (const w of delta) queue.push(w);
    }
    if (queue.length === 0) {
      this.#pushed(key, snapshot, 0, started);
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        this.#pushed(key, snapshot, queue.length, started);
        resolve();
      };
      this.#jobs.push({ key, state, snapshot, queue, next: 0, resolve: done });
      if (!this.#running && !this.#scheduled) this.#run(false);
    });
  }

  /** Emits `pushed` (only when someone listens: `setSnapshot` is called for thousands of keys at once). */
  #pushed(key: string, snapshot: Snapshot, watches: number, started: number): void {
    if (this.listenerCount('pushed') === 0) return;
    this.emit('pushed', { key, snapshot, watches, durationMs: performance.now() - started });
  }

  /**
   * Answers queued watches, oldest `setSnapshot` first, for one time slice; then lets the event loop run and
   * continues. One queue for the whole cache, so that a thousand `setSnapshot` calls in one turn share the
   * slice instead of each taking its own.
   *
   * @param resumed - true when called back after a pause: then at least one watch is answered, for progress
   */
  #run(resumed: boolean): void {
    this.#running = true;
    let answered = 0;
    try {
      while (this.#jobs.length > 0) {
        const job = this.#jobs[0];
        // A newer snapshot answers what is left; answering from this one would send an outdated version.
        while (job.next < job.queue.length && this.#snapshots.get(job.key) === job.snapshot) {
          if ((answered > 0 || !resumed) && this.#slice.spent()) {
            this.#scheduled = true;
            void nextTurn().then(() => {
              this.#scheduled = false;
              this.#run(true);
            });
            return;
          }
          const watch = job.queue[job.next++];
          if (!watch.done) {
            if ('rejected' in watch) this.#reviewDelta(job.state, watch, job.snapshot);
            else this.#reviewSotw(job.state, watch, job.snapshot);
          }
          answered++;
        }
        this.#jobs.shift();
        job.resolve();
      }
    } finally {
      this.#running = false;
    }
  }

  /** The snapshot of a key, or `undefined`. */
  getSnapshot(key: string): Snapshot | undefined {
    return this.#snapshots.get(key);
  }

  /** The keys that have a snapshot. */
  getSnapshotKeys(): string[] {
    return [...this.#snapshots.keys()];
  }

  /**
   * Forgets the snapshot of a key, and its status if no stream of it is open. Open watches stay open and are
   * answered by the next snapshot set for the key (go-control-plane drops them, leaving those streams silent).
   */
  clearSnapshot(key: string): void {
    this.#snapshots.delete(key);
    for (const follower of this.#followers) void follower(key, undefined);
    const state = this.#nodes.get(key);
    if (state !== undefined && state.streams === 0 && state.count(state.watches) + state.count(state.deltaWatches) === 0) this.#release(key, state);
  }

  /** What the cache knows about a key (a copy), or `undefined` if no stream of it is known. */
  getStatusInfo(key: string): StatusInfo | undefined {
    const state = this.#nodes.get(key);
    if (state === undefined) return undefined;
    return state.status.info({ numWatches: state.count(state.watches), numDeltaWatches: state.count(state.deltaWatches), openStreams: state.streams });
  }

  /** The keys the cache holds status for: those with open streams or watches. */
  getStatusKeys(): string[] {
    return [...this.#nodes.keys()];
  }

  /**
   * Calls `follower` for every snapshot held now, then for each one set or cleared, until the returned function
   * is called. For the server's worker mode; applications rarely need it.
   */
  follow(follower: SnapshotFollower): () => void {
    for (const [key, snapshot] of this.#snapshots) void follower(key, snapshot);
    this.#followers.add(follower);
    return () => {
      this.#followers.delete(follower);
    };
  }

  /** The options another process needs to run a copy of this cache (the server's worker mode uses them). */
  settings(): SnapshotCacheSettings {
    return this.#settings;
  }

  /**
   * Records in the status a request that a stream in another process received, with the server's verdict on
   * it, and emits the verdict, as if the stream were served here. Ignored unless a stream of the node is open
   * (`streamOpened`). For the server's worker mode.
   */
  recordRequest(request: { node: Node; ack?: AckEvent | undefined; nack?: NackEvent | undefined }): void {
    const state = this.#nodes.get(this.#hash(request.node));
    if (state !== undefined) this.#record(state, request);
  }

  /** Records in the status a response given in another process (see {@link SnapshotCache.recordRequest}). */
  recordSent(node: Node, typeUrl: ResourceTypeUrl, version: string): void {
    this.#nodes.get(this.#hash(node))?.status.sent(typeUrl, version, new Date());
  }

  /** The cache key of a node (the `hash` option; by default the node id). */
  keyOf(node: Node): string {
    return this.#hash(node);
  }

  /** Stops the heartbeat timer. The cache keeps working otherwise. */
  close(): void {
    if (this.#heartbeatTimer !== undefined) clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = undefined;
  }

  #state(key: string, node: Node): NodeState {
    let state = this.#nodes.get(key);
    if (state === undefined) {
      state = new NodeState(key, node);
      this.#nodes.set(key, state);
    }
    return state;
  }

  /** Counts a stream of this node, so that its state is kept until the last one closes. */
  streamOpened(node: Node): void {
    const state = this.#state(this.#hash(node), node);
    state.streams++;
    if (state.releaseTimer !== undefined) {
      clearTimeout(state.releaseTimer);
      state.releaseTimer = undefined;
    }
  }

  /**
   * Releases a key's watches and status when its last stream closes (after `releaseDelayMs`), so that
   * connection churn does not grow memory. The snapshot stays: the application owns it (see `clearSnapshot`).
   */
  streamClosed(node: Node): void {
    const key = this.#hash(node);
    const state = this.#nodes.get(key);
    if (state === undefined) return;
    state.streams = Math.max(0, state.streams - 1);
    if (state.streams > 0) return;
    if (this.#releaseDelayMs <= 0) {
      this.#release(key, state);
    } else if (state.releaseTimer === undefined) {
      state.releaseTimer = setTimeout(() => {
        state.releaseTimer = undefined;
        if (state.streams === 0) this.#release(key, state);
      }, this.#releaseDelayMs).unref();
    }
  }

  #release(key: string, state: NodeState): void {
    for (const set of state.watches.values()) for (const w of set) w.done = true;
    for (const set of state.deltaWatches.values()) for (const w of set) w.done = true;
    state.watches.clear();
    state.deltaWatches.clear();
    if (this.#nodes.get(key) === state) this.#nodes.delete(key);
    this.#log.debug({ key }, 'released the state of a cache key: its last stream closed');
  }

  /** Records a request and the server's verdict it carries, and emits the verdict. */
  #record(state: NodeState, request: { node: Node; ack?: AckEvent | undefined; nack?: NackEvent | undefined }): void {
    state.status.requested(request, new Date());
    if (request.ack !== undefined) this.emit('ack', request.ack, state.status.key);
    if (request.nack !== undefined) {
      const { typeUrl, rejectedVersion, errorDetail } = request.nack;
      this.#log.warn({ key: state.status.key, typeUrl, rejectedVersion, error: errorDetail.message }, `rejected ${TYPE_SHORT_NAME[typeUrl]}`);
      this.emit('nack', request.nack, state.status.key);
    }
  }

  /** Opens a state-of-the-world watch (see the class rules). */
  createWatch(request: WatchRequest, respond: (response: Response) => void): CancelWatch {
    const key = this.#hash(request.node);
    const state = this.#state(key, request.node);
    this.#record(state, request);
    const bucket = state.bucket(state.watches, request.typeUrl);
    const watch: SotwWatch = { request, respond, bucket, done: false, baseline: undefined, rejectedVersion: undefined };
    // A client subscribed to nothing (grpc-js unsubscribes everything before closing) has nothing to receive.
    const t = wantsNothing(request) ? undefined : this.#snapshots.get(key)?.typeResources(request.typeUrl);
    if (t !== undefined) {
      if (request.errorDetail !== undefined) {
        // The server knows the rejected version from the nonce; without it, assume the current one was rejected.
        watch.rejectedVersion = request.rejectedVersion ?? t.version;
        if (t.version !== watch.rejectedVersion) {
          this.#answer(state, watch, t.response(request.wildcard, request.resourceNames));
          return () => undefined;
        }
        watch.baseline = t;
      } else if (request.responseNonce === '' || request.versionInfo !== t.version) {
        this.#answer(state, watch, t.response(request.wildcard, request.resourceNames));
        return () => undefined;
      } else if (lacksNames(request, t)) {
        // The client holds this version but not every name it subscribes to: it is sent what it lacks.
        this.#answer(state, watch, t.catchUp(request.wildcard, request.resourceNames, request.knownNames!));
        return () => undefined;
      } else {
        watch.baseline = t;
      }
    } else if (request.errorDetail !== undefined) {
      watch.rejectedVersion = request.rejectedVersion;
    }
    bucket.add(watch);
    this.#log.debug({ key, typeUrl: request.typeUrl, versionInfo: request.versionInfo }, 'watch waits');
    return () => {
      watch.done = true;
      bucket.delete(watch);
    };
  }

  #reviewSotw(state: NodeState, watch: SotwWatch, snapshot: Snapshot): void {
    const { request } = watch;
    const t = snapshot.typeResources(request.typeUrl);
    if (t === undefined || wantsNothing(request)) return;
    let answer: boolean;
    if (watch.baseline !== undefined) {
      // Same version and same content as what the client holds (or rejected): nothing to say.
      answer = !t.sameAs(watch.baseline);
      if (!answer) watch.baseline = t;
    } else if (watch.rejectedVersion !== undefined) {
      answer = t.version !== watch.rejectedVersion;
    } else {
      answer = request.responseNonce === '' || request.versionInfo !== t.version || lacksNames(request, t);
    }
    if (answer) this.#answer(state, watch, t.response(request.wildcard, request.resourceNames));
  }

  #answer(state: NodeState, watch: SotwWatch, response: Response): void {
    this.#deliver(state, watch, response, response.version);
  }

  /**
   * Every answer goes through here: the watch is closed and forgotten, the status records what was sent, and a
   * watch whose `respond` throws is logged without stopping the answers to the others.
   */
  #deliver<R extends Response | DeltaResponse>(state: NodeState, watch: SotwWatch | DeltaWatch, response: R, version: string): void {
    watch.done = true;
    watch.bucket.delete(watch as SotwWatch & DeltaWatch);
    const { key } = state.status;
    state.status.sent(response.typeUrl, version, new Date());
    this.#log.debug({ key, typeUrl: response.typeUrl, version, resources: response.resources.length }, 'watch answered');
    try {
      (watch.respond as (response: R) => void)(response);
    } catch (error) {
      this.#log.error({ key, typeUrl: response.typeUrl, err: error }, 'a watch failed to take its response; the others are answered');
    }
  }

  /** Opens a delta watch: answered with new or changed resources and removals, else when the snapshot changes. */
  createDeltaWatch(request: DeltaWatchRequest, respond: (response: DeltaResponse) => void): CancelWatch {
    const key = this.#hash(request.node);
    const state = this.#state(key, request.node);
    this.#record(state, request);
    const bucket = state.bucket(state.deltaWatches, request.typeUrl);
    const watch: DeltaWatch = { request, respond, bucket, done: false, rejected: undefined, baseline: undefined };
    const t = this.#snapshots.get(key)?.typeResources(request.typeUrl);
    if (t !== undefined) {
      if (request.errorDetail !== undefined) {
        // Delta NACKs name no version: what this client would be sent now is what it rejected.
        const diff = deltaDiff(t.items, request);
        watch.rejected = new Map(diff.resources.map((r) => [r.name, r.hash]));
      } else {
        // The client holds what the last response left it with, and its subscription is unchanged since: only
        // names that changed since the resources that response was made from need comparing.
        const returned = request.returnedState;
        if (returned instanceof TypeResources && returned.typeUrl === request.typeUrl) watch.baseline = returned;
        if (this.#reviewDelta(state, watch, undefined, t)) return () => undefined;
      }
    }
    bucket.add(watch);
    return () => {
      watch.done = true;
      bucket.delete(watch);
    };
  }

  /** Answers a delta watch if there is anything to say; returns true if it did. */
  #reviewDelta(state: NodeState, watch: DeltaWatch, snapshot: Snapshot | undefined, given?: TypeResources): boolean {
    const { request } = watch;
    const t = given ?? snapshot?.typeResources(request.typeUrl);
    if (t === undefined) return false;
    let diff;
    if (watch.baseline === undefined) {
      diff = deltaDiff(t.items, request, watch.rejected);
    } else {
      // Names that did not change since the baseline decide as they did then: nothing to send.
      const changed = t.changedSince(watch.baseline);
      diff = changed.length === 0 ? undefined : deltaDiff(t.items, request, watch.rejected, changed);
    }
    if (diff === undefined || (diff.resources.length === 0 && diff.removed.length === 0 && diff.unresolved.length === 0 && !mustAnswerDelta(request))) {
      watch.baseline = t;
      return false;
    }
    const response = watch.rejected === undefined
      ? t.deltaResponse(diff.resources, diff.removed, false, diff.unresolved)
      : createDeltaResponse(t.typeUrl, t.version, diff.resources, diff.removed, false, diff.unresolved);
    this.#deliver(state, watch, response, t.version);
    return true;
  }

  /**
   * Sends a TTL heartbeat to every open watch that covers resources with a TTL (the timer of
   * `heartbeatIntervalMs` calls this; call it yourself to drive heartbeats from your own schedule). A watch that
   * NACKed the current version gets none: that would resend the rejected version.
   */
  sendHeartbeats(): void {
    for (const [key, state] of this.#nodes) {
      const snapshot = this.#snapshots.get(key);
      if (snapshot === undefined) continue;
      for (const typeUrl of RESOURCE_TYPE_URLS) {
        const t = snapshot.typeResources(typeUrl);
        if (t === undefined || t.withTtl.length === 0) continue;
        for (const watch of [...(state.watches.get(typeUrl) ?? [])]) {
          if (watch.done || watch.rejectedVersion !== undefined || watch.baseline === undefined || !t.sameAs(watch.baseline)) continue;
          const response = t.heartbeat(watch.request.wildcard, watch.request.resourceNames);
          if (response !== undefined) this.#answer(state, watch, response);
        }
        for (const watch of [...(state.deltaWatches.get(typeUrl) ?? [])]) {
          if (watch.done || watch.rejected !== undefined) continue;
          const { request } = watch;
          // Only what the client holds at the current content: a heartbeat refreshes, it does not update.
          const alive = t.withTtl.filter((r) => request.known.get(r.name) === r.hash && (request.wildcard || request.subscribed.has(r.name)));
          if (alive.length === 0) continue;
          this.#deliver(state, watch, t.deltaResponse(alive, [], true), t.version);
        }
      }
    }
  }

  /**
   * Answers a REST or `Fetch…` request from the key's snapshot: the subscribed resources if the version differs
   * from the request's, else `undefined` (up to date). Throws `NOT_FOUND` when the key has no snapshot.
   */
  fetch(request: WatchRequest): Response | undefined {
    const key = this.#hash(request.node);
    const snapshot = this.#snapshots.get(key);
    if (snapshot === undefined) throw new XdsError(Code.NOT_FOUND, `no snapshot for "${key}": set one with setSnapshot("${key}", snapshot)`);
    const t = snapshot.typeResources(request.typeUrl);
    if (t === undefined) throw new XdsError(Code.NOT_FOUND, `the snapshot of "${key}" has no ${TYPE_SHORT_NAME[request.typeUrl]}`);
    if (request.versionInfo === t.version) return undefined;
    return t.response(request.wildcard, request.resourceNames);
  }
}
