/**
 * TypeScript types of the Envoy API messages, generated from Envoy's `.proto` files, in the ProtoJSON shape that
 * resources are written in here (proto field names, Duration as `"5s"`, Struct as plain JSON, Any with `@type`).
 *
 * The full tree mirrors the proto packages (`envoy.config.cluster.v3.Cluster`); the resource types and the
 * discovery messages are also exported under their short names.
 *
 * @packageDocumentation
 */
import type { envoy } from '../../generated/types.js';

export type { envoy, google, xds, udpa, validate, cel, io, opentelemetry, Any, Duration, JsonObject, JsonValue, TypeMap } from '../../generated/types.js';

/** A cluster (CDS resource). */
export type Cluster = envoy.config.cluster.v3.Cluster;
/** An endpoint assignment (EDS resource). */
export type ClusterLoadAssignment = envoy.config.endpoint.v3.ClusterLoadAssignment;
/** An endpoint (LEDS resource). */
export type LbEndpoint = envoy.config.endpoint.v3.LbEndpoint;
/** A listener (LDS resource). */
export type Listener = envoy.config.listener.v3.Listener;
/** A route configuration (RDS resource). */
export type RouteConfiguration = envoy.config.route.v3.RouteConfiguration;
/** A scoped route configuration (SRDS resource). */
export type ScopedRouteConfiguration = envoy.config.route.v3.ScopedRouteConfiguration;
/** A virtual host (VHDS resource). */
export type VirtualHost = envoy.config.route.v3.VirtualHost;
/** A secret (SDS resource). */
export type Secret = envoy.extensions.transport_sockets.tls.v3.Secret;
/** A runtime layer (RTDS resource). */
export type Runtime = envoy.service.runtime.v3.Runtime;
/** An extension configuration (ECDS resource). */
export type TypedExtensionConfig = envoy.config.core.v3.TypedExtensionConfig;
/** The HTTP connection manager network filter's configuration. */
export type HttpConnectionManager = envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
/** A state-of-the-world discovery request. */
export type DiscoveryRequest = envoy.service.discovery.v3.DiscoveryRequest;
/** A state-of-the-world discovery response. */
export type DiscoveryResponse = envoy.service.discovery.v3.DiscoveryResponse;
/** A delta (incremental) discovery request. */
export type DeltaDiscoveryRequest = envoy.service.discovery.v3.DeltaDiscoveryRequest;
/** A delta (incremental) discovery response. */
export type DeltaDiscoveryResponse = envoy.service.discovery.v3.DeltaDiscoveryResponse;
/** The node identifying an xDS client. */
export type Node = envoy.config.core.v3.Node;
