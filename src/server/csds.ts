/**
 * The Client Status Discovery Service (`envoy.service.status.v3.ClientStatusDiscoveryService`): standard tools
 * ask the control plane what each client runs. Answered from the cache's status (see `syncStatus` in
 * xds-control-plane/cache): per client, one `GenericXdsConfig` per resource of its current snapshot, of each
 * type it was sent or asked about, with the resource, the type's `config_status` (SYNCED, NOT_SENT, STALE,
 * ERROR) and the client's view of it (`client_status` ACKED, NACKED or REQUESTED, with the NACK's message in
 * `error_state`).
 *
 * Opt in with `createServer(cache, { csds: true })`, or add it to any gRPC server with {@link addCsdsService}.
 */
import type { Server as GrpcServer, MethodDefinition, sendUnaryData, ServerDuplexStream, ServerUnaryCall, ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import { nodeSyncStatus, type NodeSyncStatus, type StatusSource, type TypeSyncStatus } from '../cache/sync-status.js';
import { decodeMessage, encodeMessage } from '../resource/codec.js';
import { excerpt, XdsError } from '../resource/xds-error.js';
import { lengthDelimited, stringField, varintField } from '../resource/wire.js';
import type { EncodedResource } from '../cache/encoded-resource.js';
import type { envoy, Node } from '../types/index.js';
import { compileNodeMatchers } from './node-matcher.js';
import { MAX_NACK_MESSAGE } from './status-handler.js';

/** A CSDS request, in the shape resources are written in (proto field names). */
export type ClientStatusRequest = envoy.service.status.v3.ClientStatusRequest;

/** The fully qualified name of the CSDS service. */
export const CSDS_SERVICE = 'envoy.service.status.v3.ClientStatusDiscoveryService';

/** `envoy.service.status.v3.ConfigStatus` numbers. */
const CONFIG_STATUS = { UNKNOWN: 0, SYNCED: 1, NOT_SENT: 2, STALE: 3, ERROR: 4 } as const;
/** `envoy.admin.v3.ClientResourceStatus` numbers. */
const CLIENT_STATUS = { UNKNOWN: 0, REQUESTED: 1, DOES_NOT_EXIST: 2, ACKED: 3, NACKED: 4 } as const;

/** `google.protobuf.Timestamp` of a date. */
function timestamp(date: Date): Buffer {
  const ms = date.getTime();
  const seconds = Math.floor(ms / 1000);
  return Buffer.concat([varintField(1, seconds), varintField(2, (ms - seconds * 1000) * 1_000_000)]);
}

/**
 * The client's view of one entry: NACKED when it rejected the version shown, ACKED when it accepted it, else
 * REQUESTED (sent or due, and not answered yet). For a resource the version shown is its snapshot's; for a type
 * without resources, the version last sent.
 */
function clientView(t: TypeSyncStatus, version: string): number {
  if (t.state === 'ERROR' && t.lastNack?.version === version) return CLIENT_STATUS.NACKED;
  if (t.ackedVersion === version) return CLIENT_STATUS.ACKED;
  return CLIENT_STATUS.REQUESTED;
}

/** A resource's `GenericXdsConfig`, or a type's (no name, no contents) when the snapshot has no resource of it. */
function genericXdsConfig(t: TypeSyncStatus, resource: EncodedResource | undefined, withContents: boolean): Buffer {
  const version = (resource === undefined ? t.sentVersion : t.snapshotVersion) ?? '';
  const client = clientView(t, version);
  const parts = [stringField(1, t.typeUrl)];
  if (resource !== undefined) parts.push(stringField(2, resource.name));
  parts.push(stringField(3, version));
  // The resource's Any is encoded once and kept with it, as for xDS responses.
  if (resource !== undefined && withContents) parts.push(lengthDelimited(4, resource.any));
  if (client === CLIENT_STATUS.ACKED && t.ackTime !== undefined) parts.push(lengthDelimited(5, timestamp(t.ackTime)));
  parts.push(varintField(6, CONFIG_STATUS[t.state]), varintField(7, client));
  const nack = t.lastNack;
  if (client === CLIENT_STATUS.NACKED && nack !== undefined) {
    // UpdateFailureState: last_update_attempt = 2, details = 3, version_info = 4.
    const failure = Buffer.concat([lengthDelimited(2, timestamp(nack.time)), stringField(3, excerpt(nack.message, MAX_NACK_MESSAGE)), stringField(4, nack.version)]);
    parts.push(lengthDelimited(8, failure));
  }
  return Buffer.concat(parts);
}

/**
 * The node as CSDS shows it: without its lists of extensions and client features, which make Envoy's node about
 * 62 KB and say nothing about what it runs.
 */
function shownNode(node: Node): Node {
  try {
    const { extensions: _extensions, client_features: _features, ...shown } = node;
    return shown;
  } catch {
    // A node whose other fields cannot be read (a stream's node is checked before it is kept, so none should
    // be): its id and cluster, so that one client's node never fails the answer for every client.
    return { ...(node.id === undefined ? {} : { id: node.id }), ...(node.cluster === undefined ? {} : { cluster: node.cluster }) };
  }
}

/** Whether the request's matchers select a node; a node whose fields cannot be read matches none that reads them. */
function selected(selects: (node: Node) => boolean, node: Node): boolean {
  try {
    return selects(node);
  } catch {
    return false;
  }
}

/** The `ClientConfig` of one client: its node and one entry per resource (or per type without resources). */
function clientConfig(source: StatusSource, status: NodeSyncStatus, withContents: boolean): Buffer {
  const parts = [lengthDelimited(1, encodeMessage('envoy.config.core.v3.Node', shownNode(status.node)))];
  const snapshot = source.getSnapshot?.(status.key);
  for (const t of status.types) {
    const resources = snapshot?.getResources(t.typeUrl);
    if (resources === undefined || resources.size === 0) {
      if (t.sentVersion !== undefined) parts.push(lengthDelimited(3, genericXdsConfig(t, undefined, withContents)));
      continue;
    }
    for (const resource of resources.values()) parts.push(lengthDelimited(3, genericXdsConfig(t, resource, withContents)));
  }
  return Buffer.concat(parts);
}

/**
 * Answers one CSDS request: the encoded `ClientStatusResponse` for every client the cache tracks that one of
 * the request's `node_matchers` selects (all of them when it has none). Rejects with `INVALID_ARGUMENT` for a
 * matcher it cannot use. The work is done in slices of about `sliceMs` with pauses between them, so that
 * asking about a large fleet does not hold the event loop (and every xDS stream) for the whole answer.
 */
export async function clientStatus(source: StatusSource, request: ClientStatusRequest, sliceMs = 5): Promise<Buffer> {
  const selects = compileNodeMatchers(request.node_matchers);
  const withContents = request.exclude_resource_contents !== true;
  const configs: Buffer[] = [];
  let sliceEnd = performance.now() + sliceMs;
  for (const key of [...source.getStatusKeys()].sort()) {
    if (performance.now() >= sliceEnd) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      sliceEnd = performance.now() + sliceMs;
    }
    const info = source.getStatusInfo(key);
    if (info === undefined || !selected(selects, info.node)) continue;
    const status = nodeSyncStatus(source, key);
    if (status !== undefined) configs.push(lengthDelimited(1, clientConfig(source, status, withContents)));
  }
  return Buffer.concat(configs);
}

