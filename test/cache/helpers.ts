// Helpers for the cache tests: requests as the server would build them, and watches that record answers.
import type { Node } from '../../src/types/index.js';
import { lookupType, type ResourceTypeUrl } from '../../src/resource/index.js';
import { withNonce } from '../../src/resource/wire.js';
import type { ConfigWatcher, DeltaResponse, DeltaWatchRequest, Response, WatchRequest } from '../../src/cache/index.js';

export function node(id = 'node-1', extra: Partial<Node> = {}): Node {
  return { id, ...extra };
}

export function sotw(typeUrl: ResourceTypeUrl, fields: Partial<WatchRequest> = {}): WatchRequest {
  return { node: node(), typeUrl, resourceNames: [], wildcard: false, versionInfo: '', responseNonce: '', ...fields };
}

export function delta(typeUrl: ResourceTypeUrl, fields: Partial<DeltaWatchRequest> = {}): DeltaWatchRequest {
  return { node: node(), typeUrl, subscribed: new Set(), wildcard: false, known: new Map(), newlySubscribed: [], responseNonce: '', ...fields };
}

export interface Recorded<R> {
  responses: R[];
  cancel: () => void;
  readonly last: R | undefined;
}

export function watch(cache: ConfigWatcher, request: WatchRequest, log?: unknown[]): Recorded<Response> {
  const responses: Response[] = [];
  const cancel = cache.createWatch(request, (r) => {
    responses.push(r);
    log?.push(r);
  });
  return { responses, cancel, get last() { return responses.at(-1); } };
}

export function deltaWatch(cache: ConfigWatcher, request: DeltaWatchRequest): Recorded<DeltaResponse> {
  const responses: DeltaResponse[] = [];
  const cancel = cache.createDeltaWatch(request, (r) => responses.push(r));
  return { responses, cancel, get last() { return responses.at(-1); } };
}

export function names(response: { resources: readonly { name: string }[] } | undefined): string[] {
  return (response?.resources ?? []).map((r) => r.name).sort();
}

/** What the client would receive: the response body decoded as a DiscoveryResponse. */
export function decodeSotw(response: Response): any {
  return lookupType('envoy.service.discovery.v3.DiscoveryResponse').decode(withNonce(response.body(), 'n')) as any;
}

export function decodeDelta(response: DeltaResponse): any {
  return lookupType('envoy.service.discovery.v3.DeltaDiscoveryResponse').decode(withNonce(response.body(), 'n')) as any;
}

/** The request an ACK of `response` would make: its version and a nonce, with its returned names as knownNames. */
export function ack(request: WatchRequest, response: Response, nonce = 'n1'): WatchRequest {
  return { ...request, versionInfo: response.version, responseNonce: nonce, knownNames: response.returnedNames() };
}

/** The state the server keeps after sending a delta response: known versions updated, nonce set. */
export function deltaAck(request: DeltaWatchRequest, response: DeltaResponse, nonce = 'n1'): DeltaWatchRequest {
  const known = new Map(request.known);
  for (const r of response.resources) known.set(r.name, r.hash);
  for (const name of response.removed) known.delete(name);
  // The server hands back the response's returned state with a request that changes no subscription.
  return { ...request, known, newlySubscribed: [], responseNonce: nonce, returnedState: response.returnedState };
}

/**
 * A state-of-the-world request that answers the last response, with the verdict the server passes with it (the
 * cache records verdicts, it does not make them): a NACK of `rejectedVersion` when `errorDetail` is set, else an
 * ACK of `versionInfo`.
 */
export function answer(typeUrl: ResourceTypeUrl, fields: Partial<WatchRequest> & { responseNonce: string }): WatchRequest {
  const request = sotw(typeUrl, fields);
  const verdict = { streamId: 1, node: request.node, nodeId: request.node.id ?? '', typeUrl, nonce: request.responseNonce, delta: false };
  return request.errorDetail !== undefined
    ? { ...request, nack: { ...verdict, rejectedVersion: request.rejectedVersion ?? '', currentVersion: request.versionInfo, errorDetail: request.errorDetail } }
    : { ...request, ack: { ...verdict, version: request.versionInfo } };
}
