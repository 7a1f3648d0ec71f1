/**
 * A worker process of the server's worker mode (started by `cluster-server.ts` with `node:cluster`; never
 * imported by applications). It serves the streams of the connections the primary hands it, from a copy of the
 * application's `SnapshotCache` rebuilt from the bytes the primary sends: it encodes nothing. What the primary
 * must know (streams opened and closed, verdicts, responses given, logs) goes back in batches, at most one
 * message every 100 ms. What only the primary can answer (the open hooks, `authorize`, CSDS, the `Fetch…` calls)
 * the worker asks it, and waits for the answer.
 */
import { pathToFileURL } from 'node:url';
import type { CancelWatch, ConfigWatcher, DeltaResponse, DeltaWatchRequest, Response, WatchRequest } from '../cache/config-watcher.js';
import { EncodedResource } from '../cache/encoded-resource.js';
import type { Snapshot } from '../cache/snapshot.js';
import { SnapshotCache } from '../cache/snapshot-cache.js';
import type { Logger } from '../logger.js';
import { asBuffer } from '../resource/codec.js';
import { Code, XdsError } from '../resource/xds-error.js';
import type { Node } from '../types/index.js';
import { allow } from './authorize.js';
import type { Authorizer } from './authorize.js';
import type { Callbacks, RequestContext } from './callbacks.js';
import type { ClientStatusAnswerer } from './csds.js';
import { checkFetchRequest } from './fetch.js';
import type { FetchAnswerer } from './fetch.js';
import { HealthService } from './health.js';
import { lazyNode, nodeBytes } from './lazy-node.js';
import type { ResolvedOptions } from './options.js';
import { createWorkerServer } from './server.js';
import type { XdsServer } from './server.js';
import { Holdings, portableContext, rebuildSnapshot } from './worker-protocol.js';
import type { FromWorker, HealthStatuses, ToWorker, WorkerEvent } from './worker-protocol.js';

/**
 * Events wait this long at most before they go to the primary, gathered into one message: a connect storm or a
 * push to a thousand streams is a few messages, not one per event loop turn.
 */
const REPORT_INTERVAL_MS = 100;

const events: WorkerEvent[] = [];
let flushTimer: NodeJS.Timeout | undefined;
let server: XdsServer | undefined;

function send(message: FromWorker): void {
  process.send!(message);
}

/** Sends the events gathered so far, with the server's counts. */
function flush(): void {
  clearTimeout(flushTimer);
  flushTimer = undefined;
  if (events.length === 0) return;
  send({ t: 'events', events: events.splice(0), stats: server!.stats() });
}

function push(event: WorkerEvent): void {
  events.push(event);
  flushTimer ??= setTimeout(flush, REPORT_INTERVAL_MS);
}

/** Pushes an event the primary must answer (with a snapshot): the events go at the end of this turn. */
function pushSoon(event: WorkerEvent): void {
  events.push(event);
  clearTimeout(flushTimer);
  flushTimer = setTimeout(flush, 0);
}

/** Log fields as they can travel: errors become their message. */
function portable(fields: object): object {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields)) out[name] = value instanceof Error ? `${value.name}: ${value.message}` : value;
  return out;
}

/** Logs in the primary (debug stays here: it is per request and would cost more to send than to skip). */
const forwardingLogger: Logger = {
  debug: () => undefined,
  info: (fields, message) => push(['log', 'info', portable(fields), message]),
  warn: (fields, message) => push(['log', 'warn', portable(fields), message]),
  error: (fields, message) => push(['log', 'error', portable(fields), message]),
};

/**
 * The worker's cache as the server sees it: the cache copy, with what the primary records about each request
 * and response reported on the way. Nodes travel once per cache key (with its first stream), not per event.
 */
class ReportingCache implements ConfigWatcher {
  readonly #cache: SnapshotCache;
  readonly #streams = new Map<string, number>();

  constructor(cache: SnapshotCache) {
    this.#cache = cache;
  }

