#!/usr/bin/env node
// Runs the test suite with Node's built-in runner: every test/**/*.test.ts (TypeScript through tsx).
// Arguments narrow the run to files whose path contains one of them: `npm test -- cache server`.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

function collect(dir) {
  const out = [];
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...collect(path));
    else if (entry.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const filters = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const flags = process.argv.slice(2).filter((a) => a.startsWith('-'));
const files = collect('test')
  .map((f) => relative('.', f))
  .filter((f) => filters.length === 0 || filters.some((p) => f.includes(p)));
if (files.length === 0) {
  console.error(`no test files match ${filters.join(', ')}`);
  process.exit(1);
}
// Bounds: a test that hangs fails after 3 minutes; a test file whose process does not exit, after 20 minutes in all.
const SUITE_TIMEOUT_MS = 20 * 60 * 1000;
const result = spawnSync(
  process.execPath,
  ['--conditions=xds-source', '--import', 'tsx', '--test', '--test-reporter=spec', '--test-timeout=180000', ...flags, ...files],
  { stdio: 'inherit', timeout: SUITE_TIMEOUT_MS, killSignal: 'SIGKILL' },
);
if (result.error) console.error(`test run stopped: ${result.error.message}`);
process.exit(result.status ?? 1);
