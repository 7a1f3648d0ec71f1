/**
 * Prometheus metrics of a control plane through `prom-client` (an optional peer dependency: only this subpath
 * imports it). Metrics are registered in the registry you give, never in prom-client's global one, so that two
 * servers in one process, or tests, do not collide.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { EventEmitter } from 'eventemitter3';
import type { PushedEvent, SetEvent, SnapshotCacheEvents } from '../cache/status.js';
import type { AckEvent } from '../cache/verdict.js';
import type { Snapshot } from '../cache/snapshot.js';
import { RESOURCE_TYPE_URLS, TYPE_SHORT_NAME, type ResourceTypeUrl } from '../resource/type-url.js';
import type { Callbacks } from '../server/callbacks.js';
import type { ServerStats } from '../server/server.js';

/** Options of {@link createPrometheusMetrics}. */
export interface PrometheusMetricsOptions {
  /** The registry to register the metrics in (`new Registry()` of prom-client). Required: the global one is never used. */
  registry: Registry;
  /** Prefix of every metric name. Default `xds_`. */
  prefix?: string | undefined;
  /** Histogram buckets of the durations, in seconds. Default from 1 ms to 60 s. */
  durationBuckets?: readonly number[] | undefined;
  /** Histogram buckets of response sizes, in bytes. Default from 1 KiB to 64 MiB. */
  sizeBuckets?: readonly number[] | undefined;
}

/** The events of a snapshot cache that metrics read: `set`, `pushed` and `ack` (`SnapshotCache` emits them). */
export type ObservableCache = Pick<EventEmitter<SnapshotCacheEvents>, 'on' | 'off'>;

/** What a server tells about itself (`XdsServer` has it). */
export interface ObservableServer {
  stats(): ServerStats;
}

/** The metrics, and the hooks that feed them. */
export interface PrometheusMetrics {
  /**
   * Server callbacks that count streams, requests, responses and their bytes, ACKs and NACKs. Give them to
   * `createServer` (with your own through `combineCallbacks`).
   */
  readonly callbacks: Callbacks;
  /**
   * Follows a snapshot cache's events: set-to-ACK convergence per type, push duration, snapshots set. Returns a
   * function that stops following. Keeps a few strings per cache key the application sets.
   */
  observeCache(cache: ObservableCache): () => void;
  /** Reads open watches, open streams and pending responses from the server at each scrape. */
  observeServer(server: ObservableServer): void;
  /** Runs `build` (which makes a snapshot) and records how long it took, even when it throws. */
  timeSnapshotBuild<T extends Snapshot | Promise<Snapshot>>(build: () => T): T;
}

const DEFAULT_DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const DEFAULT_SIZE_BUCKETS = [1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];

/** The label of a type: its short name (`clusters`), or `unknown` for anything else. */
function typeLabel(typeUrl: string): string {
  return (TYPE_SHORT_NAME as Record<string, string | undefined>)[typeUrl] ?? 'unknown';
}

/** The service label of a stream: `ads`, or the type its per-type service serves. */
function serviceLabel(typeUrl: string): string {
  return typeUrl === '' ? 'ads' : typeLabel(typeUrl);
}

/**
 * Creates the metrics in `options.registry`:
 *
 * | metric | kind | labels | what |
 * |---|---|---|---|
 * | `xds_streams_opened_total` | counter | protocol, service | streams opened (protocol `sotw`/`delta`; service `ads` or the type) |
 * | `xds_streams_open` | gauge | protocol, service | streams open now |
 * | `xds_requests_total` | counter | protocol, type | discovery requests (protocol `fetch` for `Fetch…` and REST) |
 * | `xds_responses_total` | counter | protocol, type | responses written |
 * | `xds_response_bytes` | histogram | protocol, type | size of each response written |
 * | `xds_acks_total` | counter | protocol, type | responses accepted |
 * | `xds_nacks_total` | counter | protocol, type | responses rejected |
 * | `xds_convergence_seconds` | histogram | type | from `setSnapshot` to the first ACK of the version it set, per key and type |
 * | `xds_snapshot_push_seconds` | histogram | | from `setSnapshot` until every watch it changed was answered |
 * | `xds_snapshots_set_total` | counter | | snapshots set |
 * | `xds_snapshot_build_seconds` | histogram | | snapshot builds timed with `timeSnapshotBuild` |
 * | `xds_watches_open` | gauge | | watches open in the cache for the server's streams |
 * | `xds_pending_responses` | gauge | | responses waiting for slow readers |
 */
