import { createServer as createHttpServer } from 'node:http';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server as GrpcServer, ServerCredentials } from '@grpc/grpc-js';
import type { sendUnaryData, ServerUnaryCall, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { ConfigWatcher } from '../cache/config-watcher.js';
import { lookupProtoNamesType } from '../resource/registry.js';
import { Code, XdsError } from '../resource/xds-error.js';
import { DeltaStream } from './delta.js';
import { fetchResources } from './fetch.js';
import type { Decoded, UndecodableRequest, XdsDiscoveryRequest } from './messages.js';
import { grpcServerOptions, resolveOptions } from './options.js';
import type { ResolvedOptions, ServerOptions } from './options.js';
import { createRestHandler } from './rest.js';
import type { RestHandler } from './rest.js';
import { serviceDefinition, XDS_SERVICES } from './service-definitions.js';
import type { XdsServiceInfo } from './service-definitions.js';
import { SotwStream } from './sotw.js';
import { ClusterServer } from './cluster-server.js';
import type { WorkerInfo } from './worker-protocol.js';
import type { StreamEnvironment, XdsCall, XdsStream } from './xds-stream.js';

/** Counts that show what the server holds; open watches and streams must return to zero as clients leave. */
export interface ServerStats {
  /** Streams open now. */
  readonly streams: number;
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
   * an application that serves other services on the same port or manages the server itself.
   */
  register(server: GrpcServer): void;
  /**
   * Creates a gRPC server with the options for many clients (keepalive, concurrent streams, message sizes),
   * registers the services and binds `address` (`host:port`; port 0 picks a free one). Resolves to the port.
   *
   * @param credentials - TLS credentials (`ServerCredentials.createSsl(...)`); insecure when omitted
   */
  listen(address: string, credentials?: ServerCredentials): Promise<number>;
  /** The REST-JSON handler, mountable on any `node:http` server. */
  restHandler(): RestHandler;
  /** Serves the REST handler on its own HTTP server; resolves to the bound port. `close()` stops it. */
  listenRest(port: number, host?: string): Promise<number>;
  /**
   * Graceful shutdown: refuses new streams, ends every open stream with `UNAVAILABLE` (so Envoy reconnects,
   * to another replica if there is one), lets the servers this object started finish, and cuts what remains
   * after the deadline. Servers passed to `register` are left running; their streams of ours are ended.
   */
  close(options?: CloseOptions): Promise<void>;
  /** What the server holds now (in worker mode: summed over the workers, as they last reported). */
  stats(): ServerStats;
  /** In worker mode, what each worker process holds; empty otherwise. */
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

  /** @param firstStreamId - streams get ids above it (each worker of the worker mode has its own range) */
  constructor(cache: ConfigWatcher, options: ResolvedOptions, firstStreamId = 0) {
    this.#cache = cache;
    this.#options = options;
    this.#nextId = firstStreamId;
    this.#firstStreamId = firstStreamId;
    this.#env = {
      cache,
      options: this.#options,
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
  }

  #implementation(info: XdsServiceInfo): UntypedServiceImplementation {
    const handlers: UntypedServiceImplementation = {};
    const { sotw, delta, fetch } = info.methods;
    if (sotw !== undefined) handlers[sotw] = (call: XdsCall) => this.#openStream(new SotwStream(this.#env, call, info.typeUrl), call);
    if (delta !== undefined) handlers[delta] = (call: XdsCall) => this.#openStream(new DeltaStream(this.#env, call, info.typeUrl), call);
    if (fetch !== undefined) {
      handlers[fetch] = (call: ServerUnaryCall<Decoded<XdsDiscoveryRequest> | UndecodableRequest, Buffer>, callback: sendUnaryData<Buffer>) =>
        this.#fetch(info, call, callback);
    }
    return handlers;
  }

  #openStream(stream: SotwStream | DeltaStream, call: XdsCall): void {
    if (this.#closing) {
      call.emit('error', new XdsError(Code.UNAVAILABLE, 'control plane shutting down; connect to another'));
      return;
    }
    this.#streams.add(stream);
    stream.start();
  }

  #fetch(info: XdsServiceInfo, call: ServerUnaryCall<Decoded<XdsDiscoveryRequest> | UndecodableRequest, Buffer>, callback: sendUnaryData<Buffer>): void {
    if (this.#closing) {
      callback(new XdsError(Code.UNAVAILABLE, 'control plane shutting down; connect to another'));
      return;
    }
    const context = { peer: call.getPeer(), metadata: call.metadata, authContext: call.getAuthContext() };
    fetchResources(this.#cache, this.#options, call.request, info.typeUrl, context).then(
      ({ request, response }) => {
        if (response === undefined) {
          callback(new XdsError(Code.FAILED_PRECONDITION, `version "${request.version_info}" is current: nothing to fetch (REST answers 304 Not Modified)`));
        } else {
          callback(null, response.body());
        }
      },
      (error: unknown) => callback(XdsError.from(error)),
    );
  }

  async listen(address: string, credentials: ServerCredentials = ServerCredentials.createInsecure()): Promise<number> {
    if (this.#grpcServer !== undefined) throw new Error('this xDS server is already listening; create another to serve a second address');
    const server = new GrpcServer(grpcServerOptions(this.#options));
    this.register(server);
    this.#grpcServer = server;
    return new Promise<number>((resolve, reject) => {
      server.bindAsync(address, credentials, (error, port) => {
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

  async listenRest(port: number, host = 'localhost'): Promise<number> {
    if (this.#httpServer !== undefined) throw new Error('the REST endpoint of this xDS server is already listening');
    const server = createHttpServer(this.restHandler());
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
    for (const stream of [...this.#streams]) {
      stream.end(new XdsError(Code.UNAVAILABLE, 'control plane shutting down; reconnect to another'));
    }
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
    return { streams: this.#streams.size, watches, pendingResponses, totalStreams: this.#nextId - this.#firstStreamId };
  }

  workers(): Promise<WorkerInfo[]> {
    return Promise.resolve([]);
  }
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

/**
 * The server of one worker process of the worker mode (internal): stream ids start above `firstStreamId`, so
 * that they are unique among all the workers.
 */
export function createWorkerServer(cache: ConfigWatcher, options: ResolvedOptions, firstStreamId: number): XdsServer {
  return new XdsServerImpl(cache, options, firstStreamId);
}