  #verdicts(key: string, request: WatchRequest | DeltaWatchRequest): void {
    if (request.ack !== undefined) {
      const { node: _, ...ack } = request.ack;
      push(['ack', key, ack]);
    }
    if (request.nack !== undefined) {
      const { node: _, ...nack } = request.nack;
      push(['nack', key, nack]);
    }
  }

  createWatch(request: WatchRequest, respond: (response: Response) => void): CancelWatch {
    const key = this.#cache.keyOf(request.node);
    this.#verdicts(key, request);
    return this.#cache.createWatch(request, (response) => {
      push(['sent', key, response.typeUrl, response.version]);
      respond(response);
    });
  }

  createDeltaWatch(request: DeltaWatchRequest, respond: (response: DeltaResponse) => void): CancelWatch {
    const key = this.#cache.keyOf(request.node);
    this.#verdicts(key, request);
    return this.#cache.createDeltaWatch(request, (response) => {
      push(['sent', key, response.typeUrl, response.systemVersion]);
      respond(response);
    });
  }

  streamOpened(node: Node): void {
    const key = this.#cache.keyOf(node);
    const open = this.#streams.get(key) ?? 0;
    this.#streams.set(key, open + 1);
    // The first stream of a key here: the primary sends the key's snapshot on this report, so it goes at once.
    if (open === 0) pushSoon(['opened', key, nodeBytes(node) ?? node]);
    else push(['opened', key, undefined]);
    this.#cache.streamOpened(node);
  }

  streamClosed(node: Node): void {
    const key = this.#cache.keyOf(node);
    const open = (this.#streams.get(key) ?? 1) - 1;
    if (open === 0) this.#streams.delete(key);
    else this.#streams.set(key, open);
    push(['closed', key]);
    this.#cache.streamClosed(node);
  }

  /** Never asked: the primary answers the worker's fetches (see {@link fetchInPrimary}), as this copy holds only some keys. */
  fetch(): Response | undefined {
    throw new XdsError(Code.INTERNAL, 'a worker of the worker mode answers fetches by asking the primary, not from its copy of the cache');
  }
}

/** Questions to the primary waiting for its answer, by question id. */
type Answer = Extract<ToWorker, { t: 'consulted' | 'authorized' | 'clientStatus' | 'fetched' }>;
const questions = new Map<number, { resolve: (answer: Answer) => void; reject: (error: unknown) => void }>();
let nextQuestion = 0;

/**
 * Sends the primary a question and resolves with its answer, or rejects with the status it answered with (the
 * call then ends with that status).
 */
function ask<T extends Answer['t']>(question: (id: number) => FromWorker): Promise<Extract<Answer, { t: T }>> {
  const id = ++nextQuestion;
  return new Promise((resolve, reject) => {
    questions.set(id, {
      resolve: (answer) => (answer.error === undefined ? resolve(answer as Extract<Answer, { t: T }>) : reject(new XdsError(answer.error.code, answer.error.message))),
      reject,
    });
    try {
      send(question(id));
    } catch (error) {
      questions.delete(id);
      reject(XdsError.from(error));
    }
  });
}

function askOpen(streamId: number, typeUrl: string, delta: boolean, context: RequestContext): Promise<void> {
  // The primary runs the hook after it recorded the stream's opening, which goes first.
  flush();
  return ask<'consulted'>((id) => ({ t: 'consult', id, streamId, typeUrl, delta, context: portableContext(context) })).then(() => undefined);
}

/**
 * `authorize` as the worker runs it: the primary runs the application's and answers with the node to serve. A
 * denial or a throw comes back as the status the stream (or fetch) ends with, as in one process.
 */
const authorizeInPrimary: Authorizer = async ({ kind, typeUrl, node, peer, metadata, authContext }) => {
  const answer = await ask<'authorized'>((id) => ({ t: 'authorize', id, kind, typeUrl, node: nodeBytes(node) ?? node, context: portableContext({ peer, metadata, authContext }) }));
  if (answer.node === undefined) return allow();
  return allow(answer.node instanceof Uint8Array ? lazyNode(answer.node) : answer.node);
};

/**
 * CSDS as the worker serves it: the primary, which keeps the status, answers. The events gathered here go first,
 * so that the answer includes what this worker saw until now (other workers' lag up to {@link REPORT_INTERVAL_MS}).
 */
const clientStatusInPrimary: ClientStatusAnswerer = async (request) => {
  flush();
  const answer = await ask<'clientStatus'>((id) => ({ t: 'clientStatus', id, request }));
  return asBuffer(answer.response!);
};

/**
 * The `Fetch…` calls as the worker serves them: the primary answers, from the application's cache. The worker's
 * copy holds only the snapshots of the keys it has streams of; the primary's holds every one, as one process
 * does. The primary authorizes the fetch too, with the node the client sent, read from the bytes sent along.
 * What the primary would refuse before its authorizer runs is refused here, with the same status: junk never
 * crosses to it.
 */
function fetchInPrimary(maxResourceNames: number): FetchAnswerer {
  return async (raw, typeUrl, context) => {
    const { request, nodeBytes: node } = checkFetchRequest(raw, typeUrl, maxResourceNames);
    const answer = await ask<'fetched'>((id) => ({ t: 'fetch', id, typeUrl, request, node, context: portableContext(context) }));
    return asBuffer(answer.response!);
  };
}

