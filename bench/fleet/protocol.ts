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
      /** Streams per gRPC client (each client has its own HTTP/2 connection). */
      readonly streamsPerConnection: number;
      readonly mode: XdsMode;
      /** HTTP/2 flow-control window of the clients, bytes. */
      readonly windowBytes: number;
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
  /** Stream errors other than our own cancellations. */
  readonly errors: number;
  /** First error message, if any. */
  readonly firstError?: string;
  /** CPU used by the load generator during the phase, ms. */
  readonly cpuUserMs: number;
  readonly cpuSystemMs: number;
  /** Wall-clock duration of the phase in the load generator, ms. */
  readonly wallMs: number;
  /** Resident set size of the load generator at the end of the phase, bytes. */
  readonly rssBytes: number;
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
