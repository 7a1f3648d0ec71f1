/**
 * The xDS server: state-of-the-world and delta streams over ADS and every per-type service, `Fetch…` calls,
 * REST-JSON polling, callbacks, and the operational services (status, CSDS, gRPC health). The counterpart of go-control-plane's `pkg/server/v3` (with `sotw`,
 * `delta`, `rest` and `stream`).
 *
 * @packageDocumentation
 */
export { createServer } from './server.js';
export type { XdsServer, ServerStats, CloseOptions } from './server.js';
export { DEFAULTS } from './options.js';
export type { ServerOptions, RequestRateLimit, WorkerOptions } from './options.js';
export type { WorkerInfo } from './worker-protocol.js';
export type { TlsCredentials, TlsKeyCertPair } from './tls.js';
export type { Callbacks, RequestContext, AuthContext } from './callbacks.js';
export type { AckEvent, NackEvent, ErrorDetail } from '../cache/verdict.js';
export { combineCallbacks } from './combine-callbacks.js';
export { allow, deny, bindNodeToCertificate, certificateOf } from './authorize.js';
export type { Authorizer, Authorization, AuthorizeRequest, VerifiedCertificate, BindNodeOptions } from './authorize.js';
export type { XdsDiscoveryRequest, XdsDeltaDiscoveryRequest, RequestErrorDetail } from './messages.js';
export { XdsError, Code } from '../resource/xds-error.js';
export type { Logger } from '../logger.js';
export { silentLogger } from '../logger.js';
export { REST_PATHS } from './rest.js';
export type { RestHandler } from './rest.js';

// Operations (docs/operations.md): what each client runs, in a table or JSON, over CSDS, and gRPC health.
export { createStatusHandler, statusTable, XDS_ACRONYM } from './status-handler.js';
export type { StatusHandler } from './status-handler.js';
export { addCsdsService, clientStatus, CSDS_SERVICE } from './csds.js';
export type { ClientStatusRequest } from './csds.js';
export { compileNodeMatchers } from './node-matcher.js';
export type { MatchableNode, NodePredicate } from './node-matcher.js';
export { HealthService, addHealthService, HEALTH_SERVICE } from './health.js';
export type { ServingStatus, HealthRequest } from './health.js';

// Symbols above are what applications use. Those below are for people who mount the xDS services themselves
// (their own gRPC server setup, a proxy, a gateway): the service definitions and method paths.
export { XDS_SERVICES, serviceDefinition, methodPath } from './service-definitions.js';
export type { XdsServiceInfo, XdsMethodKind } from './service-definitions.js';
