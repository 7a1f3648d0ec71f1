/**
 * Checks that bench/fleet/resources.ts builds the same resources as the Go reference server: runs the Go
 * server with `-dump` for a small shape and a sequence of changes, and compares its ProtoJSON output with
 * {@link FleetGenerator}'s, after sorting object keys. Exit code 0 when identical.
 *
 * Run: `node --import tsx bench/fleet/check-resources.ts` (the orchestrator runs it in `--smoke`).
 *
 * @packageDocumentation
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FleetGenerator, type FleetChange, type FleetShape } from './resources.js';
import { REPO_ROOT } from './servers.js';

/** Canonical JSON: object keys sorted at every level. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/**
 * Compares the two generators; returns the list of differences (empty when identical).
 * @param goBinary - a built bench/go-reference binary, or undefined to use `go run`.
 */
export function checkResources(goBinary?: string): string[] {
  const shape: FleetShape = { clusters: 12, listeners: 2, endpoints: 3 };
  const changes: FleetChange[] = ['none', 'one-endpoint', 'all', 'one-endpoint', 'none'];
  const args = ['-dump', changes.join(','), '-clusters', String(shape.clusters), '-listeners', String(shape.listeners), '-endpoints', String(shape.endpoints)];
  const run = goBinary
    ? spawnSync(goBinary, args, { encoding: 'utf8', timeout: 60_000 })
    : spawnSync('go', ['run', '.', ...args], { cwd: join(REPO_ROOT, 'bench', 'go-reference'), encoding: 'utf8', timeout: 600_000 });
  if (run.status !== 0) return [`go-reference -dump failed: ${run.stderr}`];
  const lines = run.stdout.trim().split('\n');
  if (lines.length !== changes.length) return [`expected ${changes.length} dump lines, got ${lines.length}`];
  const gen = new FleetGenerator();
  const problems: string[] = [];
  changes.forEach((change, step) => {
    const go = JSON.parse(lines[step]) as Record<string, unknown[]>;
    const ts = gen.build(shape, change);
    for (const kind of ['clusters', 'endpoints', 'listeners', 'routes'] as const) {
      const a = go[kind] ?? [];
      const b = ts[kind];
      if (a.length !== b.length) problems.push(`step ${step} (${change}) ${kind}: go has ${a.length}, ts has ${b.length}`);
      for (let i = 0; i < Math.min(a.length, b.length); i++) {
        const ca = canonical(a[i]);
        const cb = canonical(b[i]);
        if (ca !== cb) problems.push(`step ${step} (${change}) ${kind}[${i}] differs:\n  go ${ca}\n  ts ${cb}`);
      }
    }
  });
  return problems;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const problems = checkResources(process.argv[2]);
  for (const p of problems) console.log(p);
  console.log(problems.length === 0 ? 'resources: go-reference and resources.ts build identical resources' : `${problems.length} difference(s)`);
  process.exitCode = problems.length === 0 ? 0 : 1;
}
