/**
 * Prometheus metrics for an xDS control plane, through `prom-client` (an optional peer dependency: install it
 * to use this subpath; the rest of the package never loads it). docs/operations.md shows the whole setup.
 *
 * ```ts
 * import { Registry } from 'prom-client';
 * import { createPrometheusMetrics } from 'xds-control-plane/metrics';
 *
 * const registry = new Registry();
 * const metrics = createPrometheusMetrics({ registry });
 * const xds = createServer(cache, { callbacks: metrics.callbacks });
 * metrics.observeCache(cache);
 * metrics.observeServer(xds);
 * ```
 *
 * @packageDocumentation
 */
export { createPrometheusMetrics } from './prometheus.js';
export type { PrometheusMetrics, PrometheusMetricsOptions, ObservableCache, ObservableServer } from './prometheus.js';
