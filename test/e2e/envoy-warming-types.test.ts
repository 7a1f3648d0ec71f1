// Beyond clusters and their endpoints, Envoy warms a listener until it has its route configuration (RDS), its
// scoped routes (SRDS), its HTTP filter configs (ECDS) and its TLS secrets (SDS), and a cluster until it has its
// secrets. Here each of those parents changes while what it depends on does not (each type is versioned by
// content), over SotW and delta ADS: the change is active within 1 s, and traffic never fails meanwhile.
//
// XDS_E2E_DEBUG=1 prints what reached the server and what it sent after each change.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, describe } from 'node:test';
import { Snapshot, SnapshotCache, type SnapshotResources } from '../../src/cache/index.js';
import { ExtensionTypeUrl, TypeUrl, type ResourceTypeUrl } from '../../src/resource/index.js';
import { createServer, type NackEvent, type XdsServer } from '../../src/server/index.js';
import { ADS, ROUTER_FILTER, adsBootstrap, catchAllRoute, httpListener, staticCluster } from '../support/ads-envoy.js';
import { configSection, envoyTest, startEnvoy, type EnvoyInstance } from '../support/envoy.js';
import { httpGet, keepRequesting, useUpstreams } from '../support/envoy-xds.js';
import { freePort } from '../support/ports.js';
import { selfSignedCertificate, type SelfSigned } from '../support/tls-certs.js';

const upstreams = useUpstreams();
const DEBUG = process.env['XDS_E2E_DEBUG'] === '1';
const SCOPE_HEADER = 'x-tenant';

/** What the tests change: a generation per parent resource. */
interface State {
  rdsListener: number;
  scopeKey: string;
  ecdsListener: number;
  sdsListener: number;
  sdsCluster: number;
}

interface Setup {
  mode: 'ads-sotw' | 'ads-delta';
  envoy: EnvoyInstance;
  cache: SnapshotCache;
  xds: XdsServer;
  ports: { rds: number; srds: number; ecds: number; tls: number };
  serverCert: SelfSigned;
  clientCert: SelfSigned;
  state: State;
  nacks: NackEvent[];
  log: string[];
  /** Publishes a change. */
  publish(change: Partial<State>): Promise<void>;
}

/** A type's version: a digest of its resources, so that unchanged types keep their version. */
function versionOf(resources: readonly unknown[]): string {
  return createHash('sha256').update(JSON.stringify(resources)).digest('hex').slice(0, 12);
}

function resources(s: Setup): SnapshotResources {
  const { state, ports } = s;
  const tls = (cert: string): Record<string, unknown> => ({ tls_certificate_sds_secret_configs: [{ name: cert, sds_config: ADS }] });
  return {
    [TypeUrl.Cluster]: [
      staticCluster('service', upstreams.a.port),
      {
        ...staticCluster('tls-upstream', upstreams.b.port),
        connect_timeout: `${state.sdsCluster}s`,
        transport_socket: {
          name: 'envoy.transport_sockets.tls',
          typed_config: { '@type': ExtensionTypeUrl.UpstreamTlsContext, common_tls_context: tls('client-cert') },
        },
      },
    ],
    [TypeUrl.Listener]: [
      httpListener('rds', ports.rds, { stat_prefix: `rds-${state.rdsListener}`, rds: { route_config_name: 'route-1', config_source: ADS } }),
      httpListener('srds', ports.srds, {
        scoped_routes: {
          name: 'scopes',
          scope_key_builder: { fragments: [{ header_value_extractor: { name: SCOPE_HEADER, index: 0 } }] },
          rds_config_source: ADS,
          scoped_rds: { scoped_rds_config_source: ADS },
        },
      }),
      httpListener('ecds', ports.ecds, {
        stat_prefix: `ecds-${state.ecdsListener}`,
        route_config: catchAllRoute('ecds-route', 'service'),
        http_filters: [{ name: 'fault', config_discovery: { config_source: ADS, type_urls: [ExtensionTypeUrl.Fault] } }, ROUTER_FILTER],
      }),
      httpListener(
        'tls',
        ports.tls,
        { stat_prefix: `tls-${state.sdsListener}`, route_config: catchAllRoute('tls-route', 'service') },
        { name: 'envoy.transport_sockets.tls', typed_config: { '@type': ExtensionTypeUrl.DownstreamTlsContext, common_tls_context: tls('server-cert') } },
      ),
    ],
    [TypeUrl.Route]: [catchAllRoute('route-1', 'service')],
    [TypeUrl.ScopedRoute]: [{ name: 'scope', route_configuration_name: 'route-1', key: { fragments: [{ string_key: state.scopeKey }] } }],
    [TypeUrl.ExtensionConfig]: [{ name: 'fault', typed_config: { '@type': ExtensionTypeUrl.Fault } }],
    [TypeUrl.Secret]: [
      { name: 'server-cert', tls_certificate: { certificate_chain: { inline_string: s.serverCert.certPem }, private_key: { inline_string: s.serverCert.keyPem } } },
      { name: 'client-cert', tls_certificate: { certificate_chain: { inline_string: s.clientCert.certPem }, private_key: { inline_string: s.clientCert.keyPem } } },
    ],
  };
}

