// docs/recipes/yaml-directory.md: its program (the page's own code block, with the page's setup) reloads the
// directory when a file changes, and keeps the previous snapshot when an edit is invalid.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { docBlocks } from './support/doc-blocks.js';

test('the YAML directory recipe reloads on a change and keeps the previous configuration on a bad edit', () => {
  const [block] = docBlocks('docs/recipes/yaml-directory.md', readFileSync('docs/recipes/yaml-directory.md', 'utf8'));
  assert.ok(block?.setup.includes('configDir'), 'the page has a setup that makes configDir');
  const code = block.code.replace("'0.0.0.0:18000'", "'127.0.0.1:0'");
  const steps = `
const clusters = () => cache.getSnapshot('all')?.getResources('type.googleapis.com/envoy.config.cluster.v3.Cluster');
const settle = () => new Promise((resolve) => setTimeout(resolve, 1_000));
console.log('start', [...(clusters()?.keys() ?? [])].join(','));
writeFileSync(\`\${configDir}/frontend.yaml\`, 'resources:\\n  - "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster\\n    name: frontend\\n    connect_timeout: 2s\\n    type: STRICT_DNS\\n');
await settle();
console.log('added', [...(clusters()?.keys() ?? [])].join(','));
writeFileSync(\`\${configDir}/frontend.yaml\`, 'resources:\\n  - "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster\\n    name: frontend\\n    conect_timeout: 2s\\n');
await settle();
console.log('after bad edit', [...(clusters()?.keys() ?? [])].join(','));
process.exit(0);
`;
  const file = '.yaml-directory-recipe.ts';
  writeFileSync(file, `${block.setup}\n${code}\n${steps}\nexport {};\n`);
  try {
    const run = spawnSync(process.execPath, ['--conditions=xds-source', '--import', 'tsx', file], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^start backend$/m);
    assert.match(run.stdout, /reloaded/);
    assert.match(run.stdout, /^added backend,frontend$/m);
    assert.match(run.stderr, /kept the previous configuration: .*conect_timeout/);
    assert.match(run.stdout, /^after bad edit backend,frontend$/m);
  } finally {
    rmSync(file, { force: true });
  }
});
