#!/usr/bin/env node
// What the package costs a user before it does anything: import time and heap of each subpath, the time to
// build a first snapshot, the packed tarball's size, and how long tsc takes to typecheck a small consumer file.
// Measures the built package (run `npm run build` first); each number is the median of --runs fresh processes.
//
//   npm run build && node scripts/measure-load.mjs [--runs 5] [--repo DIR]   (DIR: another built checkout, to compare)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, repo: { type: 'string' } } });
const repo = resolve(values.repo ?? join(import.meta.dirname, '..'));
const runs = Number(values.runs);
const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const work = mkdtempSync(join(tmpdir(), 'xds-measure-'));
mkdirSync(join(work, 'node_modules'));
symlinkSync(repo, join(work, 'node_modules', 'xds-control-plane'));
writeFileSync(join(work, 'package.json'), JSON.stringify({ name: 'measure', private: true, type: 'module' }));

function probe(body) {
  const file = join(work, `probe-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(file, body);
  const out = execFileSync(process.execPath, ['--expose-gc', file], { cwd: work, encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop());
}

try {
  console.log(`median of ${runs} fresh processes each`);
  for (const subpath of ['resource', 'types', 'cache', 'server']) {
    const times = [];
    const cpus = [];
    const heaps = [];
    for (let i = 0; i < runs; i++) {
      const r = probe(`
        globalThis.gc(); const base = process.memoryUsage().heapUsed; const t0 = performance.now(); const c0 = process.cpuUsage();
        await import('xds-control-plane/${subpath}');
        const ms = performance.now() - t0; const c = process.cpuUsage(c0); globalThis.gc();
        console.log(JSON.stringify({ ms, cpu: (c.user + c.system) / 1000, heap: process.memoryUsage().heapUsed - base }));`);
      times.push(r.ms);
      cpus.push(r.cpu);
      heaps.push(r.heap);
    }
    console.log(`import xds-control-plane/${subpath}: ${median(times).toFixed(1)} ms (CPU ${median(cpus).toFixed(1)} ms), heap +${(median(heaps) / 1e6).toFixed(1)} MB`);
  }
  const first = [];
  const firstCpu = [];
  const firstHeap = [];
  for (let i = 0; i < runs; i++) {
    const r = probe(`
      const { Snapshot } = await import('xds-control-plane/cache');
      const { TypeUrl } = await import('xds-control-plane/resource');
      globalThis.gc(); const base = process.memoryUsage().heapUsed;
      const t0 = performance.now(); const c0 = process.cpuUsage();
      const hcm = { '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
        stat_prefix: 'ingress', rds: { route_config_name: 'r', config_source: { ads: {} } },
        http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }] };
      new Snapshot('1', {
        [TypeUrl.Cluster]: [{ name: 'c', connect_timeout: '1s', type: 'EDS', eds_cluster_config: { eds_config: { ads: {} } } }],
        [TypeUrl.Endpoint]: [{ cluster_name: 'c', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 8080 } } } }] }] }],
        [TypeUrl.Listener]: [{ name: 'l', address: { socket_address: { address: '0.0.0.0', port_value: 10000 } }, filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: hcm }] }] }],
        [TypeUrl.Route]: [{ name: 'r', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c' } }] }] }],
      });
      const ms = performance.now() - t0; const c = process.cpuUsage(c0); globalThis.gc();
      console.log(JSON.stringify({ ms, cpu: (c.user + c.system) / 1000, heap: process.memoryUsage().heapUsed - base }));`);
    first.push(r.ms);
    firstCpu.push(r.cpu);
    firstHeap.push(r.heap);
  }
  console.log(`first Snapshot (cluster, endpoints, listener with HCM + router, route) after import: ${median(first).toFixed(1)} ms (CPU ${median(firstCpu).toFixed(1)} ms), heap +${(median(firstHeap) / 1e6).toFixed(1)} MB`);

  const [pack] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  console.log(`tarball: ${(pack.size / 1e6).toFixed(2)} MB packed, ${(pack.unpackedSize / 1e6).toFixed(2)} MB unpacked, ${pack.entryCount} files`);

  writeFileSync(join(work, 'use.ts'), `
import { TypeUrl, encodeMessage } from 'xds-control-plane/resource';
import type { Cluster, Listener } from 'xds-control-plane/types';
const cluster: Cluster = { name: 'web', connect_timeout: '5s', type: 'EDS', eds_cluster_config: { eds_config: { ads: {} } } };
const listener: Listener = { name: 'l', address: { socket_address: { address: '0.0.0.0', port_value: 80 } } };
encodeMessage(TypeUrl.Cluster, cluster);
encodeMessage(TypeUrl.Listener, listener);
`);
  writeFileSync(join(work, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: true, types: [], typeRoots: [join(repo, 'node_modules', '@types')] }, files: ['use.ts'] }));
  const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
  const tscTimes = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    execFileSync(process.execPath, [tsc, '-p', '.'], { cwd: work, stdio: 'inherit' });
    tscTimes.push(performance.now() - t0);
  }
  console.log(`tsc typechecks a small consumer file (Cluster, Listener, encodeMessage): ${median(tscTimes).toFixed(0)} ms`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
