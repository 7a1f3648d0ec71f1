// Replicas fed by a real etcd, serving a real Envoy: two replicas of examples/replicas/main.ts as their own
// processes, one Envoy whose xds_cluster lists both, echo servers as upstreams. The configuration is written to etcd
// only; what Envoy does shows that it arrived. The replica Envoy is connected to is then killed under steady
// traffic: no request fails. Over delta ADS the other replica sends Envoy nothing it already holds; over
// state-of-the-world ADS it resends each type once (the cache's first-request rule), and nothing more.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { SAMPLE, sampleConfig, sampleEndpoints, writeConfig } from '../../examples/replicas/seed.js';
import { adsBootstrap, httpGet, servedBy } from '../support/ads-envoy.js';
import { startEchoServer, type EchoServer } from '../support/echo-server.js';
import { configSection, skipReason, startEnvoy, waitFor, type Bootstrap, type EnvoyInstance } from '../support/envoy.js';
import { etcdSkipReason, startEtcd, type EtcdInstance } from '../support/etcd.js';
import { freePort } from '../support/ports.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PREFIX = '/e2e/xds/';

/** What a replica's `GET /status` says. */
interface ReplicaStatus {
  revision: string;
  version: string | null;
  versions: Record<string, string>;
  notServed: { key: string; error: string }[];
  streamsOpen: number;
  streamsOpened: number;
  responses: number;
  resourcesSent: number;
  removedSent: number;
  acks: number;
  nacks: number;
}

/** A replica running as its own process, as a user would run it. */
class Replica {
  output = '';
  private constructor(
    readonly name: string,
    readonly xdsPort: number,
    readonly adminPort: number,
    readonly child: ChildProcess,
  ) {
    child.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
  }

