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
export type { ServerOptions, RequestRateLimit } from './options.js';
export type { Callbacks, RequestContext, AckEvent, NackEvent, AuthContext } from './callbacks.js';
export { combineCallbacks } from './combine-callbacks.js';
export type { Logger } from './logger.js';
export { silentLogger } from './logger.js';
export type { XdsDiscoveryRequest, XdsDeltaDiscoveryRequest, RequestErrorDetail } from './messages.js';
export { XDS_SERVICES, serviceDefinition, methodPath } from './service-definitions.js';
export type { XdsServiceInfo, XdsMethodKind } from './service-definitions.js';
export { REST_PATHS } from './rest.js';
export type { RestHandler } from './rest.js';
export { SotwSubscription, DeltaSubscription, WILDCARD } from './subscription.js';
export { createStatusHandler, statusTable, nodeStatusJson, truncateClientText, XDS_ACRONYM, MAX_CLIENT_TEXT } from './status-handler.js';
export type { StatusHandler } from './status-handler.js';
export { addCsdsService, clientStatus, csdsServiceDefinition, csdsImplementation, CSDS_SERVICE } from './csds.js';
export type { ClientStatusRequest } from './csds.js';
export { compileNodeMatchers, compileNodeMatcher, compileStringMatcher, compileValueMatcher } from './node-matcher.js';
export type { MatchableNode, NodePredicate } from './node-matcher.js';
export { HealthService, addHealthService, healthServiceDefinition, HEALTH_SERVICE } from './health.js';
export type { ServingStatus, HealthRequest } from './health.js';
