import type { ChannelOptions } from '@grpc/grpc-js';
import { TypeUrl } from '../resource/type-url.js';
import type { ResourceTypeUrl } from '../resource/type-url.js';
import type { Authorizer } from './authorize.js';
import type { StatusSource } from '../cache/sync-status.js';
import type { Callbacks } from './callbacks.js';
import { silentLogger } from '../logger.js';
import type { Logger } from '../logger.js';

/** How many requests one stream may send: a token bucket of `burst` tokens refilled at `perSecond`. */
export interface RequestRateLimit {
  /** Sustained requests per second. */
  perSecond: number;
  /** Requests allowed at once above the sustained rate. */
  burst: number;
}

/** The worker mode: streams spread over worker processes (see docs/workers.md). */
export interface WorkerOptions {
  /** Worker processes to start; each serves the streams of the connections it is handed. */
  count: number;
  /**
   * A module (path or `file:` URL) whose default export is the cache's `hash` function, loaded in each worker.
   * Required when the `SnapshotCache` was given its own `hash`: a function cannot be sent to another process.
   */
  hashModule?: string | URL | undefined;
}

/** Options of {@link createServer}. Every one has a default suited to thousands of connected Envoys. */
export interface ServerOptions {
  /**
   * Spread the streams over worker processes (`node:cluster`) to use more than one core: a number of workers, or
   * {@link WorkerOptions}. The application's process stays the only one that holds its cache: it encodes each
   * resource once and hands the bytes to the workers holding streams of the key; ACK/NACK verdicts, status and
   * callbacks come back to it, and it answers the `Fetch…` calls the workers receive, from its cache.
   * Only for a `SnapshotCache`; see docs/workers.md for what else differs. Default: no workers, one thread.
   */
  workers?: number | WorkerOptions | undefined;
  /** Hooks into the stream lifecycle (see {@link Callbacks}); all optional. */
  callbacks?: Callbacks | undefined;
  /**
   * Decides whether a client may be served, from its verified certificate, request metadata and node: asked at
   * the first request of each stream and for each `Fetch…` call and REST request; a denial is
   * `PERMISSION_DENIED` (REST: 403). It may also choose the node served, so that the cache keys snapshots by the
   * verified identity. See `bindNodeToCertificate`. Default: every client is served as the node it claims.
   * With `workers`, it runs in this process: the worker holding the stream asks it and waits for the answer, and
   * a `Fetch…` call is authorized here as part of answering it.
   */
  authorize?: Authorizer | undefined;
  /**
   * Order the responses of an ADS stream by type, as `RESOURCE_TYPE_URLS` (xds-control-plane/resource) lists them (clusters before
   * endpoints, listeners before routes), when several are ready at once. Default true. Nothing is withheld:
   * a response waits at most for the current turn of the event loop.
   */
  orderedAds?: boolean | undefined;
  /** Where the server logs; `console` and `pino` fit. Default: silent. */
  logger?: Logger | undefined;
  /**
   * Resource types for which a first request with no names means "everything" (the legacy wildcard of the xDS
   * protocol). Default: listeners, clusters and scoped routes, the types Envoy subscribes to by wildcard.
   */
  legacyWildcardTypes?: readonly ResourceTypeUrl[] | undefined;
  /**
   * Most resource names one request (or, in delta, one stream's subscription of one type) may carry; beyond it
   * the stream ends with `RESOURCE_EXHAUSTED`. Default 100000.
   */
  maxResourceNames?: number | undefined;
  /** Request rate allowed per stream; beyond it the stream ends with `RESOURCE_EXHAUSTED`. `false` disables. */
  requestRateLimit?: RequestRateLimit | false | undefined;
  /**
   * Connections with open xDS streams (told apart by client address and port); a stream that would open one
   * more is refused with `RESOURCE_EXHAUSTED`. Default 10000. `false` disables.
   */
  maxConnections?: number | false | undefined;
  /**
   * xDS streams open at once on one connection; beyond it a new stream is refused with `RESOURCE_EXHAUSTED`.
   * Envoy opens one ADS stream per connection; without ADS it opens one per type and one per EDS cluster on the
   * same connection. Default 500. `false` disables.
   */
  maxStreamsPerConnection?: number | false | undefined;
  /**
   * xDS streams open at once for one node id; beyond it a stream's first request is refused with
   * `RESOURCE_EXHAUSTED`. Off (`false`) by default: node ids are what clients claim unless `authorize` binds them,
   * and the Envoys of one deployment often share a node id, so no default fits every fleet. Set it together with
   * an authorizer that binds node ids to certificates.
   */
  maxStreamsPerNode?: number | false | undefined;
  /**
   * New xDS streams accepted per second, server-wide; beyond it a new stream is refused with `RESOURCE_EXHAUSTED`
   * (Envoy retries with backoff). Default 500 per second, bursts of 5000. `false` disables.
   */
  newStreamRate?: RequestRateLimit | false | undefined;
  /** Largest request accepted, in bytes (gRPC and REST). Default 16 MiB. */
  maxReceiveMessageLength?: number | undefined;
  /** Largest response sent, in bytes. Default unlimited (-1): a large snapshot must reach its Envoys. */
  maxSendMessageLength?: number | undefined;
  /** HTTP/2 keepalive ping interval. Default 30 s, as go-control-plane's example server. */
  keepaliveTimeMs?: number | undefined;
  /** How long to wait for a keepalive ping's answer before closing the connection. Default 5 s. */
  keepaliveTimeoutMs?: number | undefined;
  /**
   * Concurrent calls per HTTP/2 connection (`grpc.max_concurrent_streams`), for the server that
   * {@link XdsServer.listen} creates: the transport's ceiling, over `maxStreamsPerConnection` so that `Fetch…`
   * calls fit beside the streams. A client over it waits for a free slot: it gets no status, which is why the
   * xDS limit is `maxStreamsPerConnection`. Default 1000.
   */
  maxConcurrentStreams?: number | undefined;
  /** REST: how long a client may take to send the request headers (`server.headersTimeout`). Default 10 s. */
  restHeadersTimeoutMs?: number | undefined;
  /** REST: how long a client may take to send the whole request (`server.requestTimeout`). Default 30 s. */
  restRequestTimeoutMs?: number | undefined;
  /** Extra `@grpc/grpc-js` server options for the server that {@link XdsServer.listen} creates. */
  grpcOptions?: ChannelOptions | undefined;
  /**
   * Serve the Client Status Discovery Service (CSDS, `envoy.service.status.v3`) beside the xDS services, so
   * that standard tools can ask what each client runs. `true` answers from the server's cache (it must keep a
   * status, as `SnapshotCache` does); or give the {@link StatusSource} to answer from. Default off. With
   * `workers`, the workers serve it and this process answers, from a status up to 100 ms behind them.
   */
  csds?: boolean | StatusSource | undefined;
  /**
   * Serve the gRPC health service (`grpc.health.v1.Health`) beside the xDS services: NOT_SERVING until the
   * cache can answer (a `SnapshotCache`: once a snapshot is set; any other cache: at once), SERVING then,
   * NOT_SERVING from the moment `close()` starts. Change it yourself through {@link XdsServer.health}. With
   * `workers`, each worker serves it from this process's statuses. Default off.
   */
  health?: boolean | undefined;
}

