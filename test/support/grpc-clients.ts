/**
 * gRPC clients of the operational services, built with `@grpc/proto-loader` from the `.proto` files (Envoy's
 * csds.proto from `@grpc/grpc-js-xds`'s deps, our grpc/health/v1/health.proto), as any other tool would talk
 * to the control plane: nothing here shares code with the server.
 *
 * @module
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { credentials, loadPackageDefinition, type ChannelCredentials, type Client, type ClientOptions, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

const require = createRequire(import.meta.url);
const deps = join(dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const loaderOptions = { keepCase: true, longs: String, enums: String, defaults: false, oneofs: false };

type AnyClient = Client & Record<string, (...args: any[]) => any>;

/** How a client connects: its credentials (insecure by default) and grpc-js client options. */
export interface ClientSetup {
  readonly credentials?: ChannelCredentials | undefined;
  /** For instance `{ channelOverride: other.getChannel() }`: calls on the connection of another client. */
  readonly options?: ClientOptions | undefined;
}

function clientOf(definitionFiles: string[], includeDirs: string[], service: string, address: string, setup: ClientSetup = {}): AnyClient {
  const pkg = loadPackageDefinition(loadSync(definitionFiles, { ...loaderOptions, includeDirs }));
  const Ctor = service.split('.').reduce<any>((o, k) => o[k], pkg);
  return new Ctor(address, setup.credentials ?? credentials.createInsecure(), setup.options ?? {}) as AnyClient;
}

/**
 * A CSDS client (`envoy.service.status.v3.ClientStatusDiscoveryService`).
 *
 * @param options - gRPC channel options (`'grpc.use_local_subchannel_pool': 1` gives the client a connection of its own)
 */
export function csdsClient(address: string, options: Record<string, number | string> = {}): AnyClient {
  return clientOf(
    ['envoy/service/status/v3/csds.proto'],
    ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(deps, d)),
    'envoy.service.status.v3.ClientStatusDiscoveryService',
    address,
    { options },
  );
}

/** A gRPC health client (`grpc.health.v1.Health`). */
export function healthClient(address: string, setup?: ClientSetup): AnyClient {
  return clientOf(['grpc/health/v1/health.proto'], [join(repo, 'proto')], 'grpc.health.v1.Health', address, setup);
}

/** Calls a unary method; resolves to the response, rejects with the `ServiceError`. */
export function unary<T = any>(client: AnyClient, method: string, request: object): Promise<T> {
  return new Promise((resolve, reject) => {
    client[method](request, (error: ServiceError | null, response: T) => (error ? reject(error) : resolve(response)));
  });
}

/** The messages of a server stream as they come, and its end (or error). */
export function collect<T = any>(stream: ClientReadableStream<T>): { messages: T[]; ended: Promise<ServiceError | undefined> } {
  const messages: T[] = [];
  stream.on('data', (m: T) => messages.push(m));
  const ended = new Promise<ServiceError | undefined>((resolve) => {
    stream.on('error', (e: ServiceError) => resolve(e));
    stream.on('end', () => resolve(undefined));
  });
  return { messages, ended };
}
