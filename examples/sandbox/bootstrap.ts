/**
 * The Envoy bootstrap of the sandbox (Envoy's "dynamic configuration (control plane)" example): node
 * `test-id` in cluster `test-cluster`, one static cluster `xds_cluster` (HTTP/2, STRICT_DNS) pointing at
 * the control plane, and CDS and LDS over ADS (gRPC, API v3). Everything else comes from the control plane.
 *
 * `envoy.yaml` next to this file is {@link dockerSandboxBootstrap} written out for Docker users
 * (`test/sandbox-files.test.ts` keeps the two equal). Without Docker, render a loopback variant:
 *
 * ```sh
 * node --import tsx examples/sandbox/bootstrap.ts --control-plane-port 18000 --admin-port 19000 > /tmp/envoy.yaml
 * envoy -c /tmp/envoy.yaml
 * ```
 *
 * @module
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

/** Names and ports the sandbox guide uses. */
export const SANDBOX = {
  nodeId: 'test-id',
  nodeCluster: 'test-cluster',
  /** Static cluster of the control plane, named by the ADS config source. */
  xdsClusterName: 'xds_cluster',
  /** The control plane's service name in docker-compose.yaml. */
  dockerControlPlaneHost: 'control-plane',
  controlPlanePort: 18000,
  adminPort: 19000,
  /** Port of the listener the control plane sends (`listener_0`). */
  listenerPort: 10000,
} as const;

/** Backoff of Envoy's reconnects to the control plane. */
export interface XdsRetry {
  /** First retry delay, in milliseconds. */
  baseIntervalMs: number;
  /** Longest retry delay, in milliseconds (Envoy's default: 10 × base). */
  maxIntervalMs?: number;
}

/** Options of {@link sandboxBootstrap}. All have the sandbox's values, on loopback, as defaults. */
export interface SandboxBootstrapOptions {
  /** `node.id`; default `test-id`, the node the control plane sets its snapshot for. */
  nodeId?: string;
  /** `node.cluster`; default `test-cluster`. */
  nodeCluster?: string;
  /** Host of the control plane; default `127.0.0.1` (`control-plane` under Docker). */
  controlPlaneHost?: string;
  /** Port of the control plane; default 18000. */
  controlPlanePort?: number;
  /** Address of the admin API; default `127.0.0.1` (`0.0.0.0` under Docker, to publish it). */
  adminHost?: string;
  /** Port of the admin API; default 19000. */
  adminPort?: number;
  /**
   * Reconnect backoff to the control plane; default 500 ms doubling to 5 s, so that Envoy started before
   * the control plane (step 1 of the guide) picks it up within seconds. `null`: Envoy's own default
   * (500 ms to 30 s).
   */
  xdsRetry?: XdsRetry | null;
}

/** A bootstrap as a plain object in Envoy's YAML/JSON shape (field names as in the `.proto`). */
export type BootstrapObject = Record<string, unknown>;

function duration(ms: number): string {
  return `${ms / 1000}s`;
}

/**
 * The sandbox bootstrap with the given addresses (defaults: loopback, the sandbox's ports).
 *
 * @param options - addresses, node, reconnect backoff.
 */
export function sandboxBootstrap(options: SandboxBootstrapOptions = {}): BootstrapObject {
  const retry = options.xdsRetry === undefined ? { baseIntervalMs: 500, maxIntervalMs: 5_000 } : options.xdsRetry;
  const envoyGrpc: Record<string, unknown> = { cluster_name: SANDBOX.xdsClusterName };
  if (retry) {
    envoyGrpc['retry_policy'] = {
      retry_back_off: {
        base_interval: duration(retry.baseIntervalMs),
        ...(retry.maxIntervalMs !== undefined ? { max_interval: duration(retry.maxIntervalMs) } : {}),
      },
    };
  }
  return {
    node: { id: options.nodeId ?? SANDBOX.nodeId, cluster: options.nodeCluster ?? SANDBOX.nodeCluster },
    dynamic_resources: {
      ads_config: {
        api_type: 'GRPC',
        transport_api_version: 'V3',
        grpc_services: [{ envoy_grpc: envoyGrpc }],
      },
      cds_config: { resource_api_version: 'V3', ads: {} },
      lds_config: { resource_api_version: 'V3', ads: {} },
    },
    static_resources: {
      clusters: [
        {
          name: SANDBOX.xdsClusterName,
          type: 'STRICT_DNS',
          connect_timeout: '1s',
          // xDS is gRPC, so HTTP/2 to the control plane (the cluster-level http2_protocol_options is deprecated).
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
          load_assignment: {
            cluster_name: SANDBOX.xdsClusterName,
            endpoints: [
              {
                lb_endpoints: [
                  {
                    endpoint: {
                      address: {
                        socket_address: {
                          address: options.controlPlaneHost ?? '127.0.0.1',
                          port_value: options.controlPlanePort ?? SANDBOX.controlPlanePort,
                        },
                      },
                    },
                  },
                ],
              },
            ],
          },
        },
      ],
    },
    admin: {
      address: {
        socket_address: { address: options.adminHost ?? '127.0.0.1', port_value: options.adminPort ?? SANDBOX.adminPort },
      },
    },
  };
}

/** The bootstrap of `envoy.yaml`: control plane at `control-plane:18000`, admin published on `0.0.0.0:19000`. */
export function dockerSandboxBootstrap(): BootstrapObject {
  return sandboxBootstrap({ controlPlaneHost: SANDBOX.dockerControlPlaneHost, adminHost: '0.0.0.0' });
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'control-plane-host': { type: 'string' },
      'control-plane-port': { type: 'string' },
      'admin-host': { type: 'string' },
      'admin-port': { type: 'string' },
      'node-id': { type: 'string' },
      docker: { type: 'boolean' },
      json: { type: 'boolean' },
    },
  });
  const port = (text: string | undefined): number | undefined => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`not a port: ${text}`);
    return n;
  };
  const options: SandboxBootstrapOptions = values.docker
    ? { controlPlaneHost: SANDBOX.dockerControlPlaneHost, adminHost: '0.0.0.0' }
    : {};
  const set = <K extends keyof SandboxBootstrapOptions>(key: K, value: SandboxBootstrapOptions[K] | undefined): void => {
    if (value !== undefined) options[key] = value;
  };
  set('controlPlaneHost', values['control-plane-host']);
  set('controlPlanePort', port(values['control-plane-port']));
  set('adminHost', values['admin-host']);
  set('adminPort', port(values['admin-port']));
  set('nodeId', values['node-id']);
  const bootstrap = sandboxBootstrap(options);
  if (values.json) {
    process.stdout.write(`${JSON.stringify(bootstrap, null, 2)}\n`);
  } else {
    // yaml is a devDependency: loaded only here, so importing this module needs no YAML library.
    const { stringify } = await import('yaml');
    process.stdout.write(stringify(bootstrap));
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(process.argv.slice(2));
}
