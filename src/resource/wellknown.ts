/**
 * Well-known names of Envoy filters and extensions, as go-control-plane's `wellknown` package. Names are the
 * ones Envoy registers its factories under; a filter's `name` field may hold any string when `typed_config` is
 * set, but these keep configurations readable and match Envoy's docs.
 */
export const WellKnown = {
  // HTTP filters
  /** The router filter, which must be the last HTTP filter. */
  Router: 'envoy.filters.http.router',
  /** Fault injection. */
  Fault: 'envoy.filters.http.fault',
  /** CORS. */
  Cors: 'envoy.filters.http.cors',
  /** gRPC-Web. */
  GrpcWeb: 'envoy.filters.http.grpc_web',
  /** Health check filter. */
  HealthCheck: 'envoy.filters.http.health_check',
  /** Lua scripting. */
  Lua: 'envoy.filters.http.lua',
  /** Buffer. */
  Buffer: 'envoy.filters.http.buffer',
  /** Role-based access control (HTTP). */
  HttpRbac: 'envoy.filters.http.rbac',
  /** External authorization (HTTP). */
  HttpExternalAuthorization: 'envoy.filters.http.ext_authz',
  /** Global rate limit (HTTP). */
  HttpRateLimit: 'envoy.filters.http.ratelimit',
  /** Local rate limit (HTTP). */
  HttpLocalRateLimit: 'envoy.filters.http.local_ratelimit',
  /** JWT authentication. */
  JwtAuthn: 'envoy.filters.http.jwt_authn',
  /** gzip compression through the compressor filter. */
  Gzip: 'envoy.filters.http.gzip',
  /** On-demand VHDS and CDS. */
  OnDemand: 'envoy.filters.http.on_demand',
  /** Header mutation. */
  HeaderMutation: 'envoy.filters.http.header_mutation',

  // Network filters
  /** The HTTP connection manager. */
  HTTPConnectionManager: 'envoy.filters.network.http_connection_manager',
  /** TCP proxy. */
  TCPProxy: 'envoy.filters.network.tcp_proxy',
  /** Role-based access control (network). */
  RoleBasedAccessControl: 'envoy.filters.network.rbac',
  /** External authorization (network). */
  ExternalAuthorization: 'envoy.filters.network.ext_authz',
  /** Global rate limit (network). */
  RateLimit: 'envoy.filters.network.ratelimit',
  /** SNI cluster. */
  SNICluster: 'envoy.filters.network.sni_cluster',

  // Listener filters
  /** TLS inspector. */
  TlsInspector: 'envoy.filters.listener.tls_inspector',
  /** Original destination. */
  OriginalDestination: 'envoy.filters.listener.original_dst',
  /** PROXY protocol. */
  ProxyProtocol: 'envoy.filters.listener.proxy_protocol',
  /** HTTP inspector. */
  HttpInspector: 'envoy.filters.listener.http_inspector',

  // Transport sockets
  /** TLS transport socket. */
  TransportSocketTls: 'envoy.transport_sockets.tls',
  /** Raw buffer (plaintext) transport socket. */
  TransportSocketRawBuffer: 'envoy.transport_sockets.raw_buffer',

  // Access loggers
  /** File access log. */
  FileAccessLog: 'envoy.access_loggers.file',
  /** Standard output access log. */
  StdoutAccessLog: 'envoy.access_loggers.stdout',
  /** Standard error access log. */
  StderrAccessLog: 'envoy.access_loggers.stderr',
  /** gRPC HTTP access log service. */
  HTTPGRPCAccessLog: 'envoy.access_loggers.http_grpc',

  // Upstream options
  /** Key of `typed_extension_protocol_options` for upstream HTTP protocol options. */
  HttpProtocolOptions: 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
} as const;

/**
 * Type URLs of the `typed_config` of common extensions, for `"@type"` members.
 */
export const ExtensionTypeUrl = {
  /** `envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager` */
  HTTPConnectionManager: 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  /** `envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy` */
  TCPProxy: 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
  /** `envoy.extensions.filters.http.router.v3.Router` */
  Router: 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
  /** `envoy.extensions.filters.http.fault.v3.HTTPFault` */
  Fault: 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault',
  /** `envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext` */
  UpstreamTlsContext: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
  /** `envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext` */
  DownstreamTlsContext: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
  /** `envoy.extensions.upstreams.http.v3.HttpProtocolOptions` */
  HttpProtocolOptions: 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
  /** `envoy.extensions.access_loggers.file.v3.FileAccessLog` */
  FileAccessLog: 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog',
  /** `envoy.extensions.access_loggers.stream.v3.StdoutAccessLog` */
  StdoutAccessLog: 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog',
} as const;
