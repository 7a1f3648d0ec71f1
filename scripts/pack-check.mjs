#!/usr/bin/env node
// Packs the library, installs the tarball into a temporary project, imports every subpath from Node and
// typechecks a small TypeScript file that uses the types: what a user gets from `npm install`.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'xds-pack-'));
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
try {
  const tarball = run('npm', ['pack', '--silent', '--pack-destination', work], repo).trim().split('\n').pop();
  writeFileSync(join(work, 'package.json'), JSON.stringify({ name: 'pack-check', private: true, type: 'module' }));
  run('npm', ['install', '--silent', '--no-audit', '--no-fund', join(work, tarball), `typescript@${JSON.parse(run('node', ['-p', 'JSON.stringify(require("./package.json").devDependencies.typescript)'], repo))}`, '@types/node@20'], work);
  // Source maps (and declaration maps) lead to sources that are in the package: stack traces and
  // go-to-definition show our TypeScript, not a missing file.
  const installed = join(work, 'node_modules', 'xds-control-plane');
  const maps = readdirSync(join(installed, 'dist'), { recursive: true }).filter((f) => f.endsWith('.map'));
  const missing = maps.flatMap((map) =>
    JSON.parse(readFileSync(join(installed, 'dist', map), 'utf8')).sources
      .map((source) => join(dirname(join(installed, 'dist', map)), source))
      .filter((source) => !existsSync(source)),
  );
  if (maps.length === 0 || missing.length > 0) throw new Error(`source maps without their sources: ${missing.slice(0, 5).join(', ') || 'no maps at all'}`);
  console.log(`${maps.length} source maps, every source shipped`);
  // The core subpaths load without prom-client (an optional peer dependency that only /metrics imports).
  const imports = ['cache', 'server', 'resource', 'types'];
  writeFileSync(join(work, 'imports.mjs'), imports.map((s) => `const m_${s} = await import('xds-control-plane/${s}'); console.log('${s}:', Object.keys(m_${s}).length, 'exports');`).join('\n'));
  process.stdout.write(run('node', ['imports.mjs'], work));
  const promClient = JSON.parse(run('node', ['-p', 'JSON.stringify(require("./package.json").devDependencies["prom-client"])'], repo));
  run('npm', ['install', '--silent', '--no-audit', '--no-fund', `prom-client@${promClient}`], work);
  writeFileSync(join(work, 'metrics.mjs'), `const m = await import('xds-control-plane/metrics'); console.log('metrics:', Object.keys(m).length, 'exports');`);
  process.stdout.write(run('node', ['metrics.mjs'], work));
  writeFileSync(join(work, 'use.ts'), `
import { TypeUrl, encodeMessage, decodeMessage } from 'xds-control-plane/resource';
import type { Cluster } from 'xds-control-plane/types';
import * as cache from 'xds-control-plane/cache';
import * as server from 'xds-control-plane/server';
import { createPrometheusMetrics } from 'xds-control-plane/metrics';
import { Registry } from 'prom-client';
const metrics = createPrometheusMetrics({ registry: new Registry() });
const xds = server.createServer(new cache.SnapshotCache(), { csds: true, health: true, callbacks: metrics.callbacks });
metrics.observeServer(xds);
const cluster: Cluster = { name: 'web', connect_timeout: '5s', type: 'EDS', eds_cluster_config: { eds_config: { ads: {} } } };
const bytes: Buffer = encodeMessage(TypeUrl.Cluster, cluster);
const back = decodeMessage(TypeUrl.Cluster, bytes);
if (back['name'] !== 'web') throw new Error('round trip failed');
void cache; void server;
// @ts-expect-error: connect_timeout is a duration string, not a number
const wrong: Cluster = { name: 'x', connect_timeout: 5 };
void wrong;
`);
  writeFileSync(join(work, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, exactOptionalPropertyTypes: true, types: ['node'] }, files: ['use.ts'] }));
  run('npx', ['tsc', '-p', '.'], work);
  console.log('pack check: every subpath imports from the tarball and use.ts typechecks');
} finally {
  rmSync(work, { recursive: true, force: true });
}
