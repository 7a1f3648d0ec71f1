// The README's example runs as written (with a free port instead of 18000, and the server closed at the end).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';

test('the README example runs', () => {
  const readme = readFileSync('README.md', 'utf8');
  const block = /## Example\n\n```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(block, 'README has an Example section with a ts block');
  assert.match(block, /listen\('0\.0\.0\.0:18000'\)/);
  const program = `${block.replace("'0.0.0.0:18000'", "'127.0.0.1:0'")}\nawait xds.close({ deadlineMs: 100 });\nconsole.log('example ran');\n`;
  // Inside the package, so that `xds-control-plane/...` resolves to this package as it does for users.
  const file = '.readme-example.ts';
  const config = '.readme-tsconfig.json';
  writeFileSync(file, program);
  try {
    const run = spawnSync(process.execPath, ['--conditions=xds-source', '--import', 'tsx', file], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /example ran/);
    writeFileSync(config, JSON.stringify({ extends: './tsconfig.json', include: [], files: [file] }));
    const typecheck = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '--noEmit', '-p', config], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(typecheck.status, 0, `the example typechecks: ${typecheck.stdout}`);
  } finally {
    rmSync(file, { force: true });
    rmSync(config, { force: true });
  }
});
