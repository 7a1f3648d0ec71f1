// A test-only ConfigWatcher: answers from a map of encoded resources per type, one version per type, honoring
// the seam's rules (a watch answers at most once, never after cancel; a NACKed version is not sent again; SotW
// answers when the version differs or a requested name is not among the names the client holds; delta sends
// what the client lacks or holds at another version, and reports removals).
import type {
  CancelWatch,
  ConfigWatcher,
  DeltaResponse,
  DeltaWatchRequest,
  Response,
  WatchRequest,
} from '../../src/cache/config-watcher.js';
import { EncodedResource } from '../../src/cache/encoded-resource.js';
import type { ResourceTypeUrl } from '../../src/resource/index.js';
import { encodeDeltaDiscoveryResponseBody, encodeDiscoveryResponseBody } from '../../src/resource/wire.js';
import type { Node } from '../../src/types/index.js';

type SotwWatch = { kind: 'sotw'; request: WatchRequest & { knownNames?: ReadonlySet<string> | undefined }; respond: (r: Response) => void };
type DeltaWatch = { kind: 'delta'; request: DeltaWatchRequest; respond: (r: DeltaResponse) => void };

interface TypeData {
  version: string;
  resources: Map<string, EncodedResource>;
}

export class FakeCache implements ConfigWatcher {
  readonly #types = new Map<ResourceTypeUrl, TypeData>();
  readonly #watches = new Set<SotwWatch | DeltaWatch>();
  /** Streams open per node id (streamOpened minus streamClosed). */
  readonly nodes = new Map<string, number>();
  /** Every watch request received, in order. */
  readonly watchRequests: (WatchRequest | DeltaWatchRequest)[] = [];
  /** Responses made, to check sharing. */
  responsesMade = 0;
  /** Every delta response given to a watch, in order. */
  readonly deltaResponses: DeltaResponse[] = [];
  /** Set to make createWatch throw. */
  failWith: Error | undefined;

  /** Replaces the resources of a type (given as resources or already encoded) and answers the watches it can. */
  set(typeUrl: ResourceTypeUrl, version: string, resources: readonly unknown[]): void {
    const map = new Map<string, EncodedResource>();
    for (const resource of resources) {
      const encoded = resource instanceof EncodedResource ? resource : EncodedResource.encode(typeUrl, resource);
      map.set(encoded.name, encoded);
    }
    this.#types.set(typeUrl, { version, resources: map });
    for (const watch of [...this.#watches]) {
      if (watch.request.typeUrl !== typeUrl) continue;
      if (watch.kind === 'sotw') this.#trySotw(watch);
      else this.#tryDelta(watch);
    }
  }

  get openWatches(): number {
    return this.#watches.size;
  }

  createWatch(request: WatchRequest, respond: (response: Response) => void): CancelWatch {
    this.watchRequests.push(request);
    if (this.failWith) throw this.failWith;
    const watch: SotwWatch = { kind: 'sotw', request, respond };
    this.#watches.add(watch);
    this.#trySotw(watch);
    return () => {
      this.#watches.delete(watch);
    };
  }

  createDeltaWatch(request: DeltaWatchRequest, respond: (response: DeltaResponse) => void): CancelWatch {
    this.watchRequests.push({ ...request, subscribed: new Set(request.subscribed), known: new Map(request.known) });
    if (this.failWith) throw this.failWith;
    const watch: DeltaWatch = { kind: 'delta', request, respond };
    this.#watches.add(watch);
    this.#tryDelta(watch);
    return () => {
      this.#watches.delete(watch);
    };
  }

  fetch(request: WatchRequest): Response | undefined {
    const data = this.#types.get(request.typeUrl);
    if (data === undefined || data.version === request.versionInfo) return undefined;
    return this.#response(request, data);
  }

  streamOpened(node: Node): void {
    this.nodes.set(node.id ?? '', (this.nodes.get(node.id ?? '') ?? 0) + 1);
  }

  streamClosed(node: Node): void {
    const n = (this.nodes.get(node.id ?? '') ?? 0) - 1;
    if (n <= 0) this.nodes.delete(node.id ?? '');
    else this.nodes.set(node.id ?? '', n);
  }

  #response(request: WatchRequest, data: TypeData): Response {
    this.responsesMade++;
    const resources = request.wildcard
      ? [...data.resources.values()]
      : request.resourceNames.flatMap((name) => {
          const r = data.resources.get(name);
          return r === undefined ? [] : [r];
        });
    let body: Buffer | undefined;
    return {
      typeUrl: request.typeUrl,
      version: data.version,
      resources,
      returnedNames: () => new Set(resources.map((r) => r.name)),
      body: () => (body ??= encodeDiscoveryResponseBody(data.version, resources.map((r) => r.any), request.typeUrl)),
    };
  }

  #trySotw(watch: SotwWatch): void {
    const { request } = watch;
    const data = this.#types.get(request.typeUrl);
    if (data === undefined) return;
    if (request.rejectedVersion !== undefined && request.rejectedVersion === data.version) return;
    const lacking =
      !request.wildcard &&
      request.knownNames !== undefined &&
      request.resourceNames.some((name) => data.resources.has(name) && !request.knownNames!.has(name));
    if (request.versionInfo === data.version && !lacking) return;
    this.#watches.delete(watch);
    watch.respond(this.#response(request, data));
  }

  #tryDelta(watch: DeltaWatch): void {
    const { request } = watch;
    const data = this.#types.get(request.typeUrl);
    if (data === undefined) return;
    const wanted = request.wildcard ? new Set([...data.resources.keys(), ...request.subscribed, ...request.known.keys()]) : request.subscribed;
    const newly = new Set(request.newlySubscribed);
    const resources: EncodedResource[] = [];
    const removed: string[] = [];
    for (const name of wanted) {
      const resource = data.resources.get(name);
      if (resource === undefined) {
        if (request.known.has(name) || newly.has(name)) removed.push(name);
      } else if (request.known.get(name) !== resource.hash || newly.has(name)) {
        resources.push(resource);
      }
    }
    if (resources.length === 0 && removed.length === 0) return;
    this.#watches.delete(watch);
    this.responsesMade++;
    let body: Buffer | undefined;
    const response: DeltaResponse = {
      typeUrl: request.typeUrl,
      systemVersion: data.version,
      resources,
      removed,
      body: () => (body ??= encodeDeltaDiscoveryResponseBody(data.version, resources.map((r) => r.deltaResource), request.typeUrl, removed)),
      // A state of the fake's own per response, to see what the server hands back.
      returnedState: { response: this.responsesMade },
    };
    this.deltaResponses.push(response);
    watch.respond(response);
  }
}
