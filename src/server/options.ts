import type { ChannelOptions } from '@grpc/grpc-js';
import { TypeUrl } from '../resource/type-url.js';
import type { ResourceTypeUrl } from '../resource/type-url.js';
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
   * resource once and hands the bytes to every worker; ACK/NACK verdicts, status and callbacks come back to it.
   * Only for a `SnapshotCache`; see docs/workers.md for what else differs. Default: no workers, one thread.
   */
  workers?: number | WorkerOptions | undefined;
  /** Hooks into the stream lifecycle (see {@link Callbacks}); all optional. */
  callbacks?: Callbacks | undefined;
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
  /** Largest request accepted, in bytes (gRPC and REST). Default 16 MiB. */
  maxReceiveMessageLength?: number | undefined;
  /** Largest response sent, in bytes. Default unlimited (-1): a large snapshot must reach its Envoys. */
  maxSendMessageLength?: number | undefined;
  /** HTTP/2 keepalive ping interval. Default 30 s, as go-control-plane's example server. */
  keepaliveTimeMs?: number | undefined;
  /** How long to wait for a keepalive ping's answer before closing the connection. Default 5 s. */
  keepaliveTimeoutMs?: number | undefined;
  /** Concurrent streams per HTTP/2 connection. Default 1000000, as go-control-plane's example server. */
  maxConcurrentStreams?: number | undefined;
  /** Extra `@grpc/grpc-js` server options for the server that {@link XdsServer.listen} creates. */
  grpcOptions?: ChannelOptions | undefined;
}

/** Options with every default applied. */
export interface ResolvedOptions {
  readonly callbacks: Callbacks;
  readonly orderedAds: boolean;
  readonly logger: Logger;
  readonly legacyWildcardTypes: ReadonlySet<string>;
  readonly maxResourceNames: number;
  readonly requestRateLimit: RequestRateLimit | false;
  readonly maxReceiveMessageLength: number;
  readonly maxSendMessageLength: number;
  readonly keepaliveTimeMs: number;
  readonly keepaliveTimeoutMs: number;
  readonly maxConcurrentStreams: number;
  readonly grpcOptions: ChannelOptions;
  readonly workers: { readonly count: number; readonly hashModule: string | undefined } | undefined;
}

/** The defaults, exported so that documentation and tests quote the same numbers. */
export const DEFAULTS = Object.freeze({
  orderedAds: true,
  legacyWildcardTypes: [TypeUrl.Listener, TypeUrl.Cluster, TypeUrl.ScopedRoute] as readonly ResourceTypeUrl[],
  maxResourceNames: 100_000,
  requestRateLimit: Object.freeze({ perSecond: 100, burst: 500 }),
  maxReceiveMessageLength: 16 * 1024 * 1024,
  maxSendMessageLength: -1,
  keepaliveTimeMs: 30_000,
  keepaliveTimeoutMs: 5_000,
  maxConcurrentStreams: 1_000_000,
});

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`server option ${name} must be a positive number, got ${value}`);
  return value;
}

/** Applies the defaults and checks the values. */
export function resolveOptions(options: ServerOptions = {}): ResolvedOptions {
  const rate = options.requestRateLimit ?? DEFAULTS.requestRateLimit;
  if (rate !== false) {
    positive('requestRateLimit.perSecond', rate.perSecond, 1);
    positive('requestRateLimit.burst', rate.burst, 1);
  }
  return {
    callbacks: options.callbacks ?? {},
    orderedAds: options.orderedAds ?? DEFAULTS.orderedAds,
    logger: options.logger ?? silentLogger,
    legacyWildcardTypes: new Set(options.legacyWildcardTypes ?? DEFAULTS.legacyWildcardTypes),
    maxResourceNames: positive('maxResourceNames', options.maxResourceNames, DEFAULTS.maxResourceNames),
    requestRateLimit: rate,
    maxReceiveMessageLength: positive('maxReceiveMessageLength', options.maxReceiveMessageLength, DEFAULTS.maxReceiveMessageLength),
    maxSendMessageLength: options.maxSendMessageLength ?? DEFAULTS.maxSendMessageLength,
    keepaliveTimeMs: positive('keepaliveTimeMs', options.keepaliveTimeMs, DEFAULTS.keepaliveTimeMs),
    keepaliveTimeoutMs: positive('keepaliveTimeoutMs', options.keepaliveTimeoutMs, DEFAULTS.keepaliveTimeoutMs),
    maxConcurrentStreams: positive('maxConcurrentStreams', options.maxConcurrentStreams, DEFAULTS.maxConcurrentStreams),
    grpcOptions: options.grpcOptions ?? {},
    workers: resolveWorkers(options.workers),
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
