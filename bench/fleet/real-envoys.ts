/**
 * The real-Envoy cross-check of the fleet benchmark (`--real-envoys K`): K real Envoy 1.40 processes take the
 * last K node ids of the fleet, beside N - K simulated ones, so that their convergence can be set against the
 * simulated Envoys' in the same run.
 *
 * Each runs Envoy's ordinary ADS bootstrap (as `capture-envoy.ts` captured it: node on every request, Envoy's
 * HTTP/2 defaults), `--concurrency 1`. Convergence is read from Envoy's admin API, polled every
 * {@link POLL_MS} ms, so it is late by up to a poll:
 *
 * - `connect`: the Envoys start when the simulated storm starts; converged when `/ready` says `LIVE` (every
 *   cluster, its endpoints, the listener and its routes applied). This includes Envoy's own start-up, reported
 *   apart (`startupMs`: until its admin API answered).
 * - `one-endpoint`: `cluster.cluster-00000.update_success` (EDS updates applied to cluster 0) went up.
 * - `all`: `cluster_manager.cds.update_success` went up and no cluster is warming (every new cluster got its
 *   endpoints).
 *
 * The reconnect scenario is not measured on them: the generator drops only its own connections.
 *
 * @packageDocumentation
 */
import { startEnvoy, type EnvoyInstance } from '../../test/support/envoy.js';
import { nodeId, wallNow, type XdsMode } from './protocol.js';

/** Admin polling interval, ms. */
export const POLL_MS = 25;

/**
 * Envoy's ordinary ADS bootstrap to the server on 127.0.0.1:`port`: nothing set that Envoy does not set by
 * default (also what `capture-envoy.ts` runs Envoy with).
 */
export function bootstrap(id: string, mode: XdsMode, port: number): Record<string, unknown> {
  return {
    node: { id, cluster: 'bench-fleet' },
    dynamic_resources: {
      ads_config: {
        api_type: mode === 'sotw' ? 'GRPC' : 'DELTA_GRPC',
        transport_api_version: 'V3',
        grpc_services: [{ envoy_grpc: { cluster_name: 'xds_cluster' } }],
      },
      cds_config: { ads: {}, resource_api_version: 'V3' },
      lds_config: { ads: {}, resource_api_version: 'V3' },
    },
    static_resources: {
      clusters: [
        {
          name: 'xds_cluster',
          type: 'STATIC',
          connect_timeout: '1s',
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
          load_assignment: {
            cluster_name: 'xds_cluster',
            endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }],
          },
        },
      ],
    },
  };
}

/** Convergence of the real Envoys in one scenario. */
export interface RealEnvoyResult {
  /** Envoys measured and how many converged. */
  readonly envoys: number;
  readonly converged: number;
  /** Convergence of each Envoy, ms from the scenario's t0, ascending (Infinity: did not converge). */
  readonly latenciesMs: readonly number[];
  /** `connect` only: until each Envoy's admin API answered, ms from t0. */
  readonly startupMs?: readonly number[];
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function counters(e: EnvoyInstance, filter: string): Promise<Record<string, number>> {
  try {
    return await e.stats(filter);
  } catch {
    return {};
  }
}

/** Real Envoys in the fleet. */
export class RealEnvoys {
  private readonly envoys: EnvoyInstance[] = [];

  /** @param first - index of the first node id ({@link nodeId}) they take; `count` ids follow. */
  constructor(
    readonly first: number,
    readonly count: number,
  ) {}

  /** Starts them against the server; resolves with their connect result once every one is LIVE or time ran out. */
  async connect(mode: XdsMode, port: number, t0: number, timeoutMs: number): Promise<RealEnvoyResult> {
    const latencies: number[] = [];
    const startup: number[] = [];
    await Promise.all(
      Array.from({ length: this.count }, async (_, i) => {
        const id = nodeId(this.first + i);
        const e = await startEnvoy({ bootstrap: bootstrap(id, mode, port), ready: 'admin', name: id, startTimeoutMs: timeoutMs });
        this.envoys.push(e);
        startup.push(wallNow() - t0);
        latencies.push(await this.until(async () => (await e.serverState()).includes('LIVE'), t0, timeoutMs));
      }),
    );
    return result(this.count, latencies, startup.sort((a, b) => a - b));
  }

  /** Counters before an update, to compare with. */
  async baseline(): Promise<Record<string, number>[]> {
    return Promise.all(this.envoys.map((e) => counters(e, '^cluster(_manager\\.cds\\.update_success|\\.cluster-00000\\.update_success)$')));
  }

  /** Waits until every Envoy applied the update (`one-endpoint` or `all`) started at `t0`. */
  async converge(scenario: 'one-endpoint' | 'all', base: readonly Record<string, number>[], t0: number, timeoutMs: number): Promise<RealEnvoyResult> {
    const latencies = await Promise.all(
      this.envoys.map((e, i) =>
        this.until(async () => {
          const before = base[i] ?? {};
          if (scenario === 'one-endpoint') {
            const key = 'cluster.cluster-00000.update_success';
            return ((await counters(e, '^cluster\\.cluster-00000\\.update_success$'))[key] ?? 0) > (before[key] ?? 0);
          }
          const c = await counters(e, '^cluster_manager\\.(cds\\.update_success|warming_clusters)$');
          const key = 'cluster_manager.cds.update_success';
          return (c[key] ?? 0) > (before[key] ?? 0) && c['cluster_manager.warming_clusters'] === 0;
        }, t0, timeoutMs),
      ),
    );
    return result(this.count, latencies);
  }

  private async until(check: () => Promise<boolean>, t0: number, timeoutMs: number): Promise<number> {
    const deadline = t0 + timeoutMs;
    while (wallNow() < deadline) {
      if (await check()) return wallNow() - t0;
      await sleep(POLL_MS);
    }
    return Number.POSITIVE_INFINITY;
  }

  async stop(): Promise<void> {
    await Promise.all(this.envoys.map((e) => e.stop()));
    this.envoys.length = 0;
  }
}

function result(envoys: number, latencies: number[], startupMs?: number[]): RealEnvoyResult {
  const sorted = latencies.sort((a, b) => a - b);
  return {
    envoys,
    converged: sorted.filter(Number.isFinite).length,
    latenciesMs: sorted,
    ...(startupMs === undefined ? {} : { startupMs }),
  };
}
