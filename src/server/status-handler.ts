/**
 * An opt-in HTTP handler that shows what each node runs, in Envoy's words (see `syncStatus` in
 * xds-control-plane/cache): a readable table, like `istioctl proxy-status`, or JSON. Mount it where operators
 * can reach it (an admin port, never the internet):
 *
 * ```ts
 * const status = createStatusHandler(cache);
 * createHttpServer((req, res) => (req.url?.startsWith('/status') ? status(req, res) : res.writeHead(404).end())).listen(18001);
 * ```
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { nodeSyncStatus, syncStatus, type NodeSyncStatus, type StatusSource, type TypeSyncStatus } from '../cache/sync-status.js';
import { TypeUrl, type ResourceTypeUrl } from '../resource/type-url.js';
import { excerpt } from '../resource/xds-error.js';

/** A request handler for `node:http` (and frameworks that accept one, such as Express). */
export type StatusHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** The xDS service acronym of each type, as Envoy's docs and `istioctl proxy-status` name the columns. */
export const XDS_ACRONYM: Readonly<Record<ResourceTypeUrl, string>> = {
  [TypeUrl.Cluster]: 'CDS',
  [TypeUrl.Endpoint]: 'EDS',
  [TypeUrl.LbEndpoint]: 'LEDS',
  [TypeUrl.Listener]: 'LDS',
  [TypeUrl.Route]: 'RDS',
  [TypeUrl.ScopedRoute]: 'SRDS',
  [TypeUrl.VirtualHost]: 'VHDS',
  [TypeUrl.Secret]: 'SDS',
  [TypeUrl.Runtime]: 'RTDS',
  [TypeUrl.ExtensionConfig]: 'ECDS',
};

/**
 * Most characters of a NACK's message shown (the status page, its JSON and CSDS): enough for Envoy's longest
 * messages, and a bound on what a client can make the page hold.
 */
export const MAX_NACK_MESSAGE = 4096;

/** The JSON form of one type's status (dates as ISO strings, the NACK's message truncated). */
function typeJson(t: TypeSyncStatus): Record<string, unknown> {
  return {
    type: XDS_ACRONYM[t.typeUrl],
    typeUrl: t.typeUrl,
    state: t.state,
    sentVersion: t.sentVersion,
    sentTime: t.sentTime?.toISOString(),
    ackedVersion: t.ackedVersion,
    ackTime: t.ackTime?.toISOString(),
    snapshotVersion: t.snapshotVersion,
    lastNack:
      t.lastNack === undefined
        ? undefined
        : { version: t.lastNack.version, code: t.lastNack.code, message: excerpt(t.lastNack.message, MAX_NACK_MESSAGE), time: t.lastNack.time.toISOString() },
  };
}

/** The JSON form of one node's status. The node itself is left out (Envoy's is about 62 KB): only its id. */
export function nodeStatusJson(n: NodeSyncStatus): Record<string, unknown> {
  return {
    key: n.key,
    nodeId: excerpt(n.nodeId, 256),
    cluster: n.node.cluster === undefined || n.node.cluster === null ? undefined : excerpt(n.node.cluster, 256),
    state: n.state,
    openStreams: n.openStreams,
    lastRequestTime: n.lastRequestTime?.toISOString(),
    snapshotVersion: n.snapshotVersion,
    types: n.types.map(typeJson),
  };
}

/** Lays out rows of cells in columns two spaces apart. */
function columns(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ')).join('\n');
}

function cell(t: TypeSyncStatus | undefined): string {
  if (t === undefined) return '-';
  const state = t.state === 'NOT_SENT' ? 'NOT SENT' : t.state;
  if (t.state === 'SYNCED') return `${state} (${t.ackedVersion})`;
  if (t.state === 'STALE') return `${state} (sent ${t.sentVersion}, acked ${t.ackedVersion ?? '-'})`;
  if (t.state === 'ERROR') return `${state} (rejected ${t.lastNack?.version}, acked ${t.ackedVersion ?? '-'})`;
  return state;
}

/**
 * The status as a table: a row per node, a column per resource type that any node has, each cell the type's
 * sync state with its version; then the message of every NACK that leaves a type in ERROR.
 */
export function statusTable(nodes: readonly NodeSyncStatus[]): string {
  if (nodes.length === 0) return 'no node is connected\n';
  const typeUrls = Object.keys(XDS_ACRONYM).filter((typeUrl) => nodes.some((n) => n.types.some((t) => t.typeUrl === typeUrl))) as ResourceTypeUrl[];
  const rows: string[][] = [['NODE', 'STREAMS', 'SNAPSHOT', ...typeUrls.map((t) => XDS_ACRONYM[t])]];
  const errors: string[] = [];
  for (const n of nodes) {
    const byType = new Map(n.types.map((t) => [t.typeUrl, t]));
    rows.push([excerpt(n.key, 80), String(n.openStreams), n.snapshotVersion ?? '-', ...typeUrls.map((t) => cell(byType.get(t)))]);
    for (const t of n.types) {
      if (t.state === 'ERROR' && t.lastNack !== undefined) {
        errors.push(`${excerpt(n.key, 80)} ${XDS_ACRONYM[t.typeUrl]} rejected version ${t.lastNack.version} at ${t.lastNack.time.toISOString()}: ${excerpt(t.lastNack.message, 1024)}`);
      }
    }
  }
  return `${columns(rows)}\n${errors.length > 0 ? `\n${errors.join('\n')}\n` : ''}`;
}

/**
 * Creates the status handler. It answers `GET` (and `HEAD`) on whatever path it is mounted at:
 * - a table by default (`text/plain`), JSON with `?format=json` or `Accept: application/json`;
 * - `?node=KEY` narrows to one cache key (404 when it is not tracked).
 *
 * @param source - the cache (`SnapshotCache`) or anything with its status methods
 */
export function createStatusHandler(source: StatusSource): StatusHandler {
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('the status is read with GET\n');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const format = url.searchParams.get('format') ?? ((req.headers.accept ?? '').includes('application/json') ? 'json' : 'text');
    if (format !== 'json' && format !== 'text') {
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end('format must be json or text\n');
      return;
    }
    const key = url.searchParams.get('node');
    let nodes: NodeSyncStatus[];
    if (key === null) {
      nodes = syncStatus(source);
    } else {
      const one = nodeSyncStatus(source, key);
      if (one === undefined) {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(`no node "${excerpt(key, 256)}" is tracked (it has no open stream)\n`);
        return;
      }
      nodes = [one];
    }
    const body = format === 'json' ? `${JSON.stringify({ nodes: nodes.map(nodeStatusJson) }, null, 2)}\n` : statusTable(nodes);
    res.writeHead(200, { 'content-type': format === 'json' ? 'application/json' : 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}
