/**
 * The worker mode of the server, in the application's process (the cluster's primary): it starts worker
 * processes with `node:cluster`, which accepts each connection here and hands it to one worker; it follows the
 * application's `SnapshotCache` and hands each worker the snapshots of the keys it holds streams of, as encoded
 * bytes (each resource's bytes once per worker); it records what the workers report (streams, ACK/NACK verdicts,
 * responses) in the cache's status and runs the application's callbacks; it runs `authorize` and answers CSDS and
 * the `Fetch…` calls for the workers, which ask; it replaces a worker that dies. docs/workers.md explains why
 * processes and not threads, and what differs from one process.
 */
import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ServerCredentials } from '@grpc/grpc-js';
import type { ConfigWatcher } from '../cache/config-watcher.js';
import type { Snapshot } from '../cache/snapshot.js';
import { SnapshotCache } from '../cache/snapshot-cache.js';
import type { StatusSource } from '../cache/sync-status.js';
import { Code, XdsError } from '../resource/xds-error.js';
import type { Node } from '../types/index.js';
import { authorizeNode, certificateOfAuthContext } from './authorize.js';
import { consult, notify } from './callbacks.js';
import { clientStatus } from './csds.js';
import { answerFetch } from './fetch.js';
import type { HealthService } from './health.js';
import { lazyNode, nodeBytes } from './lazy-node.js';
import type { ResolvedOptions } from './options.js';
import type { RestHandler } from './rest.js';
import type { CloseOptions, ServerStats, XdsServer } from './server.js';
import { checkTlsCredentials, isTlsCredentials } from './tls.js';
import type { TlsCredentials } from './tls.js';
import { describeSnapshot, Holdings, requestContextOf } from './worker-protocol.js';
import type { FromWorker, HealthStatuses, RemoteError, SnapshotChange, ToWorker, WorkerEvent, WorkerInfo, WorkerServerOptions } from './worker-protocol.js';

/**
 * The per-request and per-response callbacks of streams, which the worker mode does not run: they would run inside
 * a worker, away from the application's process (docs/workers.md). Those of fetches run here, where fetches are
 * answered.
 */
const REFUSED_HOOKS = ['onStreamRequest', 'onStreamDeltaRequest', 'onStreamResponse', 'onStreamDeltaResponse'] as const;

/**
 * Addresses with port 0 that a worker-mode server of this process listens on. node:cluster shares one listening
 * socket per address and port among the workers it starts, so a second server asking for `host:0` would be given
 * the first one's port, and each server's workers the other's connections.
 */
const listeningOnPortZero = new Set<string>();

/** Replacements of workers that died soon after starting wait longer each time, up to this. */
const MAX_RESTART_DELAY_MS = 5000;
/** A worker that lived this long resets the backoff. */
const STABLE_AFTER_MS = 10_000;

/** The module a worker runs: ours, next to this one (`.ts` when running from source, `.js` once built). */
function workerModule(): string {
  const here = fileURLToPath(import.meta.url);
  return here.slice(0, -extname(here).length).replace(/cluster-server$/, 'cluster-worker') + extname(here);
}

/** What the primary keeps of one worker. */
interface WorkerRecord {
  readonly seq: number;
  readonly worker: Worker;
  readonly startedAt: number;
  /** What the worker holds (the same bookkeeping as the worker's own). */
  readonly held: Holdings<true, true>;
  /** Snapshot changes queued in this turn, sent together (see `#queue`), and what waits for them to be applied. */
  readonly outbox: SnapshotChange[];
  readonly outboxWaiting: (() => void)[];
  /** Snapshot changes sent and not yet applied, by message number. */
  readonly applying: Map<number, () => void>;
  /** Its open streams, with the cache key learnt from their first verdict. */
  readonly streams: Map<number, { delta: boolean; key: string | undefined }>;
  /** Per cache key: the node of its first stream here, and the streams open. */
  readonly keys: Map<string, { node: Node; open: number }>;
  stats: ServerStats;
  /** True once the worker listens for messages: what is sent before is lost, so nothing is. */
  ready: boolean;
  listening: boolean;
  /** Answers awaited: `ready`, `listening`, `info`, by kind. */
  readonly waiting: Map<string, { resolve: (message: FromWorker) => void; reject: (error: Error) => void }>;
}

