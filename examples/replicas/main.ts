// One replica of a control plane fed by etcd. Every replica watches the same prefix and serves every node the same
// snapshot, rebuilt on each change; versions come from content, so replicas that have read the same revision send
// the same versions and an Envoy that moves from one to another is sent nothing it already has (delta xDS).
//
//   node --conditions=xds-source --import tsx examples/replicas/main.ts --etcd http://127.0.0.1:2379 --prefix /xds/ \
//     --port 18000 --admin 18001
//
// Keys: <prefix>clusters/<name>, <prefix>endpoints/<name>, <prefix>listeners/<name>, <prefix>routes/<name>,
// <prefix>secrets/<name>, each value the resource as ProtoJSON. seed.ts writes a sample configuration.
//
// Admin endpoint: GET /healthz (200 once the store has been read), GET /status (JSON: store revision, versions,
// keys left out and why, streams and what was sent).
import { createServer as createHttpServer } from 'node:http';
import { parseArgs } from 'node:util';
import { Etcd3 } from 'etcd3';
import { SnapshotCache } from 'xds-control-plane/cache';
import { TYPE_SHORT_NAME } from 'xds-control-plane/resource';
import { createServer } from 'xds-control-plane/server';
import { buildConfig, type BuiltConfig, type Problem } from './config.js';
import { EtcdMirror } from './etcd-mirror.js';

const { values } = parseArgs({
  options: {
    etcd: { type: 'string', default: 'http://127.0.0.1:2379' },
    prefix: { type: 'string', default: '/xds/' },
    port: { type: 'string', default: '18000' },
    admin: { type: 'string', default: '18001' },
    host: { type: 'string', default: '0.0.0.0' },
    'debounce-ms': { type: 'string', default: '50' },
    debug: { type: 'boolean', default: false },
  },
});

function portOf(flag: string, text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--${flag} must be a port number, got ${JSON.stringify(text)}`);
  return port;
}
const xdsPort = portOf('port', values.port);
const adminPort = portOf('admin', values.admin);
const debounceMs = Number(values['debounce-ms']);
if (!Number.isFinite(debounceMs) || debounceMs < 0) throw new Error(`--debounce-ms must be a non-negative number, got ${JSON.stringify(values['debounce-ms'])}`);
const prefix = values.prefix;
const etcdHosts = values.etcd.split(',').filter(Boolean);

const log = (...args: unknown[]) => console.log(new Date().toISOString(), ...args);
const debug = values.debug ? log : () => {};

// Every node gets the same snapshot: one cache key for all.
const ALL_NODES = 'all';
const cache = new SnapshotCache({ ads: true, hash: () => ALL_NODES });

/** What /status reports about streams and what went out on them. */
const counters = { streamsOpen: 0, streamsOpened: 0, responses: 0, resourcesSent: 0, removedSent: 0, acks: 0, nacks: 0 };

const xds = createServer(cache, {
  callbacks: {
    onStreamOpen: (id, typeUrl) => {
      counters.streamsOpen++;
      counters.streamsOpened++;
      debug(`stream ${id} open (${typeUrl || 'ADS'}, state of the world)`);
    },
    onStreamClosed: (id) => {
      counters.streamsOpen--;
      debug(`stream ${id} closed`);
    },
    onDeltaStreamOpen: (id, typeUrl) => {
      counters.streamsOpen++;
      counters.streamsOpened++;
      debug(`stream ${id} open (${typeUrl || 'ADS'}, delta)`);
    },
    onDeltaStreamClosed: (id) => {
      counters.streamsOpen--;
      debug(`stream ${id} closed`);
    },
    onStreamResponse: (id, _request, response) => {
      counters.responses++;
      counters.resourcesSent += response.resources.length;
      debug(`stream ${id} sent ${TYPE_SHORT_NAME[response.typeUrl]} version ${response.version}: ${response.resources.length} resources`);
    },
    onStreamDeltaResponse: (id, _request, response) => {
      counters.responses++;
      counters.resourcesSent += response.resources.length;
      counters.removedSent += response.removed.length;
      debug(`stream ${id} sent ${TYPE_SHORT_NAME[response.typeUrl]}: ${response.resources.length} resources, ${response.removed.length} removed`);
    },
    onAck: () => {
      counters.acks++;
    },
    onNack: (nack) => {
      counters.nacks++;
      log(`${nack.nodeId} rejected ${TYPE_SHORT_NAME[nack.typeUrl]} version ${nack.rejectedVersion ?? ''}: ${nack.errorDetail.message}`);
    },
  },
});

let served: BuiltConfig | undefined;
let revision = '0';
let rebuild: NodeJS.Timeout | undefined;

function problemText(problem: Problem): string {
  return `${problem.key}: ${problem.error}`;
}

async function publish(): Promise<void> {
  rebuild = undefined;
  const built = buildConfig(prefix, mirror.entries);
  const before = new Set((served?.problems ?? []).map(problemText));
  for (const problem of built.problems) if (!before.has(problemText(problem))) log(`not served: ${problemText(problem)}`);
  if (built.version === served?.version) {
    served = built;
    debug(`revision ${revision}: content unchanged (version ${built.version})`);
    return;
  }
  for (const missing of built.dangling) log(`warning: missing ${missing}`);
  served = built;
  await cache.setSnapshot(ALL_NODES, built.snapshot);
  const types = Object.entries(built.versions).map(([t, v]) => `${TYPE_SHORT_NAME[t as keyof typeof TYPE_SHORT_NAME]} ${v}`);
  log(`revision ${revision}: serving version ${built.version} (${types.join(', ')}); ${built.problems.length} keys not served`);
}

const client = new Etcd3({ hosts: etcdHosts });
const mirror = new EtcdMirror(client, prefix, {
  onChange: (at) => {
    revision = at;
    // Changes that arrive together (a seed, a burst of writes) make one snapshot.
    rebuild ??= setTimeout(() => {
      publish().catch((error: unknown) => log(`cannot serve revision ${revision}: ${String(error)}`));
    }, debounceMs);
  },
  onError: (error, what) => log(`etcd: ${what}: ${error.message}`),
});
mirror.start();

const port = await xds.listen(`${values.host}:${xdsPort}`);
log(`xDS server on port ${port}, configuration from ${etcdHosts.join(',')} under ${JSON.stringify(prefix)}`);

const admin = createHttpServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (req.method === 'GET' && url.pathname === '/healthz') {
    if (served) res.writeHead(200).end('ok\n');
    else res.writeHead(503).end('store not read yet\n');
    return;
  }
  if (req.method === 'GET' && url.pathname === '/status') {
    const body = {
      revision,
      version: served?.version ?? null,
      versions: Object.fromEntries(Object.entries(served?.versions ?? {}).map(([t, v]) => [TYPE_SHORT_NAME[t as keyof typeof TYPE_SHORT_NAME], v])),
      notServed: served?.problems ?? [],
      missing: served?.dangling ?? [],
      ...counters,
    };
    res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
    return;
  }
  res.writeHead(404).end('GET /healthz or GET /status\n');
});
admin.listen(adminPort, values.host, () => log(`admin endpoint on port ${adminPort}: GET /healthz, GET /status`));

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: shutting down`);
    clearTimeout(rebuild);
    admin.close();
    void mirror.close().finally(() => client.close());
    xds.close({ deadlineMs: 2000 }).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
