/**
 * The cache's status in Envoy's words: per node and resource type, the version sent, the version ACKed, the last
 * NACK with Envoy's message, and a sync state named as CSDS's `ConfigStatus` and `istioctl proxy-status` name
 * it (SYNCED, NOT_SENT, STALE, ERROR). Read from any cache that keeps a status (the {@link StatusSource}
 * methods of `SnapshotCache`); nothing here changes the cache.
 */
import { RESOURCE_TYPE_URLS, TYPE_SHORT_NAME, type ResourceTypeUrl } from '../resource/type-url.js';
import type { Node } from '../types/index.js';
import type { Snapshot } from './snapshot.js';
import type { StatusInfo, TypeStatus } from './status.js';

/**
 * Whether a node runs what the control plane last sent it, for one resource type (CSDS's `ConfigStatus`):
 * - `SYNCED`: the node ACKed the version last sent;
 * - `NOT_SENT`: nothing of this type was sent yet (the node has not asked, or the snapshot lacks it);
 * - `STALE`: a version was sent and the node has neither ACKed nor NACKed it yet;
 * - `ERROR`: the node NACKed the version last sent (it keeps running an older one).
 */
export type SyncState = 'SYNCED' | 'NOT_SENT' | 'STALE' | 'ERROR';

/** The last rejection, as the sync status shows it. */
export interface SyncNack {
  /** The version rejected. */
  readonly version: string;
  /** The gRPC status code the client sent with it (Envoy sends 13, INTERNAL). */
  readonly code: number;
  /** Envoy's message: which resource and field it could not accept. */
  readonly message: string;
  /** When the NACK arrived. */
  readonly time: Date;
}

/** One resource type of one node. */
export interface TypeSyncStatus {
  /** The resource type. */
  readonly typeUrl: ResourceTypeUrl;
  /** The type's short name (`clusters`, `listeners`, ...). */
  readonly type: string;
  /** SYNCED, NOT_SENT, STALE or ERROR (see {@link SyncState}). */
  readonly state: SyncState;
  /** The version of the last response sent of this type. */
  readonly sentVersion: string | undefined;
  /** When it was sent. */
  readonly sentTime: Date | undefined;
  /** The last version the node ACKed. */
  readonly ackedVersion: string | undefined;
  /** When that ACK arrived. */
  readonly ackTime: Date | undefined;
  /** The version the node's snapshot holds now; undefined when the snapshot lacks the type (or there is none). */
  readonly snapshotVersion: string | undefined;
  /** The last NACK, kept after later ACKs so that its message can still be read. */
  readonly lastNack: SyncNack | undefined;
}

/** What one cache key (a node, or a group of nodes sharing a key) runs. */
export interface NodeSyncStatus {
  /** The cache key (by default the node id). */
  readonly key: string;
  /** The node id of the last stream under this key. */
  readonly nodeId: string;
  /** The node of the last stream under this key. */
  readonly node: Node;
  /** Streams open under the key. */
  readonly openStreams: number;
  /** When the last request arrived. */
  readonly lastRequestTime: Date | undefined;
  /** The version of the key's snapshot; undefined when none is set. */
  readonly snapshotVersion: string | undefined;
  /**
   * The worst state among the types sent to it (ERROR over STALE over SYNCED); NOT_SENT when nothing was sent.
   * Types never sent do not count: a node that does not ask for secrets is not out of sync for lacking them.
   */
  readonly state: SyncState;
  /** Per resource type, in ADS order: the types the node was sent or asked about, and those its snapshot has resources of. */
  readonly types: readonly TypeSyncStatus[];
}

/**
 * What a cache exposes for status reports: the keys it tracks and their status (`SnapshotCache` has these), and
 * optionally each key's snapshot, whose versions and resources reports show beside what was sent.
 */
export interface StatusSource {
  /** The keys with a status (those with open streams or watches). */
  getStatusKeys(): readonly string[];
  /** The status of a key, or undefined when it is no longer tracked. */
  getStatusInfo(key: string): StatusInfo | undefined;
  /** The snapshot of a key, if the cache has snapshots. */
  getSnapshot?(key: string): Snapshot | undefined;
}

/** True if `value` has the methods of a {@link StatusSource}. */
export function isStatusSource(value: unknown): value is StatusSource {
  const v = value as Partial<StatusSource> | null;
  return typeof v === 'object' && v !== null && typeof v.getStatusKeys === 'function' && typeof v.getStatusInfo === 'function';
}

const after = (a: Date | undefined, b: Date | undefined): boolean => a !== undefined && (b === undefined || a.getTime() >= b.getTime());

/**
 * The sync state of one type's status (see {@link SyncState}). The NACK counts when it is newer than the last
 * ACK and rejected the version last sent; a newer version sent after it makes the type STALE until answered.
 */
export function syncState(status: TypeStatus | undefined): SyncState {
  const sent = status?.lastSentVersion;
  if (status === undefined || sent === undefined) return 'NOT_SENT';
  const nack = status.lastNack;
  if (nack !== undefined && nack.version === sent && after(nack.time, status.lastAckTime)) return 'ERROR';
  if (status.lastAckedVersion === sent && after(status.lastAckTime, status.lastSentTime)) return 'SYNCED';
  // An ACK of the version sent that arrived in the same millisecond as a later send of the same version.
  if (status.lastAckedVersion === sent && nack === undefined) return 'SYNCED';
  return 'STALE';
}

const SEVERITY: Record<SyncState, number> = { NOT_SENT: 0, SYNCED: 1, STALE: 2, ERROR: 3 };

/** The sync status of one key, or undefined when the source no longer tracks it. */
export function nodeSyncStatus(source: StatusSource, key: string): NodeSyncStatus | undefined {
  const info = source.getStatusInfo(key);
  if (info === undefined) return undefined;
  const snapshot = source.getSnapshot?.(key);
  const types: TypeSyncStatus[] = [];
  let worst: SyncState | undefined;
  for (const typeUrl of RESOURCE_TYPE_URLS) {
    const status = info.types.get(typeUrl);
    const snapshotVersion = snapshot?.has(typeUrl) === true ? snapshot.getVersion(typeUrl) : undefined;
    if (status === undefined && (snapshot === undefined || snapshot.getResources(typeUrl).size === 0)) continue;
    const state = syncState(status);
    const nack = status?.lastNack;
    types.push({
      typeUrl,
      type: TYPE_SHORT_NAME[typeUrl],
      state,
      sentVersion: status?.lastSentVersion,
      sentTime: status?.lastSentTime,
      ackedVersion: status?.lastAckedVersion,
      ackTime: status?.lastAckTime,
      snapshotVersion,
      lastNack: nack === undefined ? undefined : { version: nack.version, code: nack.errorDetail.code, message: nack.message, time: nack.time },
    });
    if (worst === undefined || SEVERITY[state] > SEVERITY[worst]) worst = state;
  }
  return {
    key,
    nodeId: info.node.id ?? '',
    node: info.node,
    openStreams: info.openStreams,
    lastRequestTime: info.lastRequestTime,
    snapshotVersion: snapshot?.version,
    state: worst ?? 'NOT_SENT',
    types,
  };
}

/** The sync status of every key the source tracks, sorted by key. */
export function syncStatus(source: StatusSource): NodeSyncStatus[] {
  const out: NodeSyncStatus[] = [];
  for (const key of [...source.getStatusKeys()].sort()) {
    const status = nodeSyncStatus(source, key);
    if (status !== undefined) out.push(status);
  }
  return out;
}
