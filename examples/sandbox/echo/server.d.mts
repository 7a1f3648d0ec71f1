// Types of server.mjs (plain JavaScript so the Docker image needs no build step).
import type { IncomingMessage, Server } from 'node:http';

/** Builds the echo reply text for a request: `Request served by <name>`, the request line, headers and body. */
export declare function echoText(name: string, req: IncomingMessage, body: Buffer): string;

/** Creates (does not start) an echo server that names itself `name` in every reply. */
export declare function createEchoServer(name: string): Server;

/** A running echo server. */
export interface EchoServer {
  /** The name it puts in `Request served by <name>`. */
  readonly name: string;
  /** Address it listens on. */
  readonly host: string;
  /** Port it listens on (the chosen one when started with port 0). */
  readonly port: number;
  /** `http://host:port`. */
  readonly url: string;
  /** The underlying Node server. */
  readonly server: Server;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

/** Options of {@link startEchoServer}. */
export interface EchoServerOptions {
  /** The name it puts in `Request served by <name>`. */
  name: string;
  /** Port; 0 (default) picks a free one. */
  port?: number;
  /** Address; default 127.0.0.1. */
  host?: string;
}

/** Starts an echo server. */
export declare function startEchoServer(options: EchoServerOptions): Promise<EchoServer>;
