/**
 * The gRPC health checking protocol (`grpc.health.v1.Health`, `Check` and `Watch`), so that load balancers,
 * Kubernetes gRPC probes and `grpc-health-probe` can tell whether the control plane is ready. The messages are
 * tiny (a service name; a status) and are encoded here by hand; `proto/grpc/health/v1/health.proto` describes
 * them for clients.
 *
 * Opt in with `createServer(cache, { health: true })`: the server is NOT_SERVING until the cache can answer
 * (for a `SnapshotCache`, once a first snapshot is set), SERVING then, and NOT_SERVING again from the moment
 * `close()` starts.
 */
import type { Server as GrpcServer, sendUnaryData, ServerUnaryCall, ServerWritableStream, ServiceDefinition } from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { Code, excerpt, XdsError } from '../resource/xds-error.js';
import { stringField, varintField } from '../resource/wire.js';

/** A service's health, as `grpc.health.v1.HealthCheckResponse.ServingStatus` names it. */
export type ServingStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING';

/** The fully qualified name of the health service. */
export const HEALTH_SERVICE = 'grpc.health.v1.Health';

const STATUS_NUMBER: Record<ServingStatus | 'SERVICE_UNKNOWN', number> = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 };

/** Longest service name read from a request; a longer one is refused. */
const MAX_SERVICE_NAME = 1024;

/** A decoded `HealthCheckRequest` (an object: grpc-js takes a falsy message for none). */
export interface HealthRequest {
  /** The service asked about; `""` is the server as a whole. */
  readonly service: string;
}

/** `HealthCheckRequest { string service = 1; }` */
function decodeRequest(bytes: Buffer): HealthRequest | XdsError {
  try {
    const reader = protobuf.Reader.create(bytes);
    let service = '';
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      if (tag === 10) service = reader.string();
      else reader.skipType(tag & 7);
    }
    if (service.length > MAX_SERVICE_NAME) return new XdsError(Code.INVALID_ARGUMENT, `service name of ${service.length} characters; at most ${MAX_SERVICE_NAME}`);
    return { service };
  } catch (error) {
    return new XdsError(Code.INVALID_ARGUMENT, `cannot decode grpc.health.v1.HealthCheckRequest: ${(error as Error).message}`);
  }
}

/** `HealthCheckResponse { ServingStatus status = 1; }` */
function encodeResponse(status: ServingStatus | 'SERVICE_UNKNOWN'): Buffer {
  return varintField(1, STATUS_NUMBER[status]);
}

const passThrough = (value: Buffer): Buffer => value;

/** The grpc-js definition of `grpc.health.v1.Health`. */
export function healthServiceDefinition(): ServiceDefinition {
  const method = (name: string, responseStream: boolean) => ({
    path: `/${HEALTH_SERVICE}/${name}`,
    requestStream: false,
    responseStream,
    requestSerialize: (request: HealthRequest) => stringField(1, request.service),
    requestDeserialize: decodeRequest,
    responseSerialize: passThrough,
    responseDeserialize: passThrough,
    originalName: name.toLowerCase(),
  });
  return { Check: method('Check', false), Watch: method('Watch', true) };
}

interface Watcher {
  /** The service asked about; `""` is the server as a whole. */
  readonly service: string;
  readonly call: ServerWritableStream<HealthRequest | XdsError, Buffer>;
  last: ServingStatus | 'SERVICE_UNKNOWN';
}

/**
 * The health of a server's services: `''` (the server as a whole) and any named service. `Check` answers the
 * current status (`NOT_FOUND` for a service never set); `Watch` sends it, then every change, and
 * `SERVICE_UNKNOWN` for a service never set. Memory: one entry per service the application sets, one per open
 * `Watch` call.
 */
export class HealthService {
  readonly #statuses = new Map<string, ServingStatus>();
  readonly #watchers = new Set<Watcher>();
  readonly #listeners = new Set<() => void>();
  #shutDown = false;

  /**
   * @param services - the services to report besides `''`, all starting at `initial`
   * @param initial - their first status
   */
  constructor(services: Iterable<string> = [], initial: ServingStatus = 'NOT_SERVING') {
    this.#statuses.set('', initial);
    for (const service of services) this.#statuses.set(service, initial);
  }

  /** The status of a service (`''`: the server as a whole), or undefined when it was never set. */
  get(service = ''): ServingStatus | undefined {
    return this.#statuses.get(service);
  }

  /** Every service's status, `''` included (a copy). */
  statuses(): Map<string, ServingStatus> {
    return new Map(this.#statuses);
  }

  /**
   * Calls `listener` after each change (every `set`, and `shutdown`), to pass the statuses on: the worker mode
   * hands them to its workers this way. Returns the function that stops it. What `listener` throws is not caught.
   */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Sets the status of one service, and of every known one when `service` is omitted; `Watch` calls hear of the
   * change. After {@link HealthService.shutdown} nothing changes any more.
   */
  set(status: ServingStatus, service?: string): void {
    if (this.#shutDown) return;
    if (service === undefined) for (const name of this.#statuses.keys()) this.#statuses.set(name, status);
    else this.#statuses.set(service, status);
    this.#notify();
    for (const listener of this.#listeners) listener();
  }

  /** Every service NOT_SERVING for good; `Watch` calls hear it and are then ended, so the server can stop. */
  shutdown(): void {
    if (this.#shutDown) return;
    for (const name of this.#statuses.keys()) this.#statuses.set(name, 'NOT_SERVING');
    this.#notify();
    this.#shutDown = true;
    for (const watcher of [...this.#watchers]) watcher.call.end();
    this.#watchers.clear();
    for (const listener of this.#listeners) listener();
  }

  #notify(): void {
    for (const watcher of this.#watchers) {
      const now = this.#statuses.get(watcher.service) ?? 'SERVICE_UNKNOWN';
      if (now === watcher.last) continue;
      watcher.last = now;
      watcher.call.write(encodeResponse(now));
    }
  }

  /** The handlers of `Check` and `Watch`. */
  implementation(): { Check: (call: ServerUnaryCall<HealthRequest | XdsError, Buffer>, callback: sendUnaryData<Buffer>) => void; Watch: (call: ServerWritableStream<HealthRequest | XdsError, Buffer>) => void } {
    return {
      Check: (call, callback) => {
        if (call.request instanceof XdsError) {
          callback(call.request);
          return;
        }
        const { service } = call.request;
        const status = this.#statuses.get(service);
        if (status === undefined) callback(new XdsError(Code.NOT_FOUND, `unknown service "${excerpt(service)}"`));
        else callback(null, encodeResponse(status));
      },
      Watch: (call) => {
        if (call.request instanceof XdsError) {
          call.emit('error', call.request);
          return;
        }
        const { service } = call.request;
        const last = this.#statuses.get(service) ?? 'SERVICE_UNKNOWN';
        call.write(encodeResponse(last));
        if (this.#shutDown) {
          call.end();
          return;
        }
        const watcher: Watcher = { service, call, last };
        this.#watchers.add(watcher);
        const release = () => this.#watchers.delete(watcher);
        call.on('cancelled', release);
        call.on('close', release);
        call.on('error', release);
      },
    };
  }
}

/** Adds a {@link HealthService} to a gRPC server. `createServer(cache, { health: true })` does this for you. */
export function addHealthService(server: GrpcServer, health: HealthService): void {
  server.addService(healthServiceDefinition(), health.implementation());
}
