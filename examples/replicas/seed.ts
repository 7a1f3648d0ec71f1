// Writes a sample configuration into etcd for the replicas to serve: an HTTP listener whose routes come over RDS, a
// route sending everything to the cluster `upstream`, and that cluster with its endpoints over EDS. One etcd
// transaction writes every key, so replicas never see half of it.
//
//   node --conditions=xds-source --import tsx examples/replicas/seed.ts --etcd http://127.0.0.1:2379 --prefix /xds/ \
//     --listener-port 10000 --upstream 127.0.0.1:8080[,127.0.0.1:8081] [--clear]
//
// --clear deletes everything under the prefix in the same transaction.
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Etcd3 } from 'etcd3';
import { ExtensionTypeUrl } from 'xds-control-plane/resource';
import type { Folder } from './config.js';

/** Names used by the sample configuration. */
export const SAMPLE = { cluster: 'upstream', route: 'local_route', listener: 'http' } as const;

/** A configuration to write: resources by `<folder>/<name>` (the key without its prefix). */
export type StoredConfig = Record<`${Folder}/${string}`, object>;

/** ADS as the config source of RDS and EDS. */
const ADS = { ads: {}, resource_api_version: 'V3' } as const;

/** A host and port, `127.0.0.1:8080`. */
export interface Address {
  readonly host: string;
  readonly port: number;
}

/**
 * Parses `host:port[,host:port…]`.
 *
 * @param text - the list
 */
export function parseAddresses(text: string): Address[] {
  return text.split(',').filter(Boolean).map((entry) => {
    const at = entry.lastIndexOf(':');
    const port = Number(entry.slice(at + 1));
    if (at <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`expected host:port, got ${JSON.stringify(entry)}`);
    return { host: entry.slice(0, at), port };
  });
}

/** The endpoints of the sample's cluster: one `ClusterLoadAssignment`. */
export function sampleEndpoints(upstreams: readonly Address[]): object {
  return {
    cluster_name: SAMPLE.cluster,
    endpoints: [{ lb_endpoints: upstreams.map(({ host, port }) => ({ endpoint: { address: { socket_address: { address: host, port_value: port } } } })) }],
  };
}

/** The sample's route configuration: every path of every domain to `cluster`. */
export function sampleRoute(cluster: string): object {
  return {
    name: SAMPLE.route,
    virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster } }] }],
  };
}

/**
 * The sample configuration: listener on `listenerPort` (127.0.0.1 unless `listenerHost`), route, cluster and
 * endpoints.
 */
export function sampleConfig(options: { listenerPort: number; listenerHost?: string; upstreams: readonly Address[] }): StoredConfig {
  return {
    [`clusters/${SAMPLE.cluster}`]: {
      name: SAMPLE.cluster,
      type: 'EDS',
      connect_timeout: '1s',
      eds_cluster_config: { eds_config: ADS },
    },
    [`endpoints/${SAMPLE.cluster}`]: sampleEndpoints(options.upstreams),
    [`routes/${SAMPLE.route}`]: sampleRoute(SAMPLE.cluster),
    [`listeners/${SAMPLE.listener}`]: {
      name: SAMPLE.listener,
      address: { socket_address: { address: options.listenerHost ?? '127.0.0.1', port_value: options.listenerPort } },
      filter_chains: [
        {
          filters: [
            {
              name: 'envoy.filters.network.http_connection_manager',
              typed_config: {
                '@type': ExtensionTypeUrl.HTTPConnectionManager,
                stat_prefix: 'ingress_http',
                rds: { route_config_name: SAMPLE.route, config_source: ADS },
                http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ExtensionTypeUrl.Router } }],
              },
            },
          ],
        },
      ],
    },
  };
}

/** The first key after every key that starts with `prefix` (etcd's range end for a prefix). */
function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i]++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]); // the prefix is all 0xff: to the end of the key space
}

/**
 * Writes `config` under `prefix` in one transaction, each value as JSON; with `clear`, first deletes every key
 * under the prefix in the same transaction. Resolves to the store revision after the write.
 *
 * @param client - an etcd client
 * @param prefix - the key prefix, e.g. `/xds/`
 * @param config - resources by `<folder>/<name>`
 * @param options - `clear`: delete the prefix's other keys
 */
export async function writeConfig(client: Etcd3, prefix: string, config: StoredConfig, options: { clear?: boolean } = {}): Promise<string> {
  const key = Buffer.from(prefix, 'utf8');
  const puts = Object.entries(config).map(([path, resource]) => ({
    request_put: { key: Buffer.from(`${prefix}${path}`, 'utf8'), value: Buffer.from(JSON.stringify(resource), 'utf8') },
  }));
  const clear = options.clear ? [{ request_delete_range: { key, range_end: prefixEnd(key) } }] : [];
  const result = await client.kv.txn({ compare: [], success: [...clear, ...puts], failure: [] });
  return result.header.revision;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: {
      etcd: { type: 'string', default: 'http://127.0.0.1:2379' },
      prefix: { type: 'string', default: '/xds/' },
      'listener-port': { type: 'string', default: '10000' },
      upstream: { type: 'string', default: '127.0.0.1:8080' },
      clear: { type: 'boolean', default: false },
    },
  });
  const client = new Etcd3({ hosts: values.etcd.split(',').filter(Boolean) });
  try {
    const config = sampleConfig({ listenerPort: Number(values['listener-port']), upstreams: parseAddresses(values.upstream) });
    const revision = await writeConfig(client, values.prefix, config, { clear: values.clear });
    console.log(`wrote ${Object.keys(config).length} keys under ${JSON.stringify(values.prefix)} at revision ${revision}:`);
    for (const path of Object.keys(config)) console.log(`  ${values.prefix}${path}`);
  } finally {
    client.close();
  }
}
