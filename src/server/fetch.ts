import type { ConfigWatcher, Response } from '../cache/config-watcher.js';
import { assertResourceTypeUrl } from '../resource/type-url.js';
import type { ResourceTypeUrl } from '../resource/type-url.js';
import type { Node } from '../types/index.js';
import { Code, excerpt, XdsError } from '../resource/xds-error.js';
import { authorizeNode, certificateOfAuthContext } from './authorize.js';
import { consult, notify } from './callbacks.js';
import type { RequestContext } from './callbacks.js';
import { lazyNode } from './lazy-node.js';
import { UndecodableRequest } from './messages.js';
import type { Decoded, XdsDiscoveryRequest } from './messages.js';
import type { ResolvedOptions } from './options.js';
import { WILDCARD } from './subscription.js';

/** A fetch request that passed {@link checkFetchRequest}. */
export interface CheckedFetch {
  /** The request, its `type_url` set to the type served. */
  readonly request: XdsDiscoveryRequest;
  /** The node the client sent (read lazily from its bytes); empty when it sent none. */
  readonly claimed: Node;
  /** The bytes of that node as the request carried them, if it did. */
  readonly nodeBytes: Uint8Array | undefined;
  readonly typeUrl: ResourceTypeUrl;
}

/**
 * Checks what a fetch request can be refused for before the authorizer and the cache see it: bytes that are no
 * request or no node, a type URL other than the service's (`fixedType`), more names than `maxResourceNames`.
 * Throws the status the call ends with. A worker of the worker mode checks here before it asks the primary, which
 * checks again in {@link fetchResources}: the same request is refused with the same status either way.
 */
export function checkFetchRequest(raw: Decoded<XdsDiscoveryRequest> | UndecodableRequest, fixedType: ResourceTypeUrl | undefined, maxResourceNames: number): CheckedFetch {
  if (raw instanceof UndecodableRequest) throw new XdsError(Code.INVALID_ARGUMENT, raw.message);
  const { request } = raw;
  let claimed: Node = {};
  if (raw.node !== undefined) {
    try {
      claimed = lazyNode(raw.node);
    } catch (error) {
      throw new XdsError(Code.INVALID_ARGUMENT, `cannot decode the node of the request: ${excerpt((error as Error).message)}`);
    }
  }
  let typeUrl: ResourceTypeUrl;
  if (fixedType !== undefined) {
    if (request.type_url !== '' && request.type_url !== fixedType) {
      throw new XdsError(Code.INVALID_ARGUMENT, `type URL "${excerpt(request.type_url)}" does not match this endpoint, which serves "${fixedType}"`);
    }
    typeUrl = fixedType;
  } else {
    typeUrl = assertResourceTypeUrl(request.type_url);
  }
  request.type_url = typeUrl;
  if (request.resource_names.length > maxResourceNames) {
    throw new XdsError(Code.RESOURCE_EXHAUSTED, `${request.resource_names.length} resource names, more than the server's limit of ${maxResourceNames} (option maxResourceNames)`);
  }
  return { request, claimed, nodeBytes: raw.node, typeUrl };
}

/**
 * Answers one `Fetch…` call or REST poll: no stream, no nonce, no watch. The cache returns the current resources
 * when `version_info` differs from its version, and undefined when the client is up to date.
 *
 * Without a stream there is no subscription history, so an empty name list (or `*`) means every resource.
 */
export async function fetchResources(
  cache: ConfigWatcher,
  options: ResolvedOptions,
  raw: Decoded<XdsDiscoveryRequest> | UndecodableRequest,
  fixedType: ResourceTypeUrl | undefined,
  context: RequestContext,
  kind: 'fetch' | 'rest' = 'fetch',
): Promise<{ request: XdsDiscoveryRequest; response: Response | undefined }> {
  const { request, claimed, typeUrl } = checkFetchRequest(raw, fixedType, options.maxResourceNames);
  const node = await authorizeNode(options.authorize, {
    ...context,
    kind,
    typeUrl,
    node: claimed,
    certificate: certificateOfAuthContext(context.authContext),
  });
  request.node = node;
  await consult(options.callbacks, 'onFetchRequest', request, context);
  const names = request.resource_names.filter((name) => name !== WILDCARD);
  const response = cache.fetch({
    node,
    typeUrl,
    resourceNames: names,
    wildcard: request.resource_names.length === 0 || names.length < request.resource_names.length,
    versionInfo: request.version_info,
    responseNonce: request.response_nonce,
    errorDetail: request.error_detail,
  });
  notify(options.logger, options.callbacks, 'onFetchResponse', request, response);
  options.logger.debug({ nodeId: excerpt(node.id ?? ''), typeUrl, version: excerpt(response?.version ?? request.version_info), current: response === undefined }, 'fetch');
  return { request, response };
}

/**
 * Answers one gRPC `Fetch…` call (on the service of `fixedType`; see {@link fetchResources}): resolves to the
 * encoded `DiscoveryResponse` (without a nonce), or rejects with the status the call ends with,
 * `FAILED_PRECONDITION` when the client's `version_info` is current (REST answers 304 there).
 */
export async function answerFetch(
  cache: ConfigWatcher,
  options: ResolvedOptions,
  raw: Decoded<XdsDiscoveryRequest> | UndecodableRequest,
  fixedType: ResourceTypeUrl | undefined,
  context: RequestContext,
): Promise<Buffer> {
  const { request, response } = await fetchResources(cache, options, raw, fixedType, context);
  if (response === undefined) {
    throw new XdsError(Code.FAILED_PRECONDITION, `version "${excerpt(request.version_info)}" is current: nothing to fetch (REST answers 304 Not Modified)`);
  }
  return response.body();
}

/**
 * What answers a `Fetch…` call in place of the server's own cache: a worker of the worker mode asks the primary,
 * which runs {@link answerFetch} on the application's cache. Same contract as `answerFetch`.
 */
export type FetchAnswerer = (raw: Decoded<XdsDiscoveryRequest> | UndecodableRequest, fixedType: ResourceTypeUrl | undefined, context: RequestContext) => Promise<Buffer>;
