import type { Response, WatchRequest } from '../cache/config-watcher.js';
import type { EncodedResource } from '../cache/encoded-resource.js';
import { TypeUrl, type ResourceTypeUrl } from '../resource/type-url.js';
import { Code, excerpt, XdsError } from '../resource/xds-error.js';
import { withNonce } from '../resource/wire.js';
import type { Node } from '../types/index.js';
import type { RequestContext } from './callbacks.js';
import { UndecodableRequest } from './messages.js';
import type { Decoded, XdsDiscoveryRequest } from './messages.js';
import { SotwSubscription } from './subscription.js';
import { changedEndpointNames } from './warming.js';
import { BaseStream, type WatchSlot } from './xds-stream.js';

/** Per type: the subscription, the open watch, and the last response written (for nonces, ACK and NACK). */
interface TypeState extends WatchSlot {
  readonly subscription: SotwSubscription;
  /** The request that opened the current watch (given to onStreamResponse). */
  request: XdsDiscoveryRequest | undefined;
  /** Nonce and version of the last response written; undefined before the first. */
  lastNonce: string | undefined;
  lastVersion: string;
  /** True once a request answered the last response (its verdict is given once). */
  judged: boolean;
  /**
   * The names the last full response returned (what the client holds), handed back to the cache; heartbeats
   * aside, since a heartbeat leaves the client holding what it held.
   */
  returnedNames: ReadonlySet<string> | undefined;
  /** The resources of the last full response (a CDS stream compares the next one with them; see warming.ts). */
  lastResources: readonly EncodedResource[] | undefined;
  /**
   * Names the client must be sent again although it holds them: the endpoints of a cluster this stream has since
   * sent changed (see warming.ts). Cleared by the next full response of the type.
   */
  resend: Set<string> | undefined;
}

/** What the client holds of a type, as far as it need not be sent again. */
function knownNamesOf(state: TypeState): ReadonlySet<string> | undefined {
  if (state.returnedNames === undefined || state.resend === undefined) return state.returnedNames;
  const known = new Set(state.returnedNames);
  for (const name of state.resend) known.delete(name);
  return known;
}

/**
 * A state-of-the-world stream (ADS or one type). The rules:
 * - a request whose `response_nonce` is not the last nonce sent for its type is stale and ignored (the client
 *   has not seen the newest response yet, and will answer it);
 * - a request with the last nonce is an ACK, or a NACK when it carries `error_detail`; a NACK's watch tells the
 *   cache which version was rejected, so it is never sent again to this stream;
 * - each accepted request replaces the type's watch (one watch per type per stream).
 */
export class SotwStream extends BaseStream<Response, TypeState> {
  protected get kind(): 'sotw' {
    return 'sotw';
  }

  protected open(context: RequestContext): Promise<void> | undefined {
    return this.consult('onStreamOpen', this.id, this.fixedType ?? '', context);
  }

  protected handle(raw: unknown): Promise<void> | undefined {
    if (raw instanceof UndecodableRequest) throw new XdsError(Code.INVALID_ARGUMENT, raw.message);
    const { request, node } = raw as Decoded<XdsDiscoveryRequest>;
    const typeUrl = this.resolveType(request.type_url);
    request.type_url = typeUrl;
    this.checkNames(request.resource_names.length, `request for ${typeUrl}`);
    return this.withNode(node, typeUrl, (served) => {
      request.node = served;
      return this.afterCallback(this.consult('onStreamRequest', this.id, request), () => this.#process(typeUrl, request));
    });
  }

  #process(typeUrl: ResourceTypeUrl, request: XdsDiscoveryRequest): void {
    const { logger, legacyWildcardTypes } = this.env.options;
    const node = this.node as Node;
    let state = this.types.get(typeUrl);
    if (state === undefined) {
      state = {
        subscription: new SotwSubscription(legacyWildcardTypes.has(typeUrl)),
        cancel: undefined,
        token: 0,
        watching: false,
        request: undefined,
        lastNonce: undefined,
        lastVersion: '',
        judged: false,
        returnedNames: undefined,
        lastResources: undefined,
        resend: undefined,
      };
      this.types.set(typeUrl, state);
    }
    const nonce = request.response_nonce;
    if (state.lastNonce !== undefined && nonce !== state.lastNonce) {
      logger.debug({ streamId: this.id, typeUrl, nonce: excerpt(nonce), latest: state.lastNonce }, 'stale nonce: request ignored');
      return;
    }
    let rejectedVersion: string | undefined;
    let verdict: ReturnType<SotwStream['judge']> = {};
    if (state.lastNonce !== undefined) {
      // The request answers the last response: a NACK rejects the version that response carried.
      if (request.error_detail !== undefined) rejectedVersion = state.lastVersion;
      if (!state.judged) {
        state.judged = true;
        verdict = this.judge(node, typeUrl, nonce, request.error_detail, {
          sent: rejectedVersion ?? request.version_info,
          current: request.version_info,
        });
      }
    }
    state.subscription.update(request.resource_names);
    this.cancelWatch(typeUrl, state);
    const watch: WatchRequest = {
      node,
      typeUrl,
      resourceNames: state.subscription.names,
      wildcard: state.subscription.wildcard,
      versionInfo: request.version_info,
      responseNonce: nonce,
      errorDetail: request.error_detail,
      rejectedVersion,
      ack: verdict.ack,
      nack: verdict.nack,
      knownNames: knownNamesOf(state),
    };
    state.request = request;
    this.openWatch(state, (respond) => this.env.cache.createWatch(watch, respond));
  }

  protected write(response: Response): boolean {
    const state = this.types.get(response.typeUrl);
    if (state === undefined) return true;
    const nonce = this.nextNonce();
    state.lastNonce = nonce;
    state.lastVersion = response.version;
    state.judged = false;
    if (!response.heartbeat) {
      if (response.typeUrl === TypeUrl.Cluster) this.#warmEndpoints(state, response);
      state.returnedNames = response.returnedNames();
      state.lastResources = response.resources;
      state.resend = undefined;
    }
    this.notify('onStreamResponse', this.id, state.request as XdsDiscoveryRequest, response, nonce);
    this.env.options.logger.debug(
      { streamId: this.id, typeUrl: response.typeUrl, version: response.version, nonce, resources: response.resources.length },
      'response',
    );
    return this.call.write(withNonce(response.body(), nonce));
  }

  /**
   * An ADS stream about to send new or changed EDS clusters: Envoy warms each until it gets its endpoints, and
   * asks for them only by repeating its last EDS request. The endpoints it holds of those clusters are marked
   * to be sent again, so that the cache answers that request (see warming.ts).
   */
  #warmEndpoints(clusters: TypeState, response: Response): void {
    const endpoints = this.types.get(TypeUrl.Endpoint);
    const held = endpoints?.returnedNames;
    if (endpoints === undefined || held === undefined) return;
    const names = changedEndpointNames(clusters.lastResources ?? [], response.resources);
    if (names.size === 0) return;
    for (const name of names) if (held.has(name)) (endpoints.resend ??= new Set()).add(name);
  }

  protected notifyClosed(node: Node | undefined): void {
    this.notify('onStreamClosed', this.id, node);
  }
}
