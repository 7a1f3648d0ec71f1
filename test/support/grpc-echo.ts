// A minimal gRPC echo service for proxyless tests: `/echo.Echo/Call` answers with the server's name.
// Messages are raw bytes (no protobuf needed): the request is ignored, the reply is the name in UTF-8.
import * as grpc from '@grpc/grpc-js';

const passThrough = {
  path: '/echo.Echo/Call',
  requestStream: false,
  responseStream: false,
  requestSerialize: (value: Buffer) => value,
  requestDeserialize: (bytes: Buffer) => bytes,
  responseSerialize: (value: Buffer) => value,
  responseDeserialize: (bytes: Buffer) => bytes,
} as const;

/** The echo service definition, usable by servers and clients. */
export const echoService: grpc.ServiceDefinition = { Call: passThrough };

/** A running echo server. */
export interface EchoServer {
  name: string;
  port: number;
  /** Number of calls served so far. */
  calls: number;
  close(): Promise<void>;
}

/** Starts a gRPC echo server on a free loopback port. */
export async function startGrpcEcho(name: string): Promise<EchoServer> {
  const server = new grpc.Server();
  const state: EchoServer = {
    name,
    port: 0,
    calls: 0,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
  server.addService(echoService, {
    Call: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      state.calls++;
      callback(null, Buffer.from(name));
    },
  });
  state.port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port))),
  );
  return state;
}

/** A client of the echo service for any target (e.g. `xds:///echo.test`). */
export function echoClient(target: string): { call(deadlineMs?: number): Promise<string>; close(): void } {
  const Client = grpc.makeGenericClientConstructor(echoService, 'Echo');
  const client = new Client(target, grpc.credentials.createInsecure());
  return {
    call: (deadlineMs = 5000) =>
      new Promise<string>((resolve, reject) => {
        client.makeUnaryRequest(
          passThrough.path,
          passThrough.requestSerialize,
          passThrough.responseDeserialize,
          Buffer.alloc(0),
          { deadline: Date.now() + deadlineMs },
          (error: grpc.ServiceError | null, value?: Buffer) => (error ? reject(error) : resolve(value!.toString())),
        );
      }),
    close: () => client.close(),
  };
}