function callbacks(consultOpen: { sotw: boolean; delta: boolean }): Callbacks {
  return {
    onStreamOpen: (streamId, typeUrl, context) => {
      push(['stream', streamId, false]);
      return consultOpen.sotw ? askOpen(streamId, typeUrl, false, context) : undefined;
    },
    onDeltaStreamOpen: (streamId, typeUrl, context) => {
      push(['stream', streamId, true]);
      return consultOpen.delta ? askOpen(streamId, typeUrl, true, context) : undefined;
    },
    onStreamClosed: (streamId) => push(['streamClosed', streamId, false]),
    onDeltaStreamClosed: (streamId) => push(['streamClosed', streamId, true]),
  };
}

const held = new Holdings<Snapshot, EncodedResource>();
let cache: SnapshotCache | undefined;
/** The gRPC health service, when the application asked for it: its statuses are the primary's. */
let health: HealthService | undefined;

function setHealth(statuses: HealthStatuses): void {
  for (const [service, status] of statuses) health!.set(status, service);
}

async function init(message: Extract<ToWorker, { t: 'init' }>): Promise<void> {
  let hash: ((node: Node) => string) | undefined;
  if (message.hashModule !== undefined) {
    const url = /^[a-z]+:/i.test(message.hashModule) ? message.hashModule : pathToFileURL(message.hashModule).href;
    const loaded = (await import(url)) as { default?: unknown };
    if (typeof loaded.default !== 'function') throw new Error(`the hash module ${message.hashModule} has no default export of a function (node) => key`);
    hash = loaded.default as (node: Node) => string;
  }
  const { ads, releaseDelayMs, heartbeatIntervalMs, sliceMs } = message.cache;
  cache = new SnapshotCache({ ads, releaseDelayMs, sliceMs, ...(hash === undefined ? {} : { hash }), ...(heartbeatIntervalMs === undefined ? {} : { heartbeatIntervalMs }) });
  const options: ResolvedOptions = {
    ...message.options,
    legacyWildcardTypes: new Set(message.options.legacyWildcardTypes),
    callbacks: callbacks(message.consultOpen),
    logger: forwardingLogger,
    newStreamRate: message.options.newStreamRate,
    requestRateLimit: message.options.requestRateLimit,
    authorize: message.authorize ? authorizeInPrimary : undefined,
    workers: undefined,
    csds: undefined,
    health: false,
  };
  if (message.health !== undefined) {
    health = new HealthService();
    setHealth(message.health);
  }
  server = createWorkerServer(new ReportingCache(cache), options, message.seq * 2 ** 32, { health, csds: message.csds ? clientStatusInPrimary : undefined, fetch: fetchInPrimary(options.maxResourceNames) });
}

async function handle(message: ToWorker): Promise<void> {
  switch (message.t) {
    case 'init':
      await init(message);
      send({ t: 'initialized' });
      return;
    case 'sets': {
      const answered: Promise<void>[] = [];
      for (const change of message.changes) {
        if (change.length === 1) {
          held.assign(change[0], undefined);
          cache!.clearSnapshot(change[0]);
          continue;
        }
        const [key, id, described] = change;
        const snapshot = held.snapshot(id) ?? rebuildSnapshot(described!, id, held);
        held.assign(key, id);
        answered.push(cache!.setSnapshot(key, snapshot));
      }
      void Promise.all(answered).then(() => send({ t: 'applied', seq: message.seq }));
      return;
    }
    case 'listen':
      try {
        send({ t: 'listening', port: await server!.listen(message.address, message.tls) });
      } catch (error) {
        send({ t: 'listenFailed', message: (error as Error).message });
      }
      return;
    case 'consulted':
    case 'authorized':
    case 'clientStatus':
    case 'fetched': {
      const waiting = questions.get(message.id);
      questions.delete(message.id);
      waiting?.resolve(message);
      return;
    }
    case 'health':
      setHealth(message.statuses);
      return;
    case 'info':
      send({
        t: 'info',
        id: message.id,
        info: { pid: process.pid, stats: server!.stats(), encodeCount: EncodedResource.encodeCount, snapshots: held.snapshots, resources: held.resources },
      });
      return;
    case 'close':
      await server!.close({ deadlineMs: message.deadlineMs });
      flush();
      send({ t: 'closed' });
      process.disconnect();
      return;
  }
}

// Messages are handled one after another, in order: a `set` must not overtake the `init` still loading the hash module.
let queue = Promise.resolve();
process.on('message', (message: ToWorker) => {
  queue = queue.then(() => handle(message)).catch((error: unknown) => {
    forwardingLogger.error({ err: error }, `xds worker ${process.pid} failed to handle "${message.t}"; exiting so that a new worker replaces it`);
    flush();
    setTimeout(() => process.exit(1), 100);
  });
});
// Messages that arrive before a listener is registered are lost: the primary sends nothing before this.
send({ t: 'ready' });
