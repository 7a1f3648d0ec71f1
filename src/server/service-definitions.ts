/**
 * Hand-built `@grpc/grpc-js` service definitions of every v3 xDS service. Requests are decoded with protobuf.js;
 * responses are already-encoded `Buffer`s (assembled from the cache's encoded resources) that the serializer
 * passes through untouched. This is what lets one encoding of a resource serve every stream.
 */
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import { TypeUrl } from '../resource/type-url.js';
import type { ResourceTypeUrl } from '../resource/type-url.js';
import { decodeDeltaDiscoveryRequest, decodeDiscoveryRequest } from './messages.js';

/** The three kinds of xDS methods. */
export type XdsMethodKind = 'sotw' | 'delta' | 'fetch';

/** One xDS service of the Envoy API. */
export interface XdsServiceInfo {
  /** Fully qualified service name, as in the `.proto`. */
  readonly service: string;
  /** The type it serves; undefined for the aggregated service (ADS), which serves them all. */
  readonly typeUrl: ResourceTypeUrl | undefined;
  /** Method names by kind; a service lacks the kinds its `.proto` does not declare. */
  readonly methods: Readonly<Partial<Record<XdsMethodKind, string>>>;
}

/** Every v3 xDS service, with its methods as declared in Envoy's `envoy/service/&ast;/v3/*.proto`. */
export const XDS_SERVICES: readonly XdsServiceInfo[] = [
  {
    service: 'envoy.service.discovery.v3.AggregatedDiscoveryService',
    typeUrl: undefined,
    methods: { sotw: 'StreamAggregatedResources', delta: 'DeltaAggregatedResources' },
  },
  {
    service: 'envoy.service.cluster.v3.ClusterDiscoveryService',
    typeUrl: TypeUrl.Cluster,
    methods: { sotw: 'StreamClusters', delta: 'DeltaClusters', fetch: 'FetchClusters' },
  },
  {
    service: 'envoy.service.endpoint.v3.EndpointDiscoveryService',
    typeUrl: TypeUrl.Endpoint,
    methods: { sotw: 'StreamEndpoints', delta: 'DeltaEndpoints', fetch: 'FetchEndpoints' },
  },
  {
    service: 'envoy.service.endpoint.v3.LocalityEndpointDiscoveryService',
    typeUrl: TypeUrl.LbEndpoint,
    methods: { delta: 'DeltaLocalityEndpoints' },
  },
  {
    service: 'envoy.service.listener.v3.ListenerDiscoveryService',
    typeUrl: TypeUrl.Listener,
    methods: { sotw: 'StreamListeners', delta: 'DeltaListeners', fetch: 'FetchListeners' },
  },
  {
    service: 'envoy.service.route.v3.RouteDiscoveryService',
    typeUrl: TypeUrl.Route,
    methods: { sotw: 'StreamRoutes', delta: 'DeltaRoutes', fetch: 'FetchRoutes' },
  },
  {
    service: 'envoy.service.route.v3.ScopedRoutesDiscoveryService',
    typeUrl: TypeUrl.ScopedRoute,
    methods: { sotw: 'StreamScopedRoutes', delta: 'DeltaScopedRoutes', fetch: 'FetchScopedRoutes' },
  },
  {
    service: 'envoy.service.route.v3.VirtualHostDiscoveryService',
    typeUrl: TypeUrl.VirtualHost,
    methods: { delta: 'DeltaVirtualHosts' },
  },
  {
    service: 'envoy.service.secret.v3.SecretDiscoveryService',
    typeUrl: TypeUrl.Secret,
    methods: { sotw: 'StreamSecrets', delta: 'DeltaSecrets', fetch: 'FetchSecrets' },
  },
  {
    service: 'envoy.service.runtime.v3.RuntimeDiscoveryService',
    typeUrl: TypeUrl.Runtime,
    methods: { sotw: 'StreamRuntime', delta: 'DeltaRuntime', fetch: 'FetchRuntime' },
  },
  {
    service: 'envoy.service.extension.v3.ExtensionConfigDiscoveryService',
    typeUrl: TypeUrl.ExtensionConfig,
    methods: { sotw: 'StreamExtensionConfigs', delta: 'DeltaExtensionConfigs', fetch: 'FetchExtensionConfigs' },
  },
];

/** The gRPC path of a method: `/package.Service/Method`. */
export function methodPath(service: string, method: string): string {
  return `/${service}/${method}`;
}

const passThrough = (value: Buffer): Buffer => value;

function method(service: string, name: string, kind: XdsMethodKind): MethodDefinition<unknown, Buffer> {
  const streaming = kind !== 'fetch';
  return {
    path: methodPath(service, name),
    requestStream: streaming,
    responseStream: streaming,
    // The server only reads requests; clients that reuse this definition send pre-encoded bytes.
    requestSerialize: passThrough as (value: unknown) => Buffer,
    requestDeserialize: kind === 'delta' ? decodeDeltaDiscoveryRequest : decodeDiscoveryRequest,
    responseSerialize: passThrough,
    responseDeserialize: passThrough,
    originalName: name.charAt(0).toLowerCase() + name.slice(1),
  };
}

/** The grpc-js service definition of one xDS service, keyed by method name. */
export function serviceDefinition(info: XdsServiceInfo): ServiceDefinition {
  const definition: Record<string, MethodDefinition<unknown, Buffer>> = {};
  for (const kind of ['sotw', 'delta', 'fetch'] as const) {
    const name = info.methods[kind];
    if (name !== undefined) definition[name] = method(info.service, name, kind);
  }
  return definition;
}