  static async start(name: string, etcdUrl: string): Promise<Replica> {
    const [xdsPort, adminPort] = [await freePort(), await freePort()];
    const args = ['--conditions=xds-source', '--import', 'tsx', join(repoRoot, 'examples', 'replicas', 'main.ts')];
    args.push('--etcd', etcdUrl, '--prefix', PREFIX, '--port', String(xdsPort), '--admin', String(adminPort), '--host', '127.0.0.1');
    const child = spawn(process.execPath, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    const replica = new Replica(name, xdsPort, adminPort, child);
    const killOnExit = (): void => void child.kill('SIGKILL');
    process.once('exit', killOnExit); // a test process that dies leaves no replica behind
    child.once('exit', () => process.off('exit', killOnExit));
    try {
      await waitFor(() => replica.healthy(), { timeoutMs: 30_000, what: `replica ${name} to read the store` });
    } catch (error) {
      await replica.stop('SIGKILL');
      throw new Error(`${(error as Error).message}; its output:\n${replica.output}`, { cause: error });
    }
    return replica;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async healthy(): Promise<boolean> {
    if (!this.running) throw new Error(`replica ${this.name} exited: ${this.output}`);
    const answer = await httpGet(this.adminPort, { path: '/healthz', timeoutMs: 2_000 });
    return answer.status === 200;
  }

  async status(): Promise<ReplicaStatus> {
    const answer = await httpGet(this.adminPort, { path: '/status', timeoutMs: 2_000 });
    return JSON.parse(answer.body) as ReplicaStatus;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!this.running) return;
    const exited = once(this.child, 'exit');
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Envoy's bootstrap: ADS (delta or state of the world) to an xds_cluster listing both replicas, reconnecting within a second. */
function bootstrap(replicas: readonly Replica[], apiType: 'DELTA_GRPC' | 'GRPC'): Bootstrap {
  return adsBootstrap({ nodeId: 'replicas-e2e', apiType, xdsPort: replicas.map((r) => r.xdsPort) });
}

/** The endpoint ports of the sample cluster in Envoy's config dump. */
async function upstreamPorts(envoy: EnvoyInstance): Promise<number[]> {
  const dump = await envoy.configDump({ include_eds: '' });
  const section = configSection(dump, 'EndpointsConfigDump') as
    | { dynamic_endpoint_configs?: { endpoint_config?: { cluster_name?: string; endpoints?: { lb_endpoints?: { endpoint?: { address?: { socket_address?: { port_value?: number } } } }[] }[] } }[] }
    | undefined;
  const config = section?.dynamic_endpoint_configs?.find((c) => c.endpoint_config?.cluster_name === SAMPLE.cluster)?.endpoint_config;
  return (config?.endpoints ?? []).flatMap((e) => (e.lb_endpoints ?? []).map((lb) => lb.endpoint?.address?.socket_address?.port_value ?? 0));
}

const skip = skipReason() ?? etcdSkipReason();

/** The resources of the sample configuration: one of each type Envoy asks for (CDS, EDS, LDS, RDS). */
const SAMPLE_TYPES = 4;

const MODES = [
  { apiType: 'DELTA_GRPC', label: 'delta ADS' },
  { apiType: 'GRPC', label: 'state-of-the-world ADS' },
] as const;

for (const { apiType, label } of MODES) {
  void describe(`replicas fed by etcd, with real Envoy over ${label}`, { skip: skip ?? false, timeout: 150_000 }, () => {
    let etcd: EtcdInstance;
    let client: Etcd3;
    let service1: EchoServer;
    let service2: EchoServer;
    let replicas: Replica[] = [];
    let envoy: EnvoyInstance<'listener'>;
    let listenerPort: number;

    before(async () => {
      etcd = await startEtcd();
      client = new Etcd3({ hosts: etcd.url });
      service1 = await startEchoServer({ name: 'service1' });
      service2 = await startEchoServer({ name: 'service2' });
      listenerPort = await freePort();
      await writeConfig(client, PREFIX, sampleConfig({ listenerPort, upstreams: [{ host: '127.0.0.1', port: service1.port }] }));
      const started = await Promise.allSettled([Replica.start('a', etcd.url), Replica.start('b', etcd.url)]);
      replicas = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      for (const r of started) if (r.status === 'rejected') throw r.reason;
      envoy = await startEnvoy({ bootstrap: bootstrap(replicas, apiType), name: 'replicas' });
    });

    after(async () => {
      await envoy?.stop();
      await Promise.all(replicas.map((r) => r.stop()));
      client?.close();
      await etcd?.stop();
      await service1?.close();
      await service2?.close();
    });

    test('replicas that read the same store serve the same versions', async () => {
      const [a, b] = await Promise.all(replicas.map((r) => r.status()));
      assert.equal(a.revision, b.revision);
      assert.ok(a.version, 'replica a serves a version');
      assert.deepEqual(a.versions, b.versions);
      assert.equal(a.version, b.version);
    });

    test('Envoy serves traffic with the configuration stored in etcd', async () => {
      const answer = await envoy.waitFor(async () => {
        const reply = await httpGet(listenerPort);
        return reply.status === 200 ? reply : undefined;
      }, 20_000, 'traffic through the listener stored in etcd');
      assert.equal(servedBy(answer), 'Request served by service1');
    });

    test('a change written to etcd reaches Envoy', async () => {
      await writeConfig(client, PREFIX, { [`endpoints/${SAMPLE.cluster}`]: sampleEndpoints([{ host: '127.0.0.1', port: service2.port }]) });
      await envoy.waitFor(async () => (await upstreamPorts(envoy)).includes(service2.port), 10_000, 'the new endpoint in config_dump');
      const answer = await envoy.waitFor(async () => {
        const reply = await httpGet(listenerPort);
        return servedBy(reply) === 'Request served by service2' ? reply : undefined;
      }, 10_000, 'traffic to service2');
      assert.equal(answer.status, 200);
      const [a, b] = await Promise.all(replicas.map((r) => r.status()));
      assert.equal(a.version, b.version, 'both replicas serve the new content under one version');
    });

    test('an invalid value in etcd is reported by key and not served; the rest still is', async () => {
      const key = `${PREFIX}clusters/broken`;
      await client.put(key).value(JSON.stringify({ name: 'broken', type: 'NOT_A_TYPE' }));
      const statuses = await waitFor(async () => {
        const all = await Promise.all(replicas.map((r) => r.status()));
        return all.every((s) => s.notServed.some((p) => p.key === key)) ? all : undefined;
      }, { timeoutMs: 10_000, what: 'both replicas to report the invalid key' });
      for (const status of statuses) assert.match(status.notServed.find((p) => p.key === key)!.error, /NOT_A_TYPE/);
      assert.equal(statuses[0].version, statuses[1].version);
      assert.ok(replicas.every((r) => r.output.includes(`not served: ${key}:`)), 'each replica logs the key and the error');
      await client.delete().key(key);
      const clusters = await envoy.clusters();
      assert.ok(!(clusters.cluster_statuses ?? []).some((c) => c.name === 'broken'), 'Envoy never got the invalid cluster');
      assert.equal(servedBy(await httpGet(listenerPort)), 'Request served by service2');
    });

    test('a replica started after every change serves the same versions as the replicas that followed them', async () => {
      const late = await Replica.start('late', etcd.url);
      try {
        const [a, b, c] = await Promise.all([...replicas, late].map((r) => r.status()));
        assert.equal(c.revision, a.revision);
        assert.deepEqual(c.versions, a.versions);
        assert.deepEqual(c.versions, b.versions);
      } finally {
        await late.stop();
      }
    });

    const failoverRule =
      apiType === 'DELTA_GRPC'
        ? 'the other replica sends nothing Envoy already holds'
        : 'the other replica resends each type once (first request of a stream), and nothing more';
    test(`killing the replica Envoy uses fails no request, and ${failoverRule}`, async () => {
      const statuses = await Promise.all(replicas.map((r) => r.status()));
      const usedIndex = statuses.findIndex((s) => s.streamsOpen === 1);
      assert.ok(usedIndex >= 0, `Envoy holds a stream to one replica: ${JSON.stringify(statuses.map((s) => s.streamsOpen))}`);
      const used = replicas[usedIndex];
      const survivor = replicas[1 - usedIndex];
      const baseline = statuses[1 - usedIndex];
      assert.equal(baseline.streamsOpen, 0, 'the other replica has no stream before the kill');
      const connectedBefore = (await envoy.stats('control_plane.connected_state'))['control_plane.connected_state'];
      assert.equal(connectedBefore, 1);

      // Steady traffic through Envoy, one request at a time, from before the kill until after the reconnection.
      let sent = 0;
      const failures: string[] = [];
      let stopTraffic = false;
      const traffic = (async () => {
        const end = Date.now() + 30_000; // bounded whatever happens
        while (!stopTraffic && Date.now() < end) {
          sent++;
          try {
            const reply = await httpGet(listenerPort, { timeoutMs: 2_000 });
            if (reply.status !== 200 || servedBy(reply) !== 'Request served by service2') failures.push(`${reply.status} ${servedBy(reply)}`);
          } catch (error) {
            failures.push((error as Error).message);
          }
        }
      })();
      await sleep(500);

      const killedAt = performance.now();
      await used.stop('SIGKILL');
      const reconnected = await waitFor(async () => ((await survivor.status()).streamsOpen === 1 ? performance.now() : undefined), {
        timeoutMs: 10_000,
        intervalMs: 20,
        what: 'Envoy to open a stream to the surviving replica',
      });
      // Envoy's requests on the new stream are answered (or not) and ACKed within moments; let them settle.
      await envoy.waitFor(async () => (await envoy.stats('control_plane.connected_state'))['control_plane.connected_state'] === 1, 10_000, 'Envoy connected again');
      // Delta: an empty first answer to each wildcard type (CDS, LDS). State of the world: one answer per type.
      const expectedResponses = apiType === 'DELTA_GRPC' ? 2 : SAMPLE_TYPES;
      await waitFor(async () => (await survivor.status()).acks - baseline.acks >= expectedResponses, { timeoutMs: 10_000, what: 'Envoy to ACK on the new stream' });
      await sleep(1_000);
      stopTraffic = true;
      await traffic;
      const after = await survivor.status();
      const reconnectMs = Math.round(reconnected - killedAt);
      const responses = after.responses - baseline.responses;
      const resources = after.resourcesSent - baseline.resourcesSent;
      const removed = after.removedSent - baseline.removedSent;
      console.log(
        `failover (${label}): ${sent} requests, ${failures.length} failed; stream to the survivor ${reconnectMs} ms after the kill; ` +
          `survivor sent ${responses} responses carrying ${resources} resources and ${removed} removals, ${after.nacks - baseline.nacks} NACKs`,
      );
      assert.deepEqual(failures, [], 'no request fails while the replica Envoy used dies');
      assert.ok(sent >= 20, `traffic kept flowing during the failover (${sent} requests)`);
      if (apiType === 'DELTA_GRPC') {
        assert.equal(resources, 0, 'the survivor sends no resource Envoy already holds');
      } else {
        assert.equal(responses, SAMPLE_TYPES, 'one response per type, on the first request of each');
        assert.equal(resources, SAMPLE_TYPES, 'each resource once');
      }
      assert.equal(removed, 0, 'nothing is removed');
      assert.equal(after.nacks, baseline.nacks);
    });

    test('after the failover, a change reaches Envoy through the surviving replica, which sends only what changed', async () => {
      const survivor = replicas.find((r) => r.running)!;
      const before = await survivor.status();
      await writeConfig(client, PREFIX, { [`endpoints/${SAMPLE.cluster}`]: sampleEndpoints([{ host: '127.0.0.1', port: service1.port }]) });
      await envoy.waitFor(async () => servedBy(await httpGet(listenerPort)) === 'Request served by service1', 10_000, 'traffic back on service1');
      await waitFor(async () => (await survivor.status()).acks > before.acks, { timeoutMs: 10_000, what: 'the ACK of the change' });
      const after = await survivor.status();
      assert.equal(after.resourcesSent - before.resourcesSent, 1, 'one ClusterLoadAssignment');
    });
  });
}
