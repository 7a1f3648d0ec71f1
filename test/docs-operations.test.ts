// docs/operations.md's program runs as written and typechecks, as a user's file inside a project would.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';

test("docs/operations.md's program runs: CSDS, health, /status and /metrics", () => {
  const doc = readFileSync('docs/operations.md', 'utf8');
  const block = /## All of it in one program\n\n```ts\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(block, 'docs/operations.md has the program in a ts block');
  // Inside the package, so that `xds-control-plane/...` resolves to this package as it does for users.
  const file = '.operations-example.ts';
  const config = '.operations-tsconfig.json';
  writeFileSync(file, block);
  try {
    const run = spawnSync(process.execPath, ['--conditions=xds-source', '--import', 'tsx', file], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^xDS, CSDS and health on \d+; \/status and \/metrics on \d+$/m);
    assert.match(run.stdout, /^no node is connected$/m);
    writeFileSync(config, JSON.stringify({ extends: './tsconfig.json', include: [], files: [file] }));
    const typecheck = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '--noEmit', '-p', config], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(typecheck.status, 0, `the program typechecks: ${typecheck.stdout}`);
  } finally {
    rmSync(file, { force: true });
    rmSync(config, { force: true });
  }
});
