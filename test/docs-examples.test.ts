// Every ```ts block of README.md and docs/**/*.md is typechecked and run, inside the package so that
// `xds-control-plane/...` resolves to it as it does for users.
//
// Each block is a program of its own (a module, so top-level await works). An HTML comment just before a block
// can change that, invisibly on GitHub and npm:
//   <!-- doc-test: setup
//   const caPem = ...;            code put before the block (what the page says the reader already has)
//   -->
//   <!-- doc-test: typecheck only: needs a Kubernetes API server -->   typechecked, not run (say why); setup
//                                                                       lines may follow the reason
// So that runs never use fixed ports, listen addresses and ports in blocks are rewritten to port 0
// ('0.0.0.0:18000' -> '127.0.0.1:0', listenRest(18001) -> listenRest(0), .listen(8080, host) -> .listen(0, host)), and the
// program exits once its top level is done (a control plane would otherwise serve forever).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { docBlocks, type DocBlock } from './support/doc-blocks.js';

function markdownFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((entry) => {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) return path === join('docs', 'api') ? [] : markdownFiles(path);
      return entry.endsWith('.md') ? [path] : [];
    });
}

function program(block: DocBlock): string {
  const code = block.code
    .replace(/'(?:0\.0\.0\.0|127\.0\.0\.1|localhost|\[::\]):\d+'/g, "'127.0.0.1:0'")
    .replace(/\blistenRest\(\d+([,)])/g, 'listenRest(0$1')
    .replace(/\.listen\(\d{4,5}([,)])/g, '.listen(0$1');
  const exit = block.typecheckOnly ? '' : '\nprocess.exit(0);';
  return `// ${block.where}\n${block.setup}\n${code}\n${exit}\nexport {};\n`;
}

const files = ['README.md', ...markdownFiles('docs')];
const blocks = files.flatMap((file) => docBlocks(file, readFileSync(file, 'utf8')));
const dir = '.doc-examples';
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir);
after(() => rmSync(dir, { recursive: true, force: true }));
const programs = blocks.map((block, i) => {
  const path = join(dir, `${String(i).padStart(3, '0')}-${block.where.replace(/[^\w]+/g, '-')}.ts`);
  writeFileSync(path, program(block));
  return { block, path };
});

test('README.md and the docs have TypeScript examples, and a block opts out of running only with a reason', () => {
  assert.ok(blocks.some((b) => b.where.startsWith('README.md')), 'README.md has a ts block');
  assert.ok(blocks.length >= 10, `found ${blocks.length} blocks`);
  for (const block of blocks) if (block.typecheckOnly !== undefined) assert.ok(block.typecheckOnly.trim().length > 5, block.where);
});

test('the example programs listen on port 0 only (fixed ports of the docs are rewritten)', () => {
  for (const { block, path } of programs) {
    assert.doesNotMatch(readFileSync(path, 'utf8'), /\.listen\(\s*[1-9]\d*\s*[,)]|listenRest\([1-9]|'(?:0\.0\.0\.0|127\.0\.0\.1|localhost):[1-9]\d*'/, block.where);
  }
});

test('every TypeScript example in README.md and docs/ typechecks', () => {
  const config = join(dir, 'tsconfig.json');
  writeFileSync(config, JSON.stringify({ extends: '../tsconfig.json', compilerOptions: { noUnusedLocals: false, noUnusedParameters: false }, include: [], files: programs.map((p) => p.path.slice(dir.length + 1)) }));
  const run = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '--noEmit', '-p', config], { encoding: 'utf8', timeout: 300_000 });
  const errors = run.stdout.replace(/^\.doc-examples\/\d+-/gm, '');
  assert.equal(run.status, 0, `examples that do not typecheck:\n${errors}`);
});

for (const { block, path } of programs) {
  test(`the example at ${block.where} runs`, { skip: block.typecheckOnly ? `typecheck only: ${block.typecheckOnly}` : false }, () => {
    const run = spawnSync(process.execPath, ['--conditions=xds-source', '--import', 'tsx', path], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.status, 0, `${block.where} failed:\n${run.stderr}${run.stdout}`);
  });
}

test('the README CommonJS example loads the package with import() and runs', () => {
  const block = /```js\n(\/\/ \S+\.cjs\n[\s\S]*?)```/.exec(readFileSync('README.md', 'utf8'))?.[1];
  assert.ok(block, 'README.md has a ```js block starting with // NAME.cjs');
  const path = join(dir, 'commonjs-example.cjs');
  writeFileSync(path, block.replace("'0.0.0.0:18000'", "'127.0.0.1:0'").replace('main();', 'main().then(() => process.exit(0));'));
  const run = spawnSync(process.execPath, ['--conditions=xds-source', '--import', 'tsx', path], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /xDS on port \d+/);
});
