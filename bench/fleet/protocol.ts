/**
 * Messages between the fleet orchestrator and the load generator (over the `child_process.fork` IPC
 * channel), and the expectations that define when a simulated Envoy has converged.
 *
 * @packageDocumentation
 */

/** The four xDS types a simulated Envoy subscribes to over ADS. */
export type XdsKind = 'cds' | 'eds' | 'lds' | 'rds';

/** Type URLs of the four kinds. */
export const TYPE_URLS: Readonly<Record<XdsKind, string>> = {
  cds: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  eds: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  lds: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  rds: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
};

/** xDS protocol variant of the streams. */
export type XdsMode = 'sotw' | 'delta';

/**
 * One condition of convergence for one xDS type: after the update mark, the stream must have received and
 * ACKed responses of `kind` that carry every name in `names`, or (without `names`) at least `count`
 * resources (SotW: in one response, which is full state; delta: summed over responses).
 */
export interface Expectation {
  /** The xDS type. */
  readonly kind: XdsKind;
  /** Resource names that must be delivered. */
  readonly names?: readonly string[];
  /** Number of resources that must be delivered when `names` is not given. */
  readonly count?: number;
}

/**
 * How far the simulated Envoys copy real Envoy 1.40 (bench/fleet/fixtures/envoy-1.40/facts.json). The defaults
 * ({@link ENVOY_LIKE}) copy it; the other values are shortcuts, each behind its own flag of the orchestrator.
 */
export interface Realism {
  /** `envoy`: Envoy's captured node (about 61 KB) with the stream's own id; `small`: id and cluster only. */
  readonly node: 'envoy' | 'small';
  /** The node on every request (Envoy's default), or on the first request of a stream only. */
  readonly nodeOnEveryRequest: boolean;
  /**
   * `random`: a reconnecting delta stream sends `initial_resource_versions` in a fresh random order, encoded for
   * that connection, as Envoy does (its hash order changes per connection); `shared`: in the order the versions
   * arrived, one encoded block reused by every stream that holds the same versions (equal bytes across streams).
   */
  readonly versionsOrder: 'random' | 'shared';
}

/** Real Envoy 1.40's behavior. */
export const ENVOY_LIKE: Realism = { node: 'envoy', nodeOnEveryRequest: true, versionsOrder: 'random' };

/** Node id of simulated Envoy `i` (the servers set a snapshot for each of these ids). */
export function nodeId(i: number): string {
  return `envoy-${String(i).padStart(5, '0')}`;
}

/** Commands from the orchestrator to the load generator. */
export type LoadCommand =
  | {
      /** Opens the streams (or re-opens them after `disconnect`, with their last versions) and tracks
       * convergence from the moment it starts opening them. */
      readonly cmd: 'connect';
      readonly id: string;
      /** `host:port` on loopback. */
      readonly target: string;
      readonly streams: number;
      /** Index of the first stream's node id ({@link nodeId}); the streams take the ids that follow. */
      readonly firstNode: number;
      /** Streams per HTTP/2 connection (Envoy: 1; more share a gRPC client each). */
      readonly streamsPerConnection: number;
      readonly mode: XdsMode;
      /** HTTP/2 flow-control window of the clients (stream and connection), bytes. */
      readonly windowBytes: number;
      readonly realism: Realism;
      readonly expect: readonly Expectation[];
      readonly timeoutMs: number;
    }
  | {
      /** Starts tracking an update: answers `marked` at once. */
      readonly cmd: 'mark';
      readonly id: string;
      readonly expect: readonly Expectation[];
    }
  | {
      /** Waits until every stream converged on the marked update, latencies measured from `t0`. */
      readonly cmd: 'await';
      readonly id: string;
      /** Wall-clock start of the update (Unix ms), as reported by the server. */
      readonly t0: number;
      readonly timeoutMs: number;
    }
  | { readonly cmd: 'disconnect'; readonly id: string }
  | { readonly cmd: 'quit'; readonly id: string };

/** Measures of one phase (from its start until its result). */
export interface PhaseResult {
  readonly type: 'result';
  readonly id: string;
  /** Streams that took part. */
  readonly streams: number;
  /** Streams that converged before the time-out. */
  readonly converged: number;
  /** Convergence latency of each converged stream, ms, ascending. */
  readonly latenciesMs: readonly number[];
  /** Bytes of xDS response messages received (gRPC message payloads, without HTTP/2 framing). */
  readonly bytesReceived: number;
  /** xDS responses received. */
  readonly responsesReceived: number;
  /** Requests (including ACKs) sent. */
  readonly requestsSent: number;
  /** Errors of the generator (undecodable responses, unexpected types). */
  readonly errors: number;
  /** Streams that failed (connect failure, reset, status) and were opened again after Envoy's backoff. */
  readonly retries: number;
  /** Why the first retried stream failed, if any did. */
  readonly firstRetryReason?: string;
  /** First error message, if any. */
  readonly firstError?: string;
  /** CPU used by the load generator during the phase, ms. */
  readonly cpuUserMs: number;
  readonly cpuSystemMs: number;
  /** Wall-clock duration of the phase in the load generator, ms. */
  readonly wallMs: number;
  /** Resident set size of the load generator at the end of the phase, bytes. */
  readonly rssBytes: number;
  /** Longest event-loop delay of the load generator during the phase, ms. */
  readonly loopDelayMaxMs: number;
}

/** Messages from the load generator to the orchestrator. */
export type LoadReply =
  | { readonly type: 'ready' }
  | { readonly type: 'marked'; readonly id: string }
  | { readonly type: 'disconnected'; readonly id: string }
  | PhaseResult
  | { readonly type: 'error'; readonly id: string; readonly message: string };

/** Wall clock in Unix milliseconds, with sub-millisecond resolution. */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

/** A command-line flag's value as a non-negative integer (`fallback` when the flag is absent); throws naming the flag. */
export function nonNegativeInteger(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const v = Number(value);
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${flag}: not a non-negative integer: ${value}`);
  return v;
}
