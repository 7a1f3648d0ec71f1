/**
 * Our xDS server as a fleet-benchmark server process (the control protocol is described in servers.ts and
 * bench/fleet/README.md).
 *
 * One `SnapshotCache` in ADS mode, one snapshot per version (checked with `consistent()`, as the Go reference
 * server checks its own), served over ADS SotW and delta by
 * `createServer(...)` on 127.0.0.1 (any free port). With `--keying node` (the default) the snapshot is set under
 * each node id `envoy-00000` … of `--nodes`, as applications key snapshots by node; with `--keying fleet` the
 * node hash maps every node to the key `fleet` and the snapshot is set once.
 *
 *   node --import tsx bench/fleet/ours-server.ts --clusters M --listeners L --endpoints E --nodes N [--keying node|fleet] [--sliced] [--workers K]
 *
 * `--workers K` serves the streams from K worker processes (`createServer(cache, { workers })`); this process
 * keeps the cache and encodes. Stream counts then come from the workers' reports, and requests and responses are
 * not counted (those callbacks run in the workers).
 * `--sliced` makes snapshots with `await Snapshot.create` (encoding in 5 ms slices) instead of `new Snapshot`.
 *
 * Besides the protocol's fields, the answers carry measures of ours:
 * - `set`: `resources` of the snapshot, `encodes` done while making and setting it, and `encodesPerResource`
 *   (encodes / resources: encode once means 1 for a snapshot whose resources are all new objects).
 * - `stats`: `eventLoopDelayMaxMs` and `eventLoopDelayP99Ms` since the last `set` (the push and the ACKs that
 *   follow), `encodesPerResource` since the last `set` (it also counts encodes after `set` answered: any
 *   per-stream encoding would show there), `majorGcs` and `minorGcs` since the last `set` (garbage collections
 *   as `PerformanceObserver` reports them: major = mark-sweep-compact of the whole heap, minor = scavenge of
 *   the young generation) and `majorGcMs` (their pauses on the main thread), `heapUsedBytes`, `externalBytes`,
 *   `arrayBuffersBytes`. With `"gc": true` it collects garbage first (the orchestrator starts it with
 *   `--expose-gc`; it asks so only outside the updates).
 *
 * The library is imported by its package name, which resolves to the compiled `dist/`.
 *
 * @packageDocumentation
 */
