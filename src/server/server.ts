import { createServer as createHttpServer } from 'node:http';
import type { Server as HttpServer, ServerOptions as HttpServerOptions } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Server as GrpcServer, ServerCredentials } from '@grpc/grpc-js';
import type { sendUnaryData, ServerUnaryCall, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { ConfigWatcher } from '../cache/config-watcher.js';
import { isStatusSource, type StatusSource } from '../cache/sync-status.js';
import { lookupProtoNamesType } from '../resource/registry.js';
import { Code, XdsError } from '../resource/xds-error.js';
import { DeltaStream } from './delta.js';
import { answerFetch, type FetchAnswerer } from './fetch.js';
import type { Decoded, UndecodableRequest, XdsDiscoveryRequest } from './messages.js';
import { StreamLimits } from './limits.js';
import type { StreamLease } from './limits.js';
import { grpcServerOptions, resolveOptions } from './options.js';
import type { ResolvedOptions, ServerOptions } from './options.js';
import { csdsImplementation, csdsServiceDefinition, type ClientStatusAnswerer, type CsdsCall } from './csds.js';
import { addHealthService, HealthService } from './health.js';
import { createRestHandler } from './rest.js';
import type { RestHandler } from './rest.js';
import { serviceDefinition, XDS_SERVICES } from './service-definitions.js';
import { HeldVersions } from './held-versions.js';
import type { XdsServiceInfo } from './service-definitions.js';
import { SotwStream } from './sotw.js';
import { boundedStatus } from './xds-stream.js';
import { ClusterServer } from './cluster-server.js';
import { isTlsCredentials, serverCredentialsOf } from './tls.js';
import type { TlsCredentials } from './tls.js';
import type { WorkerInfo } from './worker-protocol.js';
import type { StreamEnvironment, XdsCall, XdsStream } from './xds-stream.js';

/** Counts that show what the server holds; open watches and streams must return to zero as clients leave. */
export interface ServerStats {
  /** Streams open now. */
  readonly streams: number;
  /** Connections (client address and port) with open streams. */
  readonly connections: number;
  /** Watches open in the cache for those streams. */
  readonly watches: number;
  /** Responses waiting for slow readers (at most one per type per stream). */
  readonly pendingResponses: number;
  /** Streams opened since the server was created. */
  readonly totalStreams: number;
}

/** Options of {@link XdsServer.close}. */
export interface CloseOptions {
  /**
   * How long to wait for connections to finish after every stream was told to go away, before cutting them.
   * Default 5000 ms.
   */
  deadlineMs?: number | undefined;
}

/** An xDS management server: the gRPC services and the REST endpoint, answering from one cache. */
export interface XdsServer {
  /**
   * Adds every xDS service (ADS, the per-type services, SotW, delta and fetch) to an existing gRPC server, for
   * an application that serves other services on the same port or manages the server itself; and CSDS when
   * the `csds` option asks for it.
   */
  register(server: GrpcServer): void;
  /**
   * Creates a gRPC server with the options for many clients (keepalive, concurrent streams, message sizes),
   * registers the services and binds `address` (`host:port`; port 0 picks a free one). Resolves to the port.
   *
   * @param credentials - TLS: `ServerCredentials.createSsl(rootCerts, keyCertPairs, checkClientCertificate)`,
   *   or the same three as {@link TlsCredentials} (`{ rootCerts, keyCertPairs, checkClientCertificate }`), the
   *   only form the worker mode accepts (it hands the bytes to each worker); insecure when omitted
   */
  listen(address: string, credentials?: ServerCredentials | TlsCredentials): Promise<number>;
  /** The REST-JSON handler, mountable on any `node:http` server. */
  restHandler(): RestHandler;
  /**
   * Serves the REST handler on its own HTTP server, or HTTPS when `tls` is given (`{ key, cert, ca,
   * requestCert: true }` for mutual TLS: the verified client certificate then reaches `authorize`); resolves to
   * the bound port. The options `restHeadersTimeoutMs` and `restRequestTimeoutMs` bound slow clients. `close()`
   * stops it.
   */
  listenRest(port: number, host?: string, tls?: HttpsServerOptions): Promise<number>;
  /**
   * Graceful shutdown: refuses new streams, ends every open stream with `UNAVAILABLE` (so Envoy reconnects,
   * to another replica if there is one), lets the servers this object started finish, and cuts what remains
   * after the deadline. Servers passed to `register` are left running; their streams of ours are ended.
   */
  close(options?: CloseOptions): Promise<void>;
  /** What the server holds now (in worker mode: summed over the workers, as they last reported). */
  stats(): ServerStats;
  /**
   * The gRPC health service's statuses when the `health` option is on (undefined otherwise): set them yourself
   * when readiness depends on more than the first snapshot, `xds.health?.set('NOT_SERVING')`. In the worker
   * mode they live here, in the application's process, and every change is passed on to the workers, which
   * answer `Check` and `Watch` with them.
   */
  readonly health: HealthService | undefined;
  /** In worker mode, what each living worker process holds (one that dies before it answers is left out); empty otherwise. */
  workers(): Promise<WorkerInfo[]>;
}

class XdsServerImpl implements XdsServer {
  readonly #cache: ConfigWatcher;
  readonly #options: ResolvedOptions;
  readonly #streams = new Set<XdsStream>();
  readonly #env: StreamEnvironment;
  #nextId: number;
  readonly #firstStreamId: number;
  #closing = false;
  #grpcServer: GrpcServer | undefined;
  #httpServer: HttpServer | undefined;
  #rest: RestHandler | undefined;
  readonly #csds: StatusSource | ClientStatusAnswerer | undefined;
  readonly #csdsCalls = new Set<CsdsCall>();
  /** Answers the `Fetch…` calls: from the cache, or (in a worker of the worker mode) by asking the primary. */
  readonly #answerFetch: FetchAnswerer;
  readonly health: HealthService | undefined;

  /**
   * @param firstStreamId - streams get ids above it (each worker of the worker mode has its own range)
   * @param parts - what a worker of the worker mode serves in place of its own: see {@link WorkerParts}
   */
  constructor(cache: ConfigWatcher, options: ResolvedOptions, firstStreamId = 0, parts: WorkerParts = {}) {
    this.#cache = cache;
    this.#options = options;
    this.#nextId = firstStreamId;
    this.#firstStreamId = firstStreamId;
    this.#csds = parts.csds ?? csdsSource(cache, options.csds);
    this.#answerFetch = parts.fetch ?? ((raw, typeUrl, context) => answerFetch(cache, options, raw, typeUrl, context));
    if (parts.health !== undefined) {
      this.health = parts.health;
    } else if (options.health) {
      this.health = new HealthService(XDS_SERVICES.map((info) => info.service));
      serveWhenReady(cache, this.health);
    }
    this.#env = {
      cache,
      options: this.#options,
      limits: new StreamLimits(this.#options),
      heldVersions: new HeldVersions(),
      nextStreamId: () => ++this.#nextId,
      released: (stream) => {
        this.#streams.delete(stream);
      },
    };
  }

  register(server: GrpcServer): void {
    // Build the codec's proto-name root now rather than on the first client's first request.
    lookupProtoNamesType('envoy.config.core.v3.Node');
    for (const info of XDS_SERVICES) server.addService(serviceDefinition(info), this.#implementation(info));
    if (this.#csds !== undefined) server.addService(csdsServiceDefinition(), csdsImplementation(this.#csds, this.#csdsCalls));
    if (this.health !== undefined) addHealthService(server, this.health);
  }

  #implementation(info: XdsServiceInfo): UntypedServiceImplementation {
    const handlers: UntypedServiceImplementation = {};
    const { sotw, delta, fetch } = info.methods;
    if (sotw !== undefined) handlers[sotw] = (call: XdsCall) => this.#openStream(call, () => new SotwStream(this.#env, call, info.typeUrl));
    if (delta !== undefined) handlers[delta] = (call: XdsCall) => this.#openStream(call, () => new DeltaStream(this.#env, call, info.typeUrl));
    if (fetch !== undefined) {
      handlers[fetch] = (call: ServerUnaryCall<Decoded<XdsDiscoveryRequest> | UndecodableRequest, Buffer>, callback: sendUnaryData<Buffer>) =>
        this.#fetch(info, call, callback);
    }
    return handlers;
  }

  #openStream(call: XdsCall, create: () => SotwStream | DeltaStream): void {
    if (this.#closing) {
      call.emit('error', new XdsError(Code.UNAVAILABLE, 'control plane shutting down; connect to another'));
      return;
    }
    let lease: StreamLease;
    try {
      lease = this.#env.limits.admit(call.getPeer());
    } catch (error) {
      const refusal = boundedStatus(XdsError.from(error));
      this.#options.logger.warn({ peer: call.getPeer(), code: Code[refusal.code], reason: refusal.message }, 'xds stream refused');
      call.emit('error', refusal);
      return;
    }
    const stream = create();
    this.#streams.add(stream);
    stream.start(lease);
  }

  #fetch(info: XdsServiceInfo, call: ServerUnaryCall<Decoded<XdsDiscoveryRequest> | UndecodableRequest, Buffer>, callback: sendUnaryData<Buffer>): void {
    if (this.#closing) {
      callback(new XdsError(Code.UNAVAILABLE, 'control plane shutting down; connect to another'));
      return;
    }
    const context = { peer: call.getPeer(), metadata: call.metadata, authContext: call.getAuthContext() };
    this.#answerFetch(call.request, info.typeUrl, context).then(
      (body) => callback(null, body),
      (error: unknown) => callback(boundedStatus(XdsError.from(error))),
    );
  }

  async listen(address: string, credentials: ServerCredentials | TlsCredentials = ServerCredentials.createInsecure()): Promise<number> {
    if (this.#grpcServer !== undefined) throw new Error('this xDS server is already listening; create another to serve a second address');
    const grpcCredentials = isTlsCredentials(credentials) ? serverCredentialsOf(credentials) : credentials;
    const server = new GrpcServer(grpcServerOptions(this.#options));
    this.register(server);
    this.#grpcServer = server;
    return new Promise<number>((resolve, reject) => {
      server.bindAsync(address, grpcCredentials, (error, port) => {
        if (error) {
          this.#grpcServer = undefined;
          reject(error);
        } else {
          resolve(port);
        }
      });
    });
  }

  restHandler(): RestHandler {
    return (this.#rest ??= createRestHandler(this.#cache, this.#options, () => this.#closing));
  }

  async listenRest(port: number, host = 'localhost', tls?: HttpsServerOptions): Promise<number> {
    if (this.#httpServer !== undefined) throw new Error('the REST endpoint of this xDS server is already listening');
    const timeouts: HttpServerOptions = {
      headersTimeout: this.#options.restHeadersTimeoutMs,
      requestTimeout: this.#options.restRequestTimeoutMs,
      // Node checks the two timeouts on this interval (30 s by default): check often enough to honor them.
      connectionsCheckingInterval: Math.min(1000, this.#options.restHeadersTimeoutMs),
    };
    const server = tls === undefined ? createHttpServer(timeouts, this.restHandler()) : createHttpsServer({ ...tls, ...timeouts }, this.restHandler());
    this.#httpServer = server;
    return new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  }

  async close(options: CloseOptions = {}): Promise<void> {
    const deadlineMs = options.deadlineMs ?? 5000;
    this.#closing = true;
    // First of all, so that load balancers and probes stop sending clients here.
    this.health?.shutdown();
    for (const stream of [...this.#streams]) {
      stream.end(new XdsError(Code.UNAVAILABLE, 'control plane shutting down; reconnect to another'));
    }
    for (const call of [...this.#csdsCalls]) call.emit('error', new XdsError(Code.UNAVAILABLE, 'control plane shutting down'));
    this.#csdsCalls.clear();
    const waits: Promise<void>[] = [];
    const grpcServer = this.#grpcServer;
    if (grpcServer !== undefined) {
      waits.push(
        new Promise<void>((resolve) => {
          // grpc-js does not call tryShutdown's callback when forceShutdown cuts the connections, so the
          // deadline resolves by itself.
          const timer = setTimeout(() => {
            grpcServer.forceShutdown();
            resolve();
          }, deadlineMs);
          grpcServer.tryShutdown(() => {
            clearTimeout(timer);
            resolve();
          });
        }),
      );
    }
    const httpServer = this.#httpServer;
    if (httpServer !== undefined) {
      waits.push(
        new Promise<void>((resolve) => {
          const timer = setTimeout(() => httpServer.closeAllConnections(), deadlineMs);
          timer.unref();
          httpServer.close(() => {
            clearTimeout(timer);
            resolve();
          });
          httpServer.closeIdleConnections();
        }),
      );
    }
    await Promise.all(waits);
    this.#grpcServer = undefined;
    this.#httpServer = undefined;
  }

  stats(): ServerStats {
    let watches = 0;
    let pendingResponses = 0;
    for (const stream of this.#streams) {
      watches += stream.openWatches;
      pendingResponses += stream.pendingResponses;
    }
    return { streams: this.#streams.size, connections: this.#env.limits.connections, watches, pendingResponses, totalStreams: this.#nextId - this.#firstStreamId };
  }

  workers(): Promise<WorkerInfo[]> {
    return Promise.resolve([]);
  }
}

/** A cache that tells when a snapshot is set (`SnapshotCache`). */
interface SnapshotNotifier {
  getSnapshotKeys(): readonly string[];
  once(event: 'set', listener: () => void): unknown;
}

/** SERVING once the cache can answer: a snapshot cache when it has a snapshot, any other cache at once. */
function serveWhenReady(cache: ConfigWatcher, health: HealthService): void {
  const notifier = cache as Partial<SnapshotNotifier>;
  if (typeof notifier.getSnapshotKeys !== 'function' || typeof notifier.once !== 'function' || notifier.getSnapshotKeys().length > 0) {
    health.set('SERVING');
    return;
  }
  notifier.once('set', () => health.set('SERVING'));
}

/** Where CSDS answers from, as the `csds` option says. */
function csdsSource(cache: ConfigWatcher, option: ServerOptions['csds']): StatusSource | undefined {
  if (option === undefined || option === false) return undefined;
  if (option !== true) {
    if (!isStatusSource(option)) throw new TypeError('server option csds must be true, false or a StatusSource (getStatusKeys and getStatusInfo)');
    return option;
  }
  if (!isStatusSource(cache)) {
    throw new TypeError('server option csds: true needs a cache that keeps a status (getStatusKeys and getStatusInfo, as SnapshotCache); pass csds: statusSource to answer from another');
  }
  return cache;
}

/**
 * Creates an xDS management server that answers from `cache` (a `SnapshotCache`, `LinearCache`, `MuxCache` or
 * any {@link ConfigWatcher}). The server handles streams (nonces, subscriptions, ACK and NACK, ordering,
 * backpressure); the cache decides what to send.
 *
 * ```ts
 * const xds = createServer(cache, { callbacks: { onNack: (e) => log.warn(e) } });
 * await xds.listen('0.0.0.0:18000');
 * ```
 *
 * With `workers` (a `SnapshotCache` only), the streams are served by that many worker processes and the
 * calling process keeps the cache, the status and the callbacks; see {@link ServerOptions.workers}.
 */
export function createServer(cache: ConfigWatcher, options: ServerOptions = {}): XdsServer {
  const resolved = resolveOptions(options);
  if (resolved.workers === undefined) return new XdsServerImpl(cache, resolved);
  // The primary serves REST itself, from the application's cache, through a server of its own that never listens for gRPC.
  return new ClusterServer(cache, resolved, new XdsServerImpl(cache, resolved));
}

/** What a worker of the worker mode serves in place of what its own options would make (internal). */
interface WorkerParts {
  /** The health service to serve, whose statuses the worker sets from the primary's. */
  readonly health?: HealthService | undefined;
  /** Answers CSDS in place of the `csds` option (it asks the primary). */
  readonly csds?: ClientStatusAnswerer | undefined;
  /**
   * Answers the `Fetch…` calls in place of the worker's cache, which holds only the snapshots of the keys the
   * worker has streams of (it asks the primary, whose cache holds every snapshot).
   */
  readonly fetch?: FetchAnswerer | undefined;
}

/**
 * The server of one worker process of the worker mode (internal): stream ids start above `firstStreamId`, so
 * that they are unique among all the workers; `parts` are served in place of the worker's own.
 */
export function createWorkerServer(cache: ConfigWatcher, options: ResolvedOptions, firstStreamId: number, parts: WorkerParts): XdsServer {
  return new XdsServerImpl(cache, options, firstStreamId, parts);
}
