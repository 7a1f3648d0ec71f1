/**
 * The caches: they decide what to send to each client and when. `SnapshotCache` serves one snapshot per node
 * (or group of nodes), `LinearCache` one collection of a single type to every node, `MuxCache` routes requests
 * among caches. The server talks to any of them through the {@link ConfigWatcher} interface. The counterpart of
 * go-control-plane's `pkg/cache/v3` and `pkg/cache/types`; docs/caches.md explains the rules.
 *
 * @packageDocumentation
 */
export { Snapshot, SnapshotConsistencyError, ResourceEntry, withTtl, withName } from './snapshot.js';
export type { SnapshotItem, SnapshotResources, SnapshotOptions, VersionedResources, MissingReference } from './snapshot.js';
export { SnapshotCache } from './snapshot-cache.js';
export type { SnapshotCacheOptions } from './snapshot-cache.js';
export { LinearCache } from './linear-cache.js';
export type { LinearCacheOptions, NamedResources } from './linear-cache.js';
export { MuxCache } from './mux-cache.js';
export type { MuxCacheOptions } from './mux-cache.js';
export type { StatusInfo, TypeStatus, NackInfo, SnapshotCacheEvents, SetEvent, PushedEvent } from './status.js';
export { syncStatus, nodeSyncStatus, syncState, isStatusSource } from './sync-status.js';
export type { SyncState, SyncNack, TypeSyncStatus, NodeSyncStatus, StatusSource } from './sync-status.js';
export type { AckEvent, NackEvent, ErrorDetail } from './verdict.js';
export { EncodedResource } from './encoded-resource.js';
export type { Logger } from '../logger.js';
export { silentLogger } from '../logger.js';

// Symbols above are what applications use. Those below are for people writing their own cache (a
// ConfigWatcher of their own): the seam the server calls, and helpers to build responses from encoded resources.
export type {
  ConfigWatcher,
  WatchRequest,
  DeltaWatchRequest,
  Response,
  DeltaResponse,
  CancelWatch,
} from './config-watcher.js';
export { RESOURCE_WRAPPER_TYPE_URL } from './encoded-resource.js';
export { createResponse, createDeltaResponse } from './response.js';
export { deltaDiff } from './delta-diff.js';
export type { SnapshotFollower, SnapshotCacheSettings } from './snapshot-cache.js';
export type { DeltaDiff } from './delta-diff.js';
