/**
 * Envoy's REST-JSON polling (`api_type: REST`): `POST /v3/discovery:<type>` with a `DiscoveryRequest` in
 * ProtoJSON, answered with a `DiscoveryResponse` in ProtoJSON, or `304 Not Modified` when the client's
 * `version_info` is current (as go-control-plane's HTTP gateway does).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ConfigWatcher } from '../cache/config-watcher.js';
import { encodeMessage, toJson } from '../resource/codec.js';
import { lookupType } from '../resource/registry.js';
import { TypeUrl } from '../resource/type-url.js';
import type { ResourceTypeUrl } from '../resource/type-url.js';
import { Code, excerpt, XdsError } from '../resource/xds-error.js';
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

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new XdsError(Code.RESOURCE_EXHAUSTED, `request body larger than ${limit} bytes (option maxReceiveMessageLength)`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
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
      const body = await readBody(req, options.maxReceiveMessageLength);
      let json: unknown;
      try {
        json = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
      } catch (error) {
        throw new XdsError(Code.INVALID_ARGUMENT, `request body is not JSON: ${excerpt((error as Error).message)}`);
      }
      // Validation through the codec names the offending field of a malformed DiscoveryRequest.
      const bytes = encodeMessage(TypeUrl.DiscoveryRequest, json);
      const context = { peer: `${req.socket.remoteAddress ?? ''}:${req.socket.remotePort ?? ''}`, metadata: undefined, authContext: undefined };
      const { response } = await fetchResources(cache, options, decodeDiscoveryRequest(bytes), typeUrl, context);
      if (response === undefined) {
        send(res, 304, undefined);
        return;
      }
      const message = lookupType(TypeUrl.DiscoveryResponse).decode(response.body());
      send(res, 200, JSON.stringify(toJson(TypeUrl.DiscoveryResponse, message, { protoNames: true })));
    } catch (error) {
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