export function createPrometheusMetrics(options: PrometheusMetricsOptions): PrometheusMetrics {
  const { registry } = options;
  if (registry === undefined || typeof registry.registerMetric !== 'function') {
    throw new TypeError('createPrometheusMetrics needs { registry }: a prom-client Registry of your own (new Registry()), never the global one');
  }
  const prefix = options.prefix ?? 'xds_';
  const durationBuckets = [...(options.durationBuckets ?? DEFAULT_DURATION_BUCKETS)];
  const sizeBuckets = [...(options.sizeBuckets ?? DEFAULT_SIZE_BUCKETS)];
  const registers = [registry];

  const streamsOpened = new Counter({ name: `${prefix}streams_opened_total`, help: 'xDS streams opened, by protocol (sotw, delta) and service (ads or the resource type).', labelNames: ['protocol', 'service'], registers });
  const streamsOpen = new Gauge({ name: `${prefix}streams_open`, help: 'xDS streams open now, by protocol and service.', labelNames: ['protocol', 'service'], registers });
  const requests = new Counter({ name: `${prefix}requests_total`, help: 'Discovery requests received, by protocol and resource type.', labelNames: ['protocol', 'type'], registers });
  const responses = new Counter({ name: `${prefix}responses_total`, help: 'Discovery responses written, by protocol and resource type.', labelNames: ['protocol', 'type'], registers });
  const responseBytes = new Histogram({ name: `${prefix}response_bytes`, help: 'Size of each discovery response written, in bytes.', labelNames: ['protocol', 'type'], buckets: sizeBuckets, registers });
  const acks = new Counter({ name: `${prefix}acks_total`, help: 'Responses accepted (ACK), by protocol and resource type.', labelNames: ['protocol', 'type'], registers });
  const nacks = new Counter({ name: `${prefix}nacks_total`, help: 'Responses rejected (NACK), by protocol and resource type.', labelNames: ['protocol', 'type'], registers });
  const convergence = new Histogram({ name: `${prefix}convergence_seconds`, help: 'From setSnapshot to the first ACK of the version it set, per cache key and resource type.', labelNames: ['type'], buckets: durationBuckets, registers });
  const push = new Histogram({ name: `${prefix}snapshot_push_seconds`, help: 'From setSnapshot until every watch it changed was answered.', buckets: durationBuckets, registers });
  const setCount = new Counter({ name: `${prefix}snapshots_set_total`, help: 'Snapshots set.', registers });
  const build = new Histogram({ name: `${prefix}snapshot_build_seconds`, help: 'Time to build a snapshot (timed with timeSnapshotBuild).', buckets: durationBuckets, registers });
  const servers: ObservableServer[] = [];
  const total = (pick: (s: ServerStats) => number) => servers.reduce((n, s) => n + pick(s.stats()), 0);
  new Gauge({ name: `${prefix}watches_open`, help: 'Watches open in the cache for the server streams.', registers, collect() { this.set(total((s) => s.watches)); } });
  new Gauge({ name: `${prefix}pending_responses`, help: 'Responses waiting for slow readers (at most one per type per stream).', registers, collect() { this.set(total((s) => s.pendingResponses)); } });

  // The labels of each open stream, for its close (which names only the stream); removed on close.
  const open = new Map<number, { protocol: string; service: string; typeUrl: string }>();
  const opened = (protocol: string) => (streamId: number, typeUrl: string) => {
    const labels = { protocol, service: serviceLabel(typeUrl) };
    open.set(streamId, { ...labels, typeUrl });
    streamsOpened.inc(labels);
    streamsOpen.inc(labels);
  };
  const closed = (streamId: number) => {
    const labels = open.get(streamId);
    if (labels === undefined) return;
    open.delete(streamId);
    streamsOpen.dec({ protocol: labels.protocol, service: labels.service });
  };
  // Per-type services may leave type_url empty: the stream's service names the type.
  const requestType = (streamId: number, typeUrl: string | undefined) => typeLabel(typeUrl || (open.get(streamId)?.typeUrl ?? ''));

  const callbacks: Callbacks = {
    onStreamOpen: opened('sotw'),
    onDeltaStreamOpen: opened('delta'),
    onStreamClosed: closed,
    onDeltaStreamClosed: closed,
    onStreamRequest: (streamId, request) => void requests.inc({ protocol: 'sotw', type: requestType(streamId, request.type_url) }),
    onStreamDeltaRequest: (streamId, request) => void requests.inc({ protocol: 'delta', type: requestType(streamId, request.type_url) }),
    onStreamResponse: (_id, _request, response) => {
      const labels = { protocol: 'sotw', type: typeLabel(response.typeUrl) };
      responses.inc(labels);
      responseBytes.observe(labels, response.body().length);
    },
    onStreamDeltaResponse: (_id, _request, response) => {
      const labels = { protocol: 'delta', type: typeLabel(response.typeUrl) };
      responses.inc(labels);
      responseBytes.observe(labels, response.body().length);
    },
    onFetchRequest: (request) => void requests.inc({ protocol: 'fetch', type: typeLabel(request.type_url) }),
    onFetchResponse: (_request, response) => {
      if (response === undefined) return;
      const labels = { protocol: 'fetch', type: typeLabel(response.typeUrl) };
      responses.inc(labels);
      responseBytes.observe(labels, response.body().length);
    },
    onAck: (event) => acks.inc({ protocol: event.delta ? 'delta' : 'sotw', type: typeLabel(event.typeUrl) }),
    onNack: (event) => nacks.inc({ protocol: event.delta ? 'delta' : 'sotw', type: typeLabel(event.typeUrl) }),
  };

  return {
    callbacks,
    observeCache(cache) {
      // Per key: the versions of its last snapshot, and since when each changed type waits for its first ACK.
      const versions = new Map<string, Map<ResourceTypeUrl, string>>();
      const waiting = new Map<string, { since: number; types: Map<ResourceTypeUrl, string> }>();
      const onSet = ({ key, snapshot }: SetEvent) => {
        setCount.inc();
        const before = versions.get(key);
        const now = new Map<ResourceTypeUrl, string>();
        const changed = new Map<ResourceTypeUrl, string>();
        for (const typeUrl of RESOURCE_TYPE_URLS) {
          if (!snapshot.has(typeUrl)) continue;
          const version = snapshot.getVersion(typeUrl);
          now.set(typeUrl, version);
          if (before?.get(typeUrl) !== version) changed.set(typeUrl, version);
        }
        versions.set(key, now);
        // Types unchanged by this snapshot keep waiting for the version an earlier one set.
        const earlier = waiting.get(key);
        if (earlier !== undefined) for (const [typeUrl, version] of earlier.types) if (!changed.has(typeUrl) && now.get(typeUrl) === version) changed.set(typeUrl, version);
        if (changed.size > 0) waiting.set(key, { since: performance.now(), types: changed });
      };
      const onAck = ({ typeUrl, version }: AckEvent, key: string) => {
        const entry = waiting.get(key);
        if (entry === undefined || entry.types.get(typeUrl) !== version) return;
        convergence.observe({ type: typeLabel(typeUrl) }, (performance.now() - entry.since) / 1000);
        entry.types.delete(typeUrl);
        if (entry.types.size === 0) waiting.delete(key);
      };
      const onPushed = ({ durationMs }: PushedEvent) => push.observe(durationMs / 1000);
      cache.on('set', onSet);
      cache.on('ack', onAck);
      cache.on('pushed', onPushed);
      return () => {
        cache.off('set', onSet);
        cache.off('ack', onAck);
        cache.off('pushed', onPushed);
      };
    },
    observeServer(server) {
      servers.push(server);
    },
    timeSnapshotBuild(make) {
      const end = build.startTimer();
      let result;
      try {
        result = make();
      } catch (error) {
        end();
        throw error;
      }
      if (result instanceof Promise) return result.finally(end) as typeof result;
      end();
      return result;
    },
  };
}