function buildSnapshot(s: Setup): Snapshot {
  const byType = resources(s);
  const versions: Partial<Record<ResourceTypeUrl, string>> = {};
  for (const [type, list] of Object.entries(byType)) versions[type as ResourceTypeUrl] = versionOf(list);
  return new Snapshot('all', byType, { versions });
}

async function start(mode: Setup['mode']): Promise<Setup> {
  const cache = new SnapshotCache({ ads: true });
  const nacks: NackEvent[] = [];
  const log: string[] = [];
  let t0 = performance.now();
  const at = (): string => `${(performance.now() - t0).toFixed(0).padStart(5)} ms`;
  const short = (typeUrl: string | undefined): string => (typeUrl ?? '').split('.').pop() ?? '';
  const xds = createServer(cache, {
    callbacks: {
      onNack: (nack) => void nacks.push(nack),
      onStreamRequest: (_id, r) => void log.push(`${at()} <- ${short(r.type_url)} version "${r.version_info}" nonce "${r.response_nonce}" [${r.resource_names.join(',')}]`),
      onStreamResponse: (_id, _r, response, nonce) => void log.push(`${at()} -> ${short(response.typeUrl)} version "${response.version}" nonce "${nonce}" [${response.resources.map((x) => x.name).join(',')}]`),
      onStreamDeltaRequest: (_id, r) =>
        void log.push(`${at()} <- ${short(r.type_url)} nonce "${r.response_nonce}" +[${r.resource_names_subscribe.join(',')}] -[${r.resource_names_unsubscribe.join(',')}]`),
      onStreamDeltaResponse: (_id, _r, response, nonce) =>
        void log.push(`${at()} -> ${short(response.typeUrl)} nonce "${nonce}" [${response.resources.map((x) => x.name).join(',')}] removed [${response.removed.join(',')}]`),
    },
  });
  const xdsPort = await xds.listen('127.0.0.1:0');
  const nodeId = `warming-types-${mode}`;
  const setup: Setup = {
    mode,
    envoy: undefined as unknown as EnvoyInstance,
    cache,
    xds,
    ports: { rds: await freePort(), srds: await freePort(), ecds: await freePort(), tls: await freePort() },
    serverCert: selfSignedCertificate('server.test'),
    clientCert: selfSignedCertificate('client.test'),
    state: { rdsListener: 1, scopeKey: 'a', ecdsListener: 1, sdsListener: 1, sdsCluster: 1 },
    nacks,
    log,
    async publish(change) {
      Object.assign(this.state, change);
      const snapshot = buildSnapshot(this);
      log.length = 0;
      t0 = performance.now();
      await cache.setSnapshot(nodeId, snapshot);
    },
  };
  await setup.publish({});
  setup.envoy = await startEnvoy({
    name: nodeId,
    bootstrap: adsBootstrap({ nodeId, xdsPort, apiType: mode === 'ads-delta' ? 'DELTA_GRPC' : 'GRPC' }),
  });
  // Every listener is active before the tests change anything.
  await setup.envoy.waitFor(async () => (await listeners(setup.envoy)).filter((l) => l.active && !l.warming).length === 4, 10_000, 'four active listeners');
  await setup.envoy.waitFor(async () => !(await clusters(setup.envoy)).warming.includes('tls-upstream'), 10_000, 'the TLS cluster active');
  await new Promise((resolve) => setTimeout(resolve, 300));
  return setup;
}

interface ListenerState {
  name: string;
  /** The `stat_prefix` of the active listener's HTTP connection manager. */
  active: string | undefined;
  warming: boolean;
}

interface DumpedListener {
  filter_chains?: Array<{ filters?: Array<{ typed_config?: { stat_prefix?: string } }> }>;
}

async function listeners(envoy: EnvoyInstance): Promise<ListenerState[]> {
  const section = configSection(await envoy.configDump(), 'ListenersConfigDump') as
    | { dynamic_listeners?: Array<{ name?: string; active_state?: { listener?: DumpedListener }; warming_state?: unknown }> }
    | undefined;
  return (section?.dynamic_listeners ?? []).map((l) => ({
    name: l.name ?? '',
    active: l.active_state?.listener?.filter_chains?.[0]?.filters?.[0]?.typed_config?.stat_prefix,
    warming: l.warming_state !== undefined,
  }));
}

async function clusters(envoy: EnvoyInstance): Promise<{ active: Map<string, string | undefined>; warming: string[] }> {
  const section = configSection(await envoy.configDump(), 'ClustersConfigDump') as
    | {
        dynamic_active_clusters?: Array<{ cluster?: { name?: string; connect_timeout?: string } }>;
        dynamic_warming_clusters?: Array<{ cluster?: { name?: string } }>;
      }
    | undefined;
  return {
    active: new Map((section?.dynamic_active_clusters ?? []).map((c) => [c.cluster?.name ?? '', c.cluster?.connect_timeout])),
    warming: (section?.dynamic_warming_clusters ?? []).map((c) => c.cluster?.name ?? ''),
  };
}

