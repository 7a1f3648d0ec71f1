import type { envoy } from '../../generated/types.js';
import { Code, excerpt, XdsError } from './xds-error.js';

/** The prefix of every type URL Envoy uses. */
export const TYPE_URL_PREFIX = 'type.googleapis.com/';

/**
 * Type URLs of the xDS resource types and of the discovery messages, as in go-control-plane's
 * `resource.ClusterType`, `resource.EndpointType` and friends.
 */
export const TypeUrl = {
  /** Clusters (CDS): `envoy.config.cluster.v3.Cluster`. */
  Cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  /** Endpoint assignments (EDS): `envoy.config.endpoint.v3.ClusterLoadAssignment`. */
  Endpoint: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  /** Locality endpoints (LEDS): `envoy.config.endpoint.v3.LbEndpoint`. */
  LbEndpoint: 'type.googleapis.com/envoy.config.endpoint.v3.LbEndpoint',
  /** Listeners (LDS): `envoy.config.listener.v3.Listener`. */
  Listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  /** Route configurations (RDS): `envoy.config.route.v3.RouteConfiguration`. */
  Route: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  /** Scoped route configurations (SRDS): `envoy.config.route.v3.ScopedRouteConfiguration`. */
  ScopedRoute: 'type.googleapis.com/envoy.config.route.v3.ScopedRouteConfiguration',
  /** Virtual hosts (VHDS, delta only): `envoy.config.route.v3.VirtualHost`. */
  VirtualHost: 'type.googleapis.com/envoy.config.route.v3.VirtualHost',
  /** Secrets (SDS): `envoy.extensions.transport_sockets.tls.v3.Secret`. */
  Secret: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
  /** Runtime layers (RTDS): `envoy.service.runtime.v3.Runtime`. */
  Runtime: 'type.googleapis.com/envoy.service.runtime.v3.Runtime',
  /** Extension configurations (ECDS): `envoy.config.core.v3.TypedExtensionConfig`. */
  ExtensionConfig: 'type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig',
  /** `envoy.service.discovery.v3.DiscoveryRequest`. */
  DiscoveryRequest: 'type.googleapis.com/envoy.service.discovery.v3.DiscoveryRequest',
  /** `envoy.service.discovery.v3.DiscoveryResponse`. */
  DiscoveryResponse: 'type.googleapis.com/envoy.service.discovery.v3.DiscoveryResponse',
  /** `envoy.service.discovery.v3.DeltaDiscoveryRequest`. */
  DeltaDiscoveryRequest: 'type.googleapis.com/envoy.service.discovery.v3.DeltaDiscoveryRequest',
  /** `envoy.service.discovery.v3.DeltaDiscoveryResponse`. */
  DeltaDiscoveryResponse: 'type.googleapis.com/envoy.service.discovery.v3.DeltaDiscoveryResponse',
} as const;

/** The type URL of one of the xDS resource types. */
export type ResourceTypeUrl =
  | typeof TypeUrl.Cluster
  | typeof TypeUrl.Endpoint
  | typeof TypeUrl.LbEndpoint
  | typeof TypeUrl.Listener
  | typeof TypeUrl.Route
  | typeof TypeUrl.ScopedRoute
  | typeof TypeUrl.VirtualHost
  | typeof TypeUrl.Secret
  | typeof TypeUrl.Runtime
  | typeof TypeUrl.ExtensionConfig;

/** The message type (in ProtoJSON shape with proto field names) of each xDS resource type. */
export interface ResourceTypeMap {
  [TypeUrl.Cluster]: envoy.config.cluster.v3.Cluster;
  [TypeUrl.Endpoint]: envoy.config.endpoint.v3.ClusterLoadAssignment;
  [TypeUrl.LbEndpoint]: envoy.config.endpoint.v3.LbEndpoint;
  [TypeUrl.Listener]: envoy.config.listener.v3.Listener;
  [TypeUrl.Route]: envoy.config.route.v3.RouteConfiguration;
  [TypeUrl.ScopedRoute]: envoy.config.route.v3.ScopedRouteConfiguration;
  [TypeUrl.VirtualHost]: envoy.config.route.v3.VirtualHost;
  [TypeUrl.Secret]: envoy.extensions.transport_sockets.tls.v3.Secret;
  [TypeUrl.Runtime]: envoy.service.runtime.v3.Runtime;
  [TypeUrl.ExtensionConfig]: envoy.config.core.v3.TypedExtensionConfig;
}

/**
 * The xDS resource types in the order a snapshot sends them over ADS: clusters before endpoints, listeners
 * before routes, so that Envoy never warms a resource whose dependencies it has not asked for yet.
 */
export const RESOURCE_TYPE_URLS: readonly ResourceTypeUrl[] = [
  TypeUrl.Cluster,
  TypeUrl.Endpoint,
  TypeUrl.LbEndpoint,
  TypeUrl.Listener,
  TypeUrl.Route,
  TypeUrl.ScopedRoute,
  TypeUrl.VirtualHost,
  TypeUrl.Secret,
  TypeUrl.Runtime,
  TypeUrl.ExtensionConfig,
];

const RESOURCE_TYPE_SET: ReadonlySet<string> = new Set(RESOURCE_TYPE_URLS);

/** Short names used in logs and in REST paths (`/v3/discovery:clusters`). */
export const TYPE_SHORT_NAME: Readonly<Record<ResourceTypeUrl, string>> = {
  [TypeUrl.Cluster]: 'clusters',
  [TypeUrl.Endpoint]: 'endpoints',
  [TypeUrl.LbEndpoint]: 'leds',
  [TypeUrl.Listener]: 'listeners',
  [TypeUrl.Route]: 'routes',
  [TypeUrl.ScopedRoute]: 'scoped-routes',
  [TypeUrl.VirtualHost]: 'virtualhosts',
  [TypeUrl.Secret]: 'secrets',
  [TypeUrl.Runtime]: 'runtime',
  [TypeUrl.ExtensionConfig]: 'extension_configs',
};

/** True if `typeUrl` is one of the xDS resource types this library serves. */
export function isResourceTypeUrl(typeUrl: string): typeUrl is ResourceTypeUrl {
  return RESOURCE_TYPE_SET.has(typeUrl);
}

/**
 * Returns `typeUrl` if it is a known xDS resource type, and throws an `INVALID_ARGUMENT` error that lists the
 * known ones otherwise.
 */
export function assertResourceTypeUrl(typeUrl: string): ResourceTypeUrl {
  if (isResourceTypeUrl(typeUrl)) return typeUrl;
  throw new XdsError(
    Code.INVALID_ARGUMENT,
    `unknown xDS resource type URL "${excerpt(typeUrl)}"; known type URLs: ${RESOURCE_TYPE_URLS.join(', ')}`,
  );
}

/** The fully qualified message name of a type URL: `type.googleapis.com/a.b.C` gives `a.b.C`. */
export function typeNameOf(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
}

/** The type URL of a fully qualified message name: `a.b.C` gives `type.googleapis.com/a.b.C`. */
export function typeUrlOf(typeName: string): string {
  return typeName.includes('/') ? typeName : TYPE_URL_PREFIX + typeName.replace(/^\./, '');
}
