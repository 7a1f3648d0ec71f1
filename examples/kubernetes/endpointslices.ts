// Kubernetes EndpointSlices to EDS: the ready endpoints of a Service, watched with @kubernetes/client-node's
// informer, as one ClusterLoadAssignment per Service (one locality per zone), for a LinearCache of endpoints.
// docs/recipes/kubernetes-endpointslices.md explains it; test/recipes-kubernetes.test.ts runs it against a fake
// API server.
import * as k8s from '@kubernetes/client-node';
import type { ClusterLoadAssignment } from 'xds-control-plane/types';

/**
 * The ClusterLoadAssignment of `clusterName` from a Service's EndpointSlices: every address of every endpoint
 * that is not `ready: false` (Kubernetes reads a missing `ready` as ready), on the slice's port named `portName`
 * (or its first port), grouped by zone. Sorted, so that every replica of the control plane builds the same bytes.
 */
export function loadAssignmentFromSlices(clusterName: string, slices: readonly k8s.V1EndpointSlice[], portName?: string): ClusterLoadAssignment {
  const byZone = new Map<string, Map<string, { address: string; port: number }>>();
  for (const slice of slices) {
    const port = (portName === undefined ? slice.ports?.[0] : slice.ports?.find((p) => p.name === portName))?.port;
    if (port === undefined) continue;
    for (const endpoint of slice.endpoints) {
      if (endpoint.conditions?.ready === false) continue;
      const zone = endpoint.zone ?? '';
      const hosts = byZone.get(zone) ?? new Map<string, { address: string; port: number }>();
      byZone.set(zone, hosts);
      for (const address of endpoint.addresses) hosts.set(`${address}:${port}`, { address, port });
    }
  }
  return {
    cluster_name: clusterName,
    endpoints: [...byZone.keys()].sort().map((zone) => ({
      ...(zone ? { locality: { zone } } : {}),
      lb_endpoints: [...(byZone.get(zone)?.entries() ?? [])]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([, { address, port }]) => ({ endpoint: { address: { socket_address: { address, port_value: port } } } })),
    })),
  };
}

/** Options of {@link watchServiceEndpoints}. */
export interface WatchServiceEndpointsOptions {
  kubeConfig: k8s.KubeConfig;
  namespace: string;
  /** The Service whose EndpointSlices to follow (label `kubernetes.io/service-name`). */
  service: string;
  /** The EDS resource name: the cluster's `eds_cluster_config.service_name`, or its name. */
  clusterName: string;
  portName?: string;
  /** Called with the whole assignment after the first list and after every change. */
  onChange: (assignment: ClusterLoadAssignment) => void;
  /** What to do when the watch fails; it is restarted after `restartDelayMs` either way. */
  onError?: (error: unknown) => void;
  restartDelayMs?: number;
}

/** Follows a Service's EndpointSlices; `stop()` on the result ends the watch. */
export async function watchServiceEndpoints(options: WatchServiceEndpointsOptions): Promise<{ stop: () => Promise<void> }> {
  const { kubeConfig, namespace, service } = options;
  const api = kubeConfig.makeApiClient(k8s.DiscoveryV1Api);
  const labelSelector = `kubernetes.io/service-name=${service}`;
  const informer = k8s.makeInformer(
    kubeConfig,
    `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`,
    () => api.listNamespacedEndpointSlice({ namespace, labelSelector }),
    labelSelector,
  );
  const publish = (): void => options.onChange(loadAssignmentFromSlices(options.clusterName, informer.list(namespace), options.portName));
  let stopped = false;
  informer.on('add', publish);
  informer.on('update', publish);
  informer.on('delete', publish);
  informer.on('error', (error: unknown) => {
    options.onError?.(error);
    // The informer stops on an error; start it again (it lists anew, so nothing is missed).
    setTimeout(() => {
      if (!stopped) void informer.start().catch(options.onError);
    }, options.restartDelayMs ?? 5_000).unref();
  });
  await informer.start();
  publish(); // also when the Service has no slices yet: an empty assignment
  return {
    stop: async () => {
      stopped = true;
      await informer.stop();
    },
  };
}
