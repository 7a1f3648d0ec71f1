/**
 * Envoy's REST-JSON polling (`api_type: REST`): `POST /v3/discovery:<type>` with a `DiscoveryRequest` in
 * ProtoJSON, answered with a `DiscoveryResponse` in ProtoJSON, or `304 Not Modified` when the client's
 * `version_info` is current (as go-control-plane's HTTP gateway does).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TLSSocket } from 'node:tls';
import { Metadata } from '@grpc/grpc-js';
import type { ConfigWatcher } from '../cache/config-watcher.js';
import { encodeMessage, toJson } from '../resource/codec.js';
import { lookupType } from '../resource/registry.js';
import { TypeUrl } from '../resource/type-url.js';
import type { ResourceTypeUrl } from '../resource/type-url.js';
import { Code, excerpt, XdsError } from '../resource/xds-error.js';
import type { AuthContext, RequestContext } from './callbacks.js';
import { fetchResources } from './fetch.js';
import { decodeDiscoveryRequest } from './messages.js';
import type { ResolvedOptions } from './options.js';
import { MAX_STATUS_LENGTH } from './xds-stream.js';

/** The REST paths and the type each serves, as the `google.api.http` options of Envoy's `.proto` files say. */
export const REST_PATHS: Readonly<Record<string, ResourceTypeUrl>> = {
  '/v3/discovery:clusters': TypeUrl.Cluster,
  '/v3/discovery:endpoints': TypeUrl.Endpoint,
  '/v3/discovery:listeners': TypeUrl.Listener,
  '/v3/discovery:routes': TypeUrl.Route,
  '/v3/discovery:scoped-routes': TypeUrl.ScopedRoute,
  '/v3/discovery:secrets': TypeUrl.Secret,
  '/v3/discovery:runtime': TypeUrl.Runtime,
  '/v3/discovery:extension_configs': TypeUrl.ExtensionConfig,
};

/** A request handler for `node:http` (and frameworks that accept one, such as Express). */
export type RestHandler = (req: IncomingMessage, res: ServerResponse) => void;

const HTTP_STATUS: Partial<Record<Code, number>> = {
  [Code.INVALID_ARGUMENT]: 400,
  [Code.FAILED_PRECONDITION]: 400,
  [Code.OUT_OF_RANGE]: 400,
  [Code.UNAUTHENTICATED]: 401,
  [Code.PERMISSION_DENIED]: 403,
  [Code.NOT_FOUND]: 404,
  [Code.ALREADY_EXISTS]: 409,
  [Code.ABORTED]: 409,
  [Code.RESOURCE_EXHAUSTED]: 429,
  [Code.UNIMPLEMENTED]: 501,
  [Code.UNAVAILABLE]: 503,
  [Code.DEADLINE_EXCEEDED]: 504,
};

function send(res: ServerResponse, status: number, body: string | undefined, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  if (body === undefined) {
    res.writeHead(status, headers).end();
    return;
  }
  const isJson = status === 200;
  res.writeHead(status, { 'content-type': isJson ? 'application/json' : 'text/plain; charset=utf-8', ...headers }).end(body);
}

/** A request the handler refuses with an HTTP status of its own (no gRPC code maps to it). */
class HttpRefusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Reads the body, up to `limit` bytes. Over it (by `content-length`, or as it arrives), refuses with 413: the rest
 * of the body is read and dropped, not kept, and the connection is closed after the answer, so that the client
 * reads a status rather than a reset.
 */
function readBody(req: IncomingMessage, res: ServerResponse, limit: number): Promise<Buffer> {
  const tooLarge = (): HttpRefusal => {
    res.setHeader('connection', 'close');
    return new HttpRefusal(413, `request body larger than ${limit} bytes, the server's limit (option maxReceiveMessageLength)`);
  };
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        chunks.length = 0;
        req.resume();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** True when the request says its body is JSON (`application/json`, any parameters). */
function isJson(req: IncomingMessage): boolean {
  const type = req.headers['content-type'];
  return type !== undefined && type.split(';')[0].trim().toLowerCase() === 'application/json';
}

/** The TLS details of a REST request: its client certificate, only when the handshake verified it. */
function authContextOf(req: IncomingMessage): AuthContext {
  const socket = req.socket;
  if (!(socket instanceof TLSSocket)) return {};
  if (!socket.authorized) return { transportSecurityType: 'ssl' };
  const certificate = socket.getPeerCertificate();
  return certificate.raw === undefined ? { transportSecurityType: 'ssl' } : { transportSecurityType: 'ssl', sslPeerCertificate: certificate };
}

/** What the server knows of a REST client: address, headers (as gRPC metadata, so one authorizer fits both), TLS. */
function contextOf(req: IncomingMessage): RequestContext {
  return {
    peer: `${req.socket.remoteAddress ?? ''}:${req.socket.remotePort ?? ''}`,
    metadata: Metadata.fromHttp2Headers(req.headers),
    authContext: authContextOf(req),
  };
}

/** Builds the REST handler of a server. */
export function createRestHandler(cache: ConfigWatcher, options: ResolvedOptions, isClosing: () => boolean): RestHandler {
  const { logger } = options;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const typeUrl = REST_PATHS[path];
    if (typeUrl === undefined) {
      send(res, 404, `no xDS REST endpoint at ${excerpt(path)}; known paths: ${Object.keys(REST_PATHS).join(', ')}\n`);
      return;
    }
    if (req.method !== 'POST') {
      send(res, 405, `${excerpt(path)} takes POST with a DiscoveryRequest in JSON\n`, { allow: 'POST' });
      return;
    }
    if (isClosing()) {
      send(res, 503, 'control plane shutting down\n');
      return;
    }
    try {
      if (!isJson(req)) {
        throw new HttpRefusal(415, `content-type "${excerpt(req.headers['content-type'] ?? '')}" is not accepted; send the DiscoveryRequest as application/json`);
      }
      const body = await readBody(req, res, options.maxReceiveMessageLength);
      let json: unknown;
      try {
        json = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
      } catch (error) {
        throw new XdsError(Code.INVALID_ARGUMENT, `request body is not JSON: ${excerpt((error as Error).message)}`);
      }
      // Validation through the codec names the offending field of a malformed DiscoveryRequest.
      const bytes = encodeMessage(TypeUrl.DiscoveryRequest, json);
      const { response } = await fetchResources(cache, options, decodeDiscoveryRequest(bytes), typeUrl, contextOf(req), 'rest');
      if (response === undefined) {
        send(res, 304, undefined);
        return;
      }
      const message = lookupType(TypeUrl.DiscoveryResponse).decode(response.body());
      send(res, 200, JSON.stringify(toJson(TypeUrl.DiscoveryResponse, message, { protoNames: true })));
    } catch (error) {
      if (error instanceof HttpRefusal) {
        logger.warn({ path: excerpt(path), status: error.status, reason: error.message }, 'REST request refused');
        send(res, error.status, `${error.message}\n`);
        return;
      }
      const xds = XdsError.from(error);
      const status = HTTP_STATUS[xds.code] ?? 500;
      const message = excerpt(xds.message, MAX_STATUS_LENGTH);
      if (status >= 500) logger.error({ path: excerpt(path), err: xds }, 'REST fetch failed');
      else logger.warn({ path: excerpt(path), code: Code[xds.code], reason: message }, 'REST fetch rejected');
      send(res, status, `${message}\n`);
    }
  };
  return (req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger.error({ err: error }, 'REST handler failed');
      send(res, 500, 'internal error\n');
    });
  };
}