const NO_STATS: ServerStats = Object.freeze({ streams: 0, connections: 0, watches: 0, pendingResponses: 0, totalStreams: 0 });

/** The {@link XdsServer} of the worker mode; made by `createServer(cache, { workers })`. */
export class ClusterServer implements XdsServer {
  /**
   * The health statuses, kept here (by the REST server's `serveWhenReady` on the application's cache, and by the
   * application): every change is passed on to the workers, which serve the gRPC health service.
   */
  readonly health: HealthService | undefined;
  readonly #cache: SnapshotCache;
  readonly #options: ResolvedOptions;
  /** Where the workers' CSDS calls are answered from, here. */
  readonly #csds: StatusSource | undefined;
  readonly #count: number;
  readonly #hashModule: string | undefined;
  /** Serves REST here, from the application's cache. */
  readonly #local: XdsServer;
  readonly #workers = new Map<number, WorkerRecord>();
  /**
   * What the cache serves now, by key. A worker is given a key's snapshot while it holds a stream of the key: when
   * the first opens there, and at each change until the last closes.
   */
  readonly #current = new Map<string, Snapshot>();
  // A snapshot set for many keys travels once: workers refer to it by this number afterwards.
  readonly #snapshotIds = new WeakMap<Snapshot, number>();
  #nextSnapshotId = 0;
  #outboxFlush: NodeJS.Immediate | undefined;
  #nextMessage = 0;
  #nextWorker = 0;
  #nextQuestion = 0;
  #address: string | undefined;
  /** TLS of the gRPC port, handed to each worker as it starts to listen (replacements too). */
  #tls: TlsCredentials | undefined;
  #closing = false;
  #crashes = 0;
  #unfollow: (() => void) | undefined;