/** Milliseconds until `done` holds (polled every 20 ms), or undefined after 3 s. */
async function timeUntil(done: () => Promise<boolean>): Promise<number | undefined> {
  const started = performance.now();
  while (performance.now() - started < 3_000) {
    if (await done()) return performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return undefined;
}

const setups = new Map<Setup['mode'], Promise<Setup>>();
function envoySetup(mode: Setup['mode']): Promise<Setup> {
  let setup = setups.get(mode);
  if (setup === undefined) {
    setup = start(mode);
    setups.set(mode, setup);
  }
  return setup;
}

after(async () => {
  for (const pending of setups.values()) {
    const setup = await pending.catch(() => undefined);
    if (!setup) continue;
    await setup.envoy?.stop();
    await setup.xds.close({ deadlineMs: 1000 });
  }
});

/** Changes a listener while what it depends on stays; the new listener must be active within 1 s. */
async function listenerChange(mode: Setup['mode'], name: 'rds' | 'ecds' | 'tls', generation: 'rdsListener' | 'ecdsListener' | 'sdsListener'): Promise<void> {
  const s = await envoySetup(mode);
  const traffic = name === 'tls' ? undefined : keepRequesting(name === 'rds' ? s.ports.rds : s.ports.ecds);
  const next = s.state[generation] + 1;
  await s.publish({ [generation]: next });
  const ms = await timeUntil(async () => (await listeners(s.envoy)).some((l) => l.name === name && l.active === `${name}-${next}` && !l.warming));
  await new Promise((resolve) => setTimeout(resolve, 200));
  const result = await traffic?.stop();
  if (DEBUG) console.log(`${mode} listener ${name}: active after ${ms?.toFixed(0)} ms\n${s.log.join('\n')}`);
  assert.ok(ms !== undefined && ms < 1_000, `${mode}: listener ${name} active after ${ms?.toFixed(0) ?? 'more than 3000'} ms, not within 1 s:\n${s.log.join('\n')}`);
  if (result !== undefined) assert.deepEqual(result.failed, [], `every request through listener ${name} succeeded (${result.sent} sent)`);
  assert.deepEqual(s.nacks, []);
}

for (const mode of ['ads-sotw', 'ads-delta'] as const) {
  describe(`${mode}: a parent changed while what it depends on stays`, () => {
    void envoyTest(`${mode}: a listener changed with its RDS route configuration unchanged is active within 1 s`, () =>
      listenerChange(mode, 'rds', 'rdsListener'),
    );

    void envoyTest(`${mode}: a listener changed with its ECDS filter config unchanged is active within 1 s`, () =>
      listenerChange(mode, 'ecds', 'ecdsListener'),
    );

    void envoyTest(`${mode}: a listener changed with its SDS secret unchanged is active within 1 s`, () =>
      listenerChange(mode, 'tls', 'sdsListener'),
    );

    void envoyTest(`${mode}: a scope changed (new key) with its route configuration unchanged serves within 1 s`, async () => {
      const s = await envoySetup(mode);
      const key = s.state.scopeKey === 'a' ? 'b' : 'a';
      await s.publish({ scopeKey: key });
      const ms = await timeUntil(async () => {
        const answer = await httpGet(s.ports.srds, '/', undefined, 3_000, { [SCOPE_HEADER]: key });
        return answer.ok && answer.status === 200 && answer.servedBy === 'A';
      });
      if (DEBUG) console.log(`${mode} scope key ${key}: served after ${ms?.toFixed(0)} ms\n${s.log.join('\n')}`);
      assert.ok(ms !== undefined && ms < 1_000, `${mode}: scope key ${key} served after ${ms?.toFixed(0) ?? 'more than 3000'} ms, not within 1 s:\n${s.log.join('\n')}`);
      assert.deepEqual(s.nacks, []);
    });

    void envoyTest(`${mode}: a cluster changed with its SDS secret unchanged is active within 1 s`, async () => {
      const s = await envoySetup(mode);
      const timeout = s.state.sdsCluster + 1;
      await s.publish({ sdsCluster: timeout });
      const ms = await timeUntil(async () => {
        const state = await clusters(s.envoy);
        return state.active.get('tls-upstream') === `${timeout}s` && state.warming.length === 0;
      });
      if (DEBUG) console.log(`${mode} cluster tls-upstream: active after ${ms?.toFixed(0)} ms\n${s.log.join('\n')}`);
      assert.ok(ms !== undefined && ms < 1_000, `${mode}: cluster active after ${ms?.toFixed(0) ?? 'more than 3000'} ms, not within 1 s:\n${s.log.join('\n')}`);
      assert.deepEqual(s.nacks, []);
    });
  });
}
