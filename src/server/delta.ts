import type { DeltaResponse, DeltaWatchRequest } from '../cache/config-watcher.js';
import { TypeUrl, type ResourceTypeUrl } from '../resource/type-url.js';
import { Code, XdsError } from '../resource/xds-error.js';
import { withNonce } from '../resource/wire.js';
import type { Node } from '../types/index.js';
import type { VersionEntries } from './held-versions.js';
import type { RequestContext } from './callbacks.js';
import { UndecodableRequest, withInitialVersions } from './messages.js';
import type { Decoded, XdsDeltaDiscoveryRequest } from './messages.js';
import { DeltaSubscription } from './subscription.js';
import { endpointNamesOf } from './warming.js';
import { BaseStream, type WatchSlot } from './xds-stream.js';

const NO_VERSIONS: ReadonlyMap<string, string> = new Map();

interface TypeState extends WatchSlot {
  readonly subscription: DeltaSubscription;
  request: XdsDeltaDiscoveryRequest | undefined;
  lastNonce: string | undefined;
  lastVersion: string;
  /** True once a request answered the last response (its verdict is given once). */
  judged: boolean;
  /** The subscription's revision when the open watch was opened. */
  watchRevision: number;
  /** The last response's `returnedState`, and the revision of the watch it answered. */
  returned: unknown;
  returnedRevision: number;
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
    const { request, node, versionEntries } = raw as Decoded<XdsDeltaDiscoveryRequest>;
    const typeUrl = this.resolveType(request.type_url);
    request.type_url = typeUrl;
    // Counted before any entry is read: a request over the limit costs no reading.
    this.checkNames(
      request.resource_names_subscribe.length + request.resource_names_unsubscribe.length +
        (versionEntries?.count ?? 0),
      `delta request for ${typeUrl}`,
    );
    return this.withNode(node, typeUrl, (served) => {
      request.node = served;
      const { callbacks } = this.env.options;
      const observed = callbacks.onStreamDeltaRequest !== undefined || callbacks.onStreamDeltaResponse !== undefined;
      const initialVersions = versionEntries === undefined ? NO_VERSIONS : this.#readVersions(typeUrl, versionEntries, observed);
      // The object form is for callbacks only: without them, thousands of versions are never turned into keys.
      if (observed) withInitialVersions(request, initialVersions);
      return this.afterCallback(this.consult('onStreamDeltaRequest', this.id, request), () => this.#process(typeUrl, request, initialVersions));
    });
  }

  /**
   * The versions a request says the client holds, read once its node is accepted. Only the first request of a
   * type counts and goes through the server's table (the map may be shared with other streams and is never
   * changed); later ones are read only for callbacks to see, and malformed ones are ignored like the rest.
   */
  #readVersions(typeUrl: ResourceTypeUrl, entries: VersionEntries, observed: boolean): ReadonlyMap<string, string> {
    if (this.types.has(typeUrl)) {
      // Ignored by the protocol after a type's first request: read for callbacks only, and never an error.
      if (!observed) return NO_VERSIONS;
      try {
        return entries.read();
      } catch {
        return NO_VERSIONS;
      }
    }
    try {
      return this.env.heldVersions.versions(entries);
    } catch (error) {
      throw new XdsError(Code.INVALID_ARGUMENT, `cannot decode envoy.service.discovery.v3.DeltaDiscoveryRequest: ${(error as Error).message}`);
    }
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
        watchRevision: -1,
        returned: undefined,
        returnedRevision: -1,
      };
      this.types.set(typeUrl, state);
    }
    const nonce = request.response_nonce;
    let verdict: ReturnType<DeltaStream['judge']> = {};
    if (nonce !== '' && nonce === state.lastNonce && !state.judged) {
      state.judged = true;
      verdict = this.judge(node, typeUrl, nonce, request.error_detail, { sent: state.lastVersion, current: '' });
    }
    const { subscription } = state;
    const newly = subscription.update(request.resource_names_subscribe, request.resource_names_unsubscribe, initialVersions);
    this.checkNames(subscription.subscribed.size, `delta subscription to ${typeUrl}`);
    this.cancelWatch(typeUrl, state);
    state.watchRevision = subscription.revision;
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
      returnedState: state.returnedRevision === subscription.revision ? state.returned : undefined,
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
    if (!response.heartbeat) {
      // A heartbeat changes nothing the client holds: what the last real response returned stays.
      state.returned = response.returnedState;
      state.returnedRevision = state.watchRevision;
    }
    if (response.typeUrl === TypeUrl.Cluster && !response.heartbeat) this.#warmEndpoints(state, response);
    state.subscription.sent(response.resources, response.removed);
    this.notify('onStreamDeltaResponse', this.id, state.request as XdsDeltaDiscoveryRequest, response, nonce);
    this.env.options.logger.debug(
      { streamId: this.id, typeUrl: response.typeUrl, systemVersion: response.systemVersion, nonce, resources: response.resources.length, removed: response.removed.length },
      'delta response',
    );
    return this.call.write(withNonce(response.body(), nonce));
  }

  /**
   * An ADS stream about to send new or changed EDS clusters: Envoy warms each until it gets its endpoints, and
   * asks for nothing when it already holds them. The stream forgets that the client holds them and, if the
   * endpoint watch is open, opens it again, so that the cache sends them unasked (see warming.ts).
   */
  #warmEndpoints(clusters: TypeState, response: DeltaResponse): void {
    const endpoints = this.types.get(TypeUrl.Endpoint);
    if (endpoints === undefined || endpoints.subscription.known.size === 0) return;
    const known = clusters.subscription.known;
    const changed = response.resources.filter((cluster) => known.get(cluster.name) !== cluster.hash);
    const held = [...endpointNamesOf(changed)].filter((name) => endpoints.subscription.known.has(name));
    if (held.length === 0) return;
    endpoints.subscription.forget(held);
    const request = endpoints.request;
    if (!endpoints.watching || request === undefined) return;
    this.cancelWatch(TypeUrl.Endpoint, endpoints);
    endpoints.watchRevision = endpoints.subscription.revision;
    const watch: DeltaWatchRequest = {
      node: this.node as Node,
      typeUrl: TypeUrl.Endpoint,
      subscribed: endpoints.subscription.subscribed,
      wildcard: endpoints.subscription.wildcard,
      known: endpoints.subscription.known,
      newlySubscribed: [],
      responseNonce: request.response_nonce,
      errorDetail: request.error_detail,
    };
    this.openWatch(endpoints, (respond) => this.env.cache.createDeltaWatch(watch, respond));
  }

  protected notifyClosed(node: Node | undefined): void {
    this.notify('onDeltaStreamClosed', this.id, node);
  }
}