  constructor(cache: ConfigWatcher, options: ResolvedOptions, local: XdsServer) {
    if (!(cache instanceof SnapshotCache)) {
      throw new TypeError('the worker mode serves a SnapshotCache (createServer(cache, { workers })): other caches have no snapshots to hand to the workers');
    }
    const hooks = REFUSED_HOOKS.filter((name) => options.callbacks[name] !== undefined);
    if (hooks.length > 0) {
      throw new TypeError(`callbacks ${hooks.join(', ')} are not available in the worker mode, which runs no per-request or per-response callback of streams; use authorize, onAck, onNack and the open/closed callbacks, or run without workers`);
    }
    if (!cluster.isPrimary) throw new Error('createServer with workers must be called in the primary process, not in a cluster worker');
    if (cache.settings().customHash && options.workers!.hashModule === undefined) {
      throw new TypeError('this SnapshotCache has its own hash function, which cannot be sent to the workers: give its module with { workers: { count, hashModule } }');
    }
    this.#cache = cache;
    this.#options = options;
    // `local` checked the option already: true needs a cache with a status, which a SnapshotCache is.
    this.#csds = options.csds === true ? cache : options.csds === false ? undefined : options.csds;
    this.#count = options.workers!.count;
    this.#hashModule = options.workers!.hashModule;
    this.#local = local;
    this.health = local.health;
    this.health?.onChange(() => {
      const health = healthStatuses(this.health!);
      for (const record of this.#workers.values()) if (record.ready) this.#send(record, { t: 'health', statuses: health });
    });
  }

  register(): void {
    throw new Error('the worker mode listens itself (listen); register() serves streams in this process: create the server without workers for that');
  }

  /**
   * Starts the workers, each listening on `address`. TLS comes as {@link TlsCredentials} (the bytes each worker
   * builds its own credentials from); a secure grpc-js `ServerCredentials` is refused, since it cannot be handed
   * to another process.
   */
  async listen(address: string, credentials: ServerCredentials | TlsCredentials = ServerCredentials.createInsecure()): Promise<number> {
    if (this.#address !== undefined) throw new Error('this xDS server is already listening; create another to serve a second address');
    if (isTlsCredentials(credentials)) {
      checkTlsCredentials(credentials);
      this.#tls = credentials;
    } else if (credentials._isSecure()) {
      throw new TypeError(
        'the worker mode cannot hand a grpc-js ServerCredentials to its worker processes: pass what you gave ServerCredentials.createSsl instead, ' +
          'xds.listen(address, { rootCerts, keyCertPairs, checkClientCertificate }), and each worker builds its own credentials from those bytes',
      );
    }
    if (address.endsWith(':0')) {
      if (listeningOnPortZero.has(address)) {
        throw new Error(`another worker-mode server of this process listens on ${address}: node:cluster would give this one the same port and mix their connections; give each server a port of its own`);
      }
      listeningOnPortZero.add(address);
    }
    this.#address = address;
    this.#unfollow = this.#cache.follow((key, snapshot) => this.#follow(key, snapshot));
    // Every worker binds the same address: the primary holds the one socket (for port 0, cluster gives every
    // worker the port it chose for the first) and hands out the connections.
    try {
      const ports = await Promise.all(Array.from({ length: this.#count }, async () => this.#listenIn(await this.#start(), address)));
      return ports[0];
    } catch (error) {
      // A worker that cannot listen (the port taken, say) fails the whole server: the others are stopped too.
      await this.close({ deadlineMs: 1000 });
      throw error;
    }
  }

  /** Starts a worker and gives it every current snapshot; resolves once it is ready to listen. */
  async #start(): Promise<WorkerRecord> {
    cluster.setupPrimary({
      exec: workerModule(),
      args: [],
      // The flags this process runs with (a TypeScript loader, conditions), without those of a test runner.
      execArgv: process.execArgv.filter((flag) => !flag.startsWith('--test')),
      serialization: 'advanced',
    });
    const seq = ++this.#nextWorker;
    const worker = cluster.fork();
    const record: WorkerRecord = {
      seq,
      worker,
      startedAt: Date.now(),
      held: new Holdings(),
      outbox: [],
      outboxWaiting: [],
      applying: new Map(),
      streams: new Map(),
      keys: new Map(),
      stats: NO_STATS,
      ready: false,
      listening: false,
      waiting: new Map(),
    };
    this.#workers.set(seq, record);
    worker.on('message', (message: FromWorker) => this.#receive(record, message));
    worker.on('exit', (code, signal) => this.#exited(record, code, signal));
    await this.#await(record, 'ready');
    record.ready = true;
    const initialized = this.#await(record, 'initialized');
    const consultOpen = { sotw: this.#options.callbacks.onStreamOpen !== undefined, delta: this.#options.callbacks.onDeltaStreamOpen !== undefined };
    this.#send(record, {
      t: 'init',
      seq,
      options: workerOptions(this.#options),
      cache: this.#cache.settings(),
      hashModule: this.#hashModule,
      consultOpen,
      health: this.health === undefined ? undefined : healthStatuses(this.health),
      authorize: this.#options.authorize !== undefined,
      csds: this.#csds !== undefined,
    });
    await initialized;
    return record;
  }

  async #listenIn(record: WorkerRecord, address: string): Promise<number> {
    const answer = this.#await(record, 'listening');
    this.#send(record, { t: 'listen', address, tls: this.#tls });
    const message = await answer;
    if (message.t !== 'listening') throw new Error(`an xDS worker could not listen on ${address}: ${message.t === 'listenFailed' ? message.message : message.t}`);
    record.listening = true;
    return message.port;
  }

  /** Resolves with the worker's next message of this kind (`listening` also ends on `listenFailed`); rejects if it dies first. */
  #await(record: WorkerRecord, kind: string): Promise<FromWorker> {
    return new Promise((resolve, reject) => record.waiting.set(kind, { resolve, reject }));
  }

  /** Sends a message after the snapshot changes queued before it, which it must not overtake. */
  #send(record: WorkerRecord, message: ToWorker): void {
    this.#flushOutbox(record);
    if (record.worker.isConnected()) record.worker.send(message);
  }

  /**
   * Queues a snapshot change for a worker. The changes of one turn of the event loop (an application that sets a
   * thousand keys at once) go to the worker in one message; `applied` runs once the worker applied them.
   */
  #queue(record: WorkerRecord, change: SnapshotChange, applied?: () => void): void {
    // Closing: the workers' last reports (streams closed) change nothing they must be told, and they are leaving.
    if (this.#closing) {
      applied?.();
      return;
    }
    record.outbox.push(change);
    if (applied !== undefined) record.outboxWaiting.push(applied);
    if (this.#outboxFlush !== undefined) return;
    this.#outboxFlush = setImmediate(() => {
      this.#outboxFlush = undefined;
      for (const each of this.#workers.values()) this.#flushOutbox(each);
    });
  }

  #flushOutbox(record: WorkerRecord): void {
    if (record.outbox.length === 0) return;
    const seq = ++this.#nextMessage;
    const waiting = record.outboxWaiting.splice(0);
    record.applying.set(seq, () => {
      for (const applied of waiting) applied();
    });
    const message: ToWorker = { t: 'sets', seq, changes: record.outbox.splice(0) };
    if (record.worker.isConnected()) record.worker.send(message);
  }

  #follow(key: string, snapshot: Snapshot | undefined): Promise<void> {
    if (snapshot === undefined) {
      this.#current.delete(key);
      for (const record of this.#workers.values()) this.#drop(record, key);
      return Promise.resolve();
    }
    this.#current.set(key, snapshot);
    // Only the workers holding a stream of the key: a worker that opens one later is given the snapshot then.
    const applied: Promise<void>[] = [];
    for (const record of this.#workers.values()) if (record.ready && record.keys.has(key)) applied.push(this.#sendSnapshot(record, key, snapshot));
    return Promise.all(applied).then(() => undefined);
  }

  /** Hands a worker a snapshot for a key, with the bytes it lacks; resolves when it applied it. */
  #sendSnapshot(record: WorkerRecord, key: string, snapshot: Snapshot): Promise<void> {
    let id = this.#snapshotIds.get(snapshot);
    if (id === undefined) {
      id = ++this.#nextSnapshotId;
      this.#snapshotIds.set(snapshot, id);
    }
    if (record.held.served(key) === id) return Promise.resolve();
    const description = record.held.hasSnapshot(id) ? undefined : describeSnapshot(snapshot, id, record.held);
    record.held.assign(key, id);
    return new Promise((resolve) => this.#queue(record, [key, id, description], resolve));
  }

  /** A worker serves a key nothing any more (no snapshot, or no stream of the key there): it drops what it held. */
  #drop(record: WorkerRecord, key: string): void {
    if (record.held.served(key) === undefined) return;
    record.held.assign(key, undefined);
    this.#queue(record, [key]);
  }

  #receive(record: WorkerRecord, message: FromWorker): void {
    switch (message.t) {
      case 'events':
        record.stats = message.stats;
        for (const event of message.events) this.#record(record, event);
        return;
      case 'applied':
        record.applying.get(message.seq)?.();
        record.applying.delete(message.seq);
        return;
      case 'consult':
        this.#consult(record, message);
        return;
      case 'authorize':
        this.#authorize(record, message);
        return;
      case 'clientStatus':
        this.#clientStatus(record, message);
        return;
      case 'fetch':
        this.#fetch(record, message);
        return;
      case 'closed':
        return;
      default: {
        const kind = message.t === 'listenFailed' ? 'listening' : message.t === 'info' ? `info ${message.id}` : message.t;
        const waiting = record.waiting.get(kind);
        record.waiting.delete(kind);
        waiting?.resolve(message);
      }
    }
  }