import { constants as perfConstants, monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { EncodedResource, Snapshot, SnapshotCache, type SnapshotResources } from 'xds-control-plane/cache';
import { TypeUrl } from 'xds-control-plane/resource';
import { createServer } from 'xds-control-plane/server';
import fleetHash, { FLEET_KEY } from './fleet-hash.js';
import { nodeId, nonNegativeInteger } from './protocol.js';
import { FleetGenerator, type FleetChange, type FleetResources } from './resources.js';


interface Command {
  readonly op?: string;
  readonly gc?: boolean;
  readonly version?: string;
  readonly clusters?: number;
  readonly listeners?: number;
  readonly endpoints?: number;
  readonly change?: FleetChange;
}

function toResources(r: FleetResources): SnapshotResources {
  return {
    [TypeUrl.Cluster]: r.clusters,
    [TypeUrl.Endpoint]: r.endpoints,
    [TypeUrl.Listener]: r.listeners,
    [TypeUrl.Route]: r.routes,
  };
}

function count(r: FleetResources): number {
  return r.clusters.length + r.endpoints.length + r.listeners.length + r.routes.length;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      clusters: { type: 'string' },
      listeners: { type: 'string' },
      endpoints: { type: 'string' },
      nodes: { type: 'string' },
      keying: { type: 'string', default: 'node' },
      sliced: { type: 'boolean', default: false },
      workers: { type: 'string' },
    },
  });
  const workers = nonNegativeInteger(values.workers, 0, 'workers');
  const shape = {
    clusters: nonNegativeInteger(values.clusters, 100, 'clusters'),
    listeners: nonNegativeInteger(values.listeners, 1, 'listeners'),
    endpoints: nonNegativeInteger(values.endpoints, 3, 'endpoints'),
  };
  // Checked for consistency, as the Go reference server checks its snapshots (snapshot.Consistent()).
  const makeSnapshot = async (version: string, resources: FleetResources): Promise<Snapshot> => {
    const snapshot = values.sliced ? await Snapshot.create(version, toResources(resources)) : new Snapshot(version, toResources(resources));
    snapshot.consistent();
    return snapshot;
  };

  if (values.keying !== 'node' && values.keying !== 'fleet') throw new Error(`--keying: ${values.keying} is not node or fleet`);
  const perNode = values.keying === 'node';
  const keys = perNode
    ? Array.from({ length: nonNegativeInteger(values.nodes, 0, 'nodes') }, (_, i) => nodeId(i))
    : [FLEET_KEY];

  let streams = 0;
  let requests = 0;
  let responses = 0;
  const cache = new SnapshotCache(perNode ? { ads: true } : { ads: true, hash: fleetHash });
  /**
   * One snapshot, set under every key (for every node, as an application serving one config to a fleet does):
   * every key is set before any is awaited. go-control-plane's `SetSnapshot` returns once it has handed the
   * responses to the streams' channels, without waiting for them to be sent; our `setSnapshot` resolves when the
   * watches are answered, which in the worker mode is a round trip to a worker process. Awaiting key by key
   * would make an update of N keys N such round trips in a row (docs/workers.md).
   */
  const setAll = async (snapshot: Snapshot): Promise<void> => {
    await Promise.all(keys.map((key) => cache.setSnapshot(key, snapshot)));
  };
  const generator = new FleetGenerator();
  const initial = generator.build(shape, 'none');
  await setAll(await makeSnapshot('1', initial));

  const counting = {
    // The load generator connects the whole fleet at once, as go-control-plane (which has no such limit) sees it.
    newStreamRate: false as const,
    callbacks: {
      onStreamOpen: () => {
        streams++;
      },
      onStreamClosed: () => {
        streams--;
      },
      onDeltaStreamOpen: () => {
        streams++;
      },
      onDeltaStreamClosed: () => {
        streams--;
      },
      onStreamRequest: () => {
        requests++;
      },
      onStreamDeltaRequest: () => {
        requests++;
      },
      onStreamResponse: () => {
        responses++;
      },
      onStreamDeltaResponse: () => {
        responses++;
      },
    },
  };
  const xds = createServer(
    cache,
    workers === 0
      ? counting
      : { newStreamRate: false, workers: { count: workers, hashModule: perNode ? undefined : new URL('./fleet-hash.ts', import.meta.url) } },
  );
  const port = await xds.listen('127.0.0.1:0');
  const write = (v: unknown): void => {
    process.stdout.write(`${JSON.stringify(v)}\n`);
  };
  write({ listening: port });

  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  // Garbage collections since the last `set`: the entries arrive a little after each collection, and a phase
  // ends only after 250 ms without responses, so those of the phase are in when `stats` is asked.
  const gcs = { major: 0, minor: 0, majorMs: 0 };
  const gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as { readonly detail?: { readonly kind?: number } | null }).detail?.kind;
      if (kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) {
        gcs.major++;
        gcs.majorMs += entry.duration;
      } else if (kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) gcs.minor++;
    }
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  let encodesAtSet = EncodedResource.encodeCount;
  let resourcesAtSet = count(initial);
  let prepared: { version: string; resources: FleetResources } | undefined;
  let closing = false;

  const quit = async (): Promise<void> => {
    if (closing) return;
    closing = true;
    loopDelay.disable();
    gcObserver.disconnect();
    await xds.close({ deadlineMs: 1000 }).catch(() => undefined);
    cache.close();
    process.exit(0);
  };

  const handle = async (cmd: Command): Promise<unknown> => {
    switch (cmd.op) {
      case 'prepare': {
        if (cmd.version === undefined) throw new Error('prepare needs a version');
        const started = performance.now();
        const resources = generator.build(
          {
            clusters: cmd.clusters ?? shape.clusters,
            listeners: cmd.listeners ?? shape.listeners,
            endpoints: cmd.endpoints ?? shape.endpoints,
          },
          cmd.change ?? 'none',
        );
        prepared = { version: cmd.version, resources };
        return { ok: true, op: 'prepare', version: cmd.version, ms: performance.now() - started };
      }
      case 'set': {
        if (prepared === undefined || prepared.version !== cmd.version) {
          throw new Error(`version ${String(cmd.version)} was not prepared`);
        }
        const { version, resources } = prepared;
        prepared = undefined;
        loopDelay.reset();
        gcs.major = 0;
        gcs.minor = 0;
        gcs.majorMs = 0;
        encodesAtSet = EncodedResource.encodeCount;
        resourcesAtSet = count(resources);
        const t0 = performance.timeOrigin + performance.now();
        const started = performance.now();
        await setAll(await makeSnapshot(version, resources));
        const ms = performance.now() - started;
        const encodes = EncodedResource.encodeCount - encodesAtSet;
        return {
          ok: true, op: 'set', version, t0, ms,
          resources: resourcesAtSet, encodes, encodesPerResource: encodes / Math.max(1, resourcesAtSet),
        };
      }
      case 'stats': {
        // Started with --expose-gc by the orchestrator; garbage is collected before a memory reading.
        if (cmd.gc === true) (globalThis as { gc?: () => void }).gc?.();
        const mem = process.memoryUsage();
        const encodes = EncodedResource.encodeCount - encodesAtSet;
        return {
          ok: true, op: 'stats',
          ...(workers === 0 ? { streams, requests, responses } : { streams: xds.stats().streams }),
          eventLoopDelayMaxMs: loopDelay.max / 1e6,
          eventLoopDelayP99Ms: loopDelay.percentile(99) / 1e6,
          encodes,
          encodesPerResource: encodes / Math.max(1, resourcesAtSet),
          majorGcs: gcs.major,
          minorGcs: gcs.minor,
          majorGcMs: gcs.majorMs,
          heapUsedBytes: mem.heapUsed,
          externalBytes: mem.external,
          arrayBuffersBytes: mem.arrayBuffers,
        };
      }
      case 'quit':
        return { ok: true, op: 'quit' };
      default:
        throw new Error(`unknown op ${String(cmd.op)}`);
    }
  };

  // Commands are answered one at a time, in order.
  const lines = createInterface({ input: process.stdin });
  let queue: Promise<void> = Promise.resolve();
  lines.on('line', (line) => {
    queue = queue.then(async () => {
      let op: string | undefined;
      try {
        const cmd = JSON.parse(line) as Command;
        op = cmd.op;
        write(await handle(cmd));
        if (op === 'quit') await quit();
      } catch (err) {
        write({ ok: false, op, error: err instanceof Error ? err.message : String(err) });
      }
    });
  });
  lines.on('close', () => {
    void queue.then(quit);
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`ours-server: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
