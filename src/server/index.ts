/**
 * The xDS server: state-of-the-world and delta streams over ADS and every per-type service, `Fetch…` calls,
 * REST-JSON polling, and callbacks. The counterpart of go-control-plane's `pkg/server/v3` (with `sotw`,
 * `delta`, `rest` and `stream`).
 *
 * @packageDocumentation
 */
export { createServer } from './server.js';
export type { XdsServer, ServerStats, CloseOptions } from './server.js';
export { DEFAULTS } from './options.js';
export type { ServerOptions, RequestRateLimit, WorkerOptions } from './options.js';
export type { WorkerInfo } from './worker-protocol.js';
export type { Callbacks, RequestContext, AuthContext } from './callbacks.js';
export type { AckEvent, NackEvent, ErrorDetail } from '../cache/verdict.js';
export type { XdsDiscoveryRequest, XdsDeltaDiscoveryRequest, RequestErrorDetail } from './messages.js';
export { XdsError, Code } from '../resource/xds-error.js';
export type { Logger } from '../logger.js';
export { silentLogger } from '../logger.js';
export { REST_PATHS } from './rest.js';
export type { RestHandler } from './rest.js';

// Symbols above are what applications use. Those below are for people who mount the xDS services themselves
// (their own gRPC server setup, a proxy, a gateway): the service definitions and method paths.
export { XDS_SERVICES, serviceDefinition, methodPath } from './service-definitions.js';
export type { XdsServiceInfo, XdsMethodKind } from './service-definitions.js';