  /** Records what a worker did: in the cache's status, in the callbacks and in the log, as one process would. */
  #record(record: WorkerRecord, event: WorkerEvent): void {
    const { callbacks, logger } = this.#options;
    switch (event[0]) {
      case 'stream':
        record.streams.set(event[1], { delta: event[2], key: undefined });
        return;
      case 'streamClosed': {
        const key = record.streams.get(event[1])?.key;
        record.streams.delete(event[1]);
        const node = key === undefined ? undefined : record.keys.get(key)?.node;
        notify(logger, callbacks, event[2] ? 'onDeltaStreamClosed' : 'onStreamClosed', event[1], node);
        return;
      }
      case 'opened': {
        const [, key, node] = event;
        let entry = record.keys.get(key);
        if (entry === undefined) {
          entry = { node: node instanceof Uint8Array ? nodeOfBytes(node, key) : (node ?? { id: key }), open: 0 };
          record.keys.set(key, entry);
          // The first stream of the key in this worker: from now on the worker is given the key's snapshots.
          const current = this.#current.get(key);
          if (current !== undefined) void this.#sendSnapshot(record, key, current);
        }
        entry.open++;
        this.#cache.streamOpened(entry.node);
        return;
      }
      case 'closed': {
        const entry = record.keys.get(event[1]);
        if (entry === undefined) return;
        if (--entry.open === 0) {
          record.keys.delete(event[1]);
          this.#drop(record, event[1]);
        }
        this.#cache.streamClosed(entry.node);
        return;
      }
      case 'ack': {
        const [, key, remote] = event;
        const node = this.#nodeOf(record, key, remote.streamId);
        const ack = { ...remote, node };
        this.#cache.recordRequest({ node, ack });
        notify(logger, callbacks, 'onAck', ack);
        return;
      }
      case 'nack': {
        const [, key, remote] = event;
        const node = this.#nodeOf(record, key, remote.streamId);
        const nack = { ...remote, node };
        this.#cache.recordRequest({ node, nack });
        notify(logger, callbacks, 'onNack', nack);
        return;
      }
      case 'sent': {
        const entry = record.keys.get(event[1]);
        if (entry !== undefined) this.#cache.recordSent(entry.node, event[2], event[3]);
        return;
      }
      case 'log':
        logger[event[1]]({ ...event[2], worker: record.worker.process.pid }, event[3]);
        return;
    }
  }

  /** The node of a key in a worker; remembers the stream's key for its closed callback. */
  #nodeOf(record: WorkerRecord, key: string, streamId: number): Node {
    const stream = record.streams.get(streamId);
    if (stream !== undefined) stream.key = key;
    return record.keys.get(key)?.node ?? { id: key };
  }

  #consult(record: WorkerRecord, message: Extract<FromWorker, { t: 'consult' }>): void {
    const context = requestContextOf(message.context);
    const answer = (error: unknown): void => {
      this.#send(record, { t: 'consulted', id: message.id, error: remoteError(error) });
    };
    try {
      const waiting = consult(this.#options.callbacks, message.delta ? 'onDeltaStreamOpen' : 'onStreamOpen', message.streamId, message.typeUrl, context);
      if (waiting === undefined) answer(undefined);
      else waiting.then(() => answer(undefined), answer);
    } catch (error) {
      answer(error);
    }
  }

  /**
   * Runs the application's `authorize` for a worker's stream or fetch, with what one process would give it, and
   * answers with the node to serve (none when it is the client's) or the status the call ends with.
   */
  #authorize(record: WorkerRecord, message: Extract<FromWorker, { t: 'authorize' }>): void {
    const answer = (node: Uint8Array | Node | undefined, error: unknown): void => {
      this.#send(record, { t: 'authorized', id: message.id, node, error: remoteError(error) });
    };
    try {
      const claimed = message.node instanceof Uint8Array ? lazyNode(message.node) : message.node;
      const context = requestContextOf(message.context);
      const served = authorizeNode(this.#options.authorize, {
        ...context,
        kind: message.kind,
        typeUrl: message.typeUrl,
        node: claimed,
        certificate: certificateOfAuthContext(context.authContext),
      });
      const reply = (node: Node): void => {
        try {
          answer(node === claimed ? undefined : (nodeBytes(node) ?? node), undefined);
        } catch (error) {
          // A node that cannot be copied to another process (a function in it): the stream ends, this process stays.
          answer(undefined, new XdsError(Code.INTERNAL, `the node authorize chose cannot be sent to the worker: ${(error as Error).message}`));
        }
      };
      if (served instanceof Promise) served.then(reply, (error: unknown) => answer(undefined, error));
      else reply(served);
    } catch (error) {
      answer(undefined, error);
    }
  }

  /** Answers a CSDS request a worker received, from the status kept here. */
  #clientStatus(record: WorkerRecord, message: Extract<FromWorker, { t: 'clientStatus' }>): void {
    const answer = (response: Buffer | undefined, error: unknown): void => {
      this.#send(record, { t: 'clientStatus', id: message.id, response, error: remoteError(error) });
    };
    if (this.#csds === undefined) {
      answer(undefined, new XdsError(Code.UNIMPLEMENTED, 'CSDS is not served: the server was created without the csds option'));
      return;
    }
    clientStatus(this.#csds, message.request).then(
      (response) => answer(response, undefined),
      (error: unknown) => answer(undefined, error),
    );
  }

  /**
   * Answers a `Fetch…` call a worker received, from the application's cache (which holds every key's snapshot,
   * where the worker's copy holds those of its streams' keys): authorized, answered and refused as in one process.
   */
  #fetch(record: WorkerRecord, message: Extract<FromWorker, { t: 'fetch' }>): void {
    const answer = (response: Buffer | undefined, error: unknown): void => {
      this.#send(record, { t: 'fetched', id: message.id, response, error: remoteError(error) });
    };
    answerFetch(this.#cache, this.#options, { request: message.request, node: message.node }, message.typeUrl, requestContextOf(message.context)).then(
      (response) => answer(response, undefined),
      (error: unknown) => answer(undefined, error),
    );
  }

  /** A worker died: its streams are closed in the status and callbacks, and another takes its place. */
  #exited(record: WorkerRecord, code: number | null, signal: string | null): void {
    this.#workers.delete(record.seq);
    for (const resolve of [...record.applying.values(), ...record.outboxWaiting]) resolve();
    for (const [kind, { reject }] of record.waiting) reject(new Error(`xDS worker ${record.worker.process.pid} exited before it answered "${kind}"`));
    const { callbacks, logger } = this.#options;
    for (const [streamId, stream] of record.streams) {
      const node = stream.key === undefined ? undefined : record.keys.get(stream.key)?.node;
      notify(logger, callbacks, stream.delta ? 'onDeltaStreamClosed' : 'onStreamClosed', streamId, node);
    }
    for (const entry of record.keys.values()) for (let i = 0; i < entry.open; i++) this.#cache.streamClosed(entry.node);
    if (this.#closing || !record.listening) return;
    const lived = Date.now() - record.startedAt;
    this.#crashes = lived > STABLE_AFTER_MS ? 0 : this.#crashes + 1;
    const delayMs = this.#crashes === 0 ? 0 : Math.min(MAX_RESTART_DELAY_MS, 100 * 2 ** (this.#crashes - 1));
    logger.error({ worker: record.worker.process.pid, code, signal, streams: record.streams.size, restartInMs: delayMs }, 'xDS worker died: its clients reconnect to the others; starting a replacement');
    setTimeout(() => {
      if (this.#closing) return;
      this.#start()
        .then((replacement) => this.#listenIn(replacement, this.#address!))
        .catch((error: unknown) => logger.error({ err: error }, 'could not start a replacement xDS worker'));
    }, delayMs).unref();
  }

  restHandler(): RestHandler {
    return this.#local.restHandler();
  }

  /** Serves REST here, in the primary, from the application's cache (over HTTPS when `tls` is given), as one process does. */
  listenRest(port: number, host?: string, tls?: HttpsServerOptions): Promise<number> {
    return this.#local.listenRest(port, host, tls);
  }

  async close(options: CloseOptions = {}): Promise<void> {
    const deadlineMs = options.deadlineMs ?? 5000;
    // First of all, as in one process: the workers answer health checks NOT_SERVING from now on.
    this.health?.shutdown();
    this.#closing = true;
    if (this.#address !== undefined) listeningOnPortZero.delete(this.#address);
    this.#unfollow?.();
    const exits = [...this.#workers.values()].map(
      (record) =>
        new Promise<void>((resolve) => {
          if (record.worker.isDead()) {
            resolve();
            return;
          }
          if (!record.ready) record.worker.process.kill('SIGKILL');
          const timer = setTimeout(() => record.worker.process.kill('SIGKILL'), deadlineMs + 2000);
          record.worker.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          this.#send(record, { t: 'close', deadlineMs });
        }),
    );
    await Promise.all([...exits, this.#local.close(options)]);
  }

  stats(): ServerStats {
    let streams = 0;
    let connections = 0;
    let watches = 0;
    let pendingResponses = 0;
    let totalStreams = 0;
    for (const { stats } of this.#workers.values()) {
      streams += stats.streams;
      connections += stats.connections;
      watches += stats.watches;
      pendingResponses += stats.pendingResponses;
      totalStreams += stats.totalStreams;
    }
    return { streams, connections, watches, pendingResponses, totalStreams };
  }

  async workers(): Promise<WorkerInfo[]> {
    const asked = [...this.#workers.values()].filter((record) => record.listening).map(async (record) => {
      const id = ++this.#nextQuestion;
      const answer = this.#await(record, `info ${id}`);
      this.#send(record, { t: 'info', id });
      // A worker that dies before it answers holds nothing any more: it is left out.
      const message = await answer.catch(() => undefined);
      return message?.t === 'info' ? message.info : undefined;
    });
    return (await Promise.all(asked)).filter((info) => info !== undefined);
  }
}

function healthStatuses(health: HealthService): HealthStatuses {
  return [...health.statuses()];
}

/** The status a question of a worker failed with, as it travels (undefined: it did not fail). */
function remoteError(error: unknown): RemoteError | undefined {
  if (error === undefined) return undefined;
  const status = XdsError.from(error);
  return { code: status.code, message: status.message };
}

/**
 * A node sent as its bytes, read lazily as the worker read it. The worker checked the bytes already; should they
 * still not read as a node, the key stands in for it.
 */
function nodeOfBytes(bytes: Uint8Array, key: string): Node {
  try {
    return lazyNode(bytes);
  } catch {
    return { id: key };
  }
}

/** The options a worker runs with (callbacks and logger stay here). */
function workerOptions(options: ResolvedOptions): WorkerServerOptions {
  const grpcOptions: Record<string, string | number> = {};
  for (const [name, value] of Object.entries(options.grpcOptions)) if (typeof value === 'string' || typeof value === 'number') grpcOptions[name] = value;
  return {
    orderedAds: options.orderedAds,
    legacyWildcardTypes: [...options.legacyWildcardTypes] as WorkerServerOptions['legacyWildcardTypes'],
    maxResourceNames: options.maxResourceNames,
    requestRateLimit: options.requestRateLimit,
    maxReceiveMessageLength: options.maxReceiveMessageLength,
    maxSendMessageLength: options.maxSendMessageLength,
    keepaliveTimeMs: options.keepaliveTimeMs,
    keepaliveTimeoutMs: options.keepaliveTimeoutMs,
    maxConcurrentStreams: options.maxConcurrentStreams,
    grpcOptions,
    // Each worker applies the limits to the streams it holds: connection and new-stream limits are per worker.
    maxConnections: options.maxConnections,
    maxStreamsPerConnection: options.maxStreamsPerConnection,
    maxStreamsPerNode: options.maxStreamsPerNode,
    newStreamRate: options.newStreamRate,
    restHeadersTimeoutMs: options.restHeadersTimeoutMs,
    restRequestTimeoutMs: options.restRequestTimeoutMs,
  };
}