/** Options with every default applied. */
export interface ResolvedOptions {
  readonly callbacks: Callbacks;
  readonly authorize: Authorizer | undefined;
  readonly orderedAds: boolean;
  readonly logger: Logger;
  readonly legacyWildcardTypes: ReadonlySet<string>;
  readonly maxResourceNames: number;
  readonly requestRateLimit: RequestRateLimit | false;
  readonly maxConnections: number | false;
  readonly maxStreamsPerConnection: number | false;
  readonly maxStreamsPerNode: number | false;
  readonly newStreamRate: RequestRateLimit | false;
  readonly restHeadersTimeoutMs: number;
  readonly restRequestTimeoutMs: number;
  readonly maxReceiveMessageLength: number;
  readonly maxSendMessageLength: number;
  readonly keepaliveTimeMs: number;
  readonly keepaliveTimeoutMs: number;
  readonly maxConcurrentStreams: number;
  readonly grpcOptions: ChannelOptions;
  readonly workers: { readonly count: number; readonly hashModule: string | undefined } | undefined;
  readonly csds: boolean | StatusSource | undefined;
  readonly health: boolean;
}

/** The defaults, exported so that documentation and tests quote the same numbers. */
export const DEFAULTS = Object.freeze({
  orderedAds: true,
  legacyWildcardTypes: [TypeUrl.Listener, TypeUrl.Cluster, TypeUrl.ScopedRoute] as readonly ResourceTypeUrl[],
  maxResourceNames: 100_000,
  requestRateLimit: Object.freeze({ perSecond: 100, burst: 500 }),
  maxConnections: 10_000,
  maxStreamsPerConnection: 500,
  maxStreamsPerNode: false,
  newStreamRate: Object.freeze({ perSecond: 500, burst: 5000 }),
  restHeadersTimeoutMs: 10_000,
  restRequestTimeoutMs: 30_000,
  maxReceiveMessageLength: 16 * 1024 * 1024,
  maxSendMessageLength: -1,
  keepaliveTimeMs: 30_000,
  keepaliveTimeoutMs: 5_000,
  maxConcurrentStreams: 1000,
});

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`server option ${name} must be a positive number, got ${value}`);
  return value;
}