/** A request that did not decode: the call ends with `INVALID_ARGUMENT` saying why. */
class BadRequest {
  constructor(readonly error: XdsError) {}
}

function decodeRequest(bytes: Buffer): ClientStatusRequest | BadRequest {
  try {
    return decodeMessage('envoy.service.status.v3.ClientStatusRequest', bytes);
  } catch (error) {
    return new BadRequest(XdsError.from(error));
  }
}

const passThrough = (value: Buffer): Buffer => value;

function method(name: string, streaming: boolean): MethodDefinition<ClientStatusRequest | BadRequest, Buffer> {
  return {
    path: `/${CSDS_SERVICE}/${name}`,
    requestStream: streaming,
    responseStream: streaming,
    requestSerialize: (value) => encodeMessage('envoy.service.status.v3.ClientStatusRequest', value),
    requestDeserialize: decodeRequest,
    responseSerialize: passThrough,
    responseDeserialize: passThrough,
    originalName: name.charAt(0).toLowerCase() + name.slice(1),
  };
}

/** The grpc-js definition of the CSDS service (responses are already-encoded `ClientStatusResponse` bytes). */
export function csdsServiceDefinition(): ServiceDefinition {
  return { StreamClientStatus: method('StreamClientStatus', true), FetchClientStatus: method('FetchClientStatus', false) };
}

/**
 * Answers a CSDS request with the encoded `ClientStatusResponse`, as {@link clientStatus} does: how a server whose
 * status lives in another process (a worker of the worker mode, which asks the primary) serves CSDS.
 */
export type ClientStatusAnswerer = (request: ClientStatusRequest) => Promise<Buffer>;

function answer(source: StatusSource | ClientStatusAnswerer, request: ClientStatusRequest | BadRequest): Promise<Buffer> {
  if (request instanceof BadRequest) return Promise.reject(request.error);
  return typeof source === 'function' ? source(request) : clientStatus(source, request);
}

/** A `StreamClientStatus` call, as the server sees it. */
export type CsdsCall = ServerDuplexStream<ClientStatusRequest | BadRequest, Buffer>;

/**
 * The handlers of the CSDS service, answering from `source` (a status, or what answers from one elsewhere). Open
 * `StreamClientStatus` calls are kept in `open` (when given) while they last, so that a shutting-down server can
 * end them.
 */
export function csdsImplementation(source: StatusSource | ClientStatusAnswerer, open?: Set<CsdsCall>): UntypedServiceImplementation {
  return {
    FetchClientStatus: (call: ServerUnaryCall<ClientStatusRequest | BadRequest, Buffer>, callback: sendUnaryData<Buffer>) => {
      answer(source, call.request).then(
        (response) => callback(null, response),
        (error: unknown) => callback(XdsError.from(error)),
      );
    },
    // One response per request, as the protocol says.
    StreamClientStatus: (call: CsdsCall) => {
      if (open !== undefined) {
        open.add(call);
        const release = () => open.delete(call);
        call.on('cancelled', release);
        call.on('close', release);
        call.on('error', release);
      }
      // Answers go out in the order of the requests, each after the one before.
      let previous: Promise<unknown> = Promise.resolve();
      let failed = false;
      call.on('data', (request: ClientStatusRequest | BadRequest) => {
        previous = previous.then(() => answer(source, request)).then(
          (response) => {
            if (!failed) call.write(response);
          },
          (error: unknown) => {
            if (failed) return;
            failed = true;
            open?.delete(call);
            call.emit('error', XdsError.from(error));
          },
        );
      });
      call.on('end', () => {
        void previous.then(() => {
          open?.delete(call);
          if (!failed) call.end();
        });
      });
    },
  };
}

/**
 * Adds the CSDS service to a gRPC server, answering from `source` (a `SnapshotCache`). `createServer(cache,
 * { csds: true })` does this on the servers the xDS server registers with, and ends their open streams when it
 * closes.
 */
export function addCsdsService(server: GrpcServer, source: StatusSource): void {
  server.addService(csdsServiceDefinition(), csdsImplementation(source));
}

