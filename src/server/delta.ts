import type { DeltaResponse, DeltaWatchRequest } from '../cache/config-watcher.js';
import type { ResourceTypeUrl } from '../resource/type-url.js';
import { Code, XdsError } from '../resource/xds-error.js';
import { withNonce } from '../resource/wire.js';
import type { Node } from '../types/index.js';
import type { RequestContext } from './callbacks.js';
import { UndecodableRequest, withInitialVersions } from './messages.js';
import type { Decoded, XdsDeltaDiscoveryRequest } from './messages.js';
import { DeltaSubscription } from './subscription.js';
import { BaseStream, type WatchSlot } from './xds-stream.js';

const NO_VERSIONS: ReadonlyMap<string, string> = new Map();

interface TypeState extends WatchSlot {
  readonly subscription: DeltaSubscription;
  request: XdsDeltaDiscoveryRequest | undefined;
  lastNonce: string | undefined;
  lastVersion: string;
  /** True once a request answered the last response (its verdict is given once). */
  judged: boolean;
}

/**
 * A delta (incremental) stream (ADS or one type). Each request changes the subscription (names subscribed and
 * unsubscribed, `*` for wildcard) and opens a new watch for its type, replacing the previous one; the watch
 * carries the version of every resource the client holds, so the cache sends only what changed. After a NACK
 * the rejected resources count as held at their rejected versions, so they are not sent again until they
 * change.
 */
export class DeltaStream extends BaseStream<DeltaResponse, TypeState> {
  protected get kind(): 'delta' {
    return 'delta';
  }

  protected open(context: RequestContext): Promise<void> | undefined {
    return this.consult('onDeltaStreamOpen', this.id, this.fixedType ?? '', context);
  }

  protected handle(raw: unknown): Promise<void> | undefined {
    if (raw instanceof UndecodableRequest) throw new XdsError(Code.INVALID_ARGUMENT, raw.message);
    const { request, node, initialVersions = NO_VERSIONS } = raw as Decoded<XdsDeltaDiscoveryRequest>;
    const { callbacks } = this.env.options;
    // The object form is for callbacks only: without them, thousands of versions are never turned into keys.
    if (callbacks.onStreamDeltaRequest !== undefined || callbacks.onStreamDeltaResponse !== undefined) withInitialVersions(request, initialVersions);
    request.node = this.acceptNode(node);
    const typeUrl = this.resolveType(request.type_url);
    request.type_url = typeUrl;
    this.checkNames(
      request.resource_names_subscribe.length + request.resource_names_unsubscribe.length +
        initialVersions.size,
      `delta request for ${typeUrl}`,
    );
    return this.afterCallback(this.consult('onStreamDeltaRequest', this.id, request), () => this.#process(typeUrl, request, initialVersions));
  }

  #process(typeUrl: ResourceTypeUrl, request: XdsDeltaDiscoveryRequest, initialVersions: ReadonlyMap<string, string>): void {
    const { legacyWildcardTypes } = this.env.options;
    const node = this.node as Node;
    let state = this.types.get(typeUrl);
    if (state === undefined) {
      state = {
        subscription: new DeltaSubscription(legacyWildcardTypes.has(typeUrl)),
        cancel: undefined,
        token: 0,
        watching: false,
        request: undefined,
        lastNonce: undefined,
        lastVersion: '',
        judged: false,
      };
      this.types.set(typeUrl, state);
    }
    const nonce = request.response_nonce;
    let verdict: ReturnType<DeltaStream['judge']> = {};
    if (nonce !== '' && nonce === state.lastNonce && !state.judged) {
      state.judged = true;
      verdict = this.judge(node, typeUrl, nonce, request.error_detail, { sent: state.lastVersion, current: '' });
    }
    const newly = state.subscription.update(request.resource_names_subscribe, request.resource_names_unsubscribe, initialVersions);
    this.checkNames(state.subscription.subscribed.size, `delta subscription to ${typeUrl}`);
    this.cancelWatch(typeUrl, state);
    const watch: DeltaWatchRequest = {
      node,
      typeUrl,
      subscribed: state.subscription.subscribed,
      wildcard: state.subscription.wildcard,
      known: state.subscription.known,
      newlySubscribed: newly,
      responseNonce: nonce,
      errorDetail: request.error_detail,
      ack: verdict.ack,
      nack: verdict.nack,
    };
    state.request = request;
    this.openWatch(state, (respond) => this.env.cache.createDeltaWatch(watch, respond));
  }

  protected write(response: DeltaResponse): boolean {
    const state = this.types.get(response.typeUrl);
    if (state === undefined) return true;
    const nonce = this.nextNonce();
    state.lastNonce = nonce;
    state.lastVersion = response.systemVersion;
    state.judged = false;
    state.subscription.sent(response.resources, response.removed);
    this.notify('onStreamDeltaResponse', this.id, state.request as XdsDeltaDiscoveryRequest, response, nonce);
    this.env.options.logger.debug(
      { streamId: this.id, typeUrl: response.typeUrl, systemVersion: response.systemVersion, nonce, resources: response.resources.length, removed: response.removed.length },
      'delta response',
    );
    return this.call.write(withNonce(response.body(), nonce));
  }

  protected notifyClosed(node: Node | undefined): void {
    this.notify('onDeltaStreamClosed', this.id, node);
  }
}