function positiveOrOff(name: string, value: number | false | undefined, fallback: number | false): number | false {
  if (value === undefined || value === false) return value ?? fallback;
  return positive(name, value, value);
}

function rateOrOff(name: string, value: RequestRateLimit | false | undefined, fallback: RequestRateLimit): RequestRateLimit | false {
  const rate = value ?? fallback;
  if (rate !== false) {
    positive(`${name}.perSecond`, rate.perSecond, 1);
    positive(`${name}.burst`, rate.burst, 1);
  }
  return rate;
}

/** Applies the defaults and checks the values. */
export function resolveOptions(options: ServerOptions = {}): ResolvedOptions {
  const { restHeadersTimeoutMs, restRequestTimeoutMs } = options;
  if (restHeadersTimeoutMs !== undefined && restRequestTimeoutMs !== undefined && restHeadersTimeoutMs > restRequestTimeoutMs) {
    throw new RangeError(`server option restHeadersTimeoutMs (${restHeadersTimeoutMs}) must not exceed restRequestTimeoutMs (${restRequestTimeoutMs}): the headers are part of the request`);
  }
  return {
    callbacks: options.callbacks ?? {},
    authorize: options.authorize,
    orderedAds: options.orderedAds ?? DEFAULTS.orderedAds,
    logger: options.logger ?? silentLogger,
    legacyWildcardTypes: new Set(options.legacyWildcardTypes ?? DEFAULTS.legacyWildcardTypes),
    maxResourceNames: positive('maxResourceNames', options.maxResourceNames, DEFAULTS.maxResourceNames),
    requestRateLimit: rateOrOff('requestRateLimit', options.requestRateLimit, DEFAULTS.requestRateLimit),
    maxConnections: positiveOrOff('maxConnections', options.maxConnections, DEFAULTS.maxConnections),
    maxStreamsPerConnection: positiveOrOff('maxStreamsPerConnection', options.maxStreamsPerConnection, DEFAULTS.maxStreamsPerConnection),
    maxStreamsPerNode: positiveOrOff('maxStreamsPerNode', options.maxStreamsPerNode, DEFAULTS.maxStreamsPerNode),
    newStreamRate: rateOrOff('newStreamRate', options.newStreamRate, DEFAULTS.newStreamRate),
    restHeadersTimeoutMs: positive('restHeadersTimeoutMs', options.restHeadersTimeoutMs, DEFAULTS.restHeadersTimeoutMs),
    restRequestTimeoutMs: positive('restRequestTimeoutMs', options.restRequestTimeoutMs, Math.max(DEFAULTS.restRequestTimeoutMs, options.restHeadersTimeoutMs ?? 0)),
    maxReceiveMessageLength: positive('maxReceiveMessageLength', options.maxReceiveMessageLength, DEFAULTS.maxReceiveMessageLength),
    maxSendMessageLength: options.maxSendMessageLength ?? DEFAULTS.maxSendMessageLength,
    keepaliveTimeMs: positive('keepaliveTimeMs', options.keepaliveTimeMs, DEFAULTS.keepaliveTimeMs),
    keepaliveTimeoutMs: positive('keepaliveTimeoutMs', options.keepaliveTimeoutMs, DEFAULTS.keepaliveTimeoutMs),
    maxConcurrentStreams: positive('maxConcurrentStreams', options.maxConcurrentStreams, DEFAULTS.maxConcurrentStreams),
    grpcOptions: options.grpcOptions ?? {},
    workers: resolveWorkers(options.workers),
    csds: options.csds,
    health: options.health === true,
  };
}

function resolveWorkers(workers: number | WorkerOptions | undefined): ResolvedOptions['workers'] {
  if (workers === undefined) return undefined;
  const { count, hashModule } = typeof workers === 'number' ? { count: workers, hashModule: undefined } : workers;
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`server option workers must be a positive integer (the number of worker processes), got ${count}`);
  return { count, hashModule: hashModule === undefined ? undefined : String(hashModule) };
}

/** The `@grpc/grpc-js` server options that the resolved options stand for. */
export function grpcServerOptions(options: ResolvedOptions): ChannelOptions {
  return {
    'grpc.keepalive_time_ms': options.keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': options.keepaliveTimeoutMs,
    'grpc.max_concurrent_streams': options.maxConcurrentStreams,
    'grpc.max_receive_message_length': options.maxReceiveMessageLength,
    'grpc.max_send_message_length': options.maxSendMessageLength,
    ...options.grpcOptions,
  };
}
