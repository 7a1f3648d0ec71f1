// What `npm pack` ships: the links in its Markdown work from the npm page and from node_modules (a relative link
// names a file in the package; anything else is an absolute link to a file of the repository), and the license
// package.json names is there. (scripts/pack-check.mjs checks that the shipped source maps find their sources.)
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { test } from 'node:test';

interface PackageJson {
  license: string;
  repository: { url: string };
  homepage: string;
  bugs: { url: string };
}

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as PackageJson;
/** `https://github.com/OWNER/NAME`, from `repository.url`. */
const repositoryPage = pkg.repository.url.replace(/^git\+/, '').replace(/\.git$/, '');

/** Paths `npm pack` would put in the tarball (without building: links never point into dist/). */
function packedFiles(): string[] {
  const run = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.status, 0, run.stderr);
  const [report] = JSON.parse(run.stdout) as [{ files: { path: string }[] }];
  return report.files.map((f) => f.path);
}

/** Markdown links `[text](target)`, outside code blocks. */
function links(markdown: string): string[] {
  const prose = markdown.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1] ?? '');
}

test('package.json names the repository, homepage and issue tracker, and LICENSE is the Apache-2.0 text it names', () => {
  assert.match(repositoryPage, /^https:\/\/github\.com\/[\w.-]+\/[\w.-]+$/);
  assert.ok(pkg.homepage.startsWith(repositoryPage));
  assert.equal(pkg.bugs.url, `${repositoryPage}/issues`);
  assert.equal(pkg.license, 'Apache-2.0');
  const license = readFileSync('LICENSE', 'utf8');
  assert.match(license, /Apache License\s+Version 2\.0, January 2004/);
  assert.match(license, /END OF TERMS AND CONDITIONS/);
});

test('every link in the packed Markdown resolves: relative ones inside the package, absolute ones to repository files', () => {
  const files = packedFiles();
  assert.ok(files.includes('LICENSE'));
  const shipped = new Set(files);
  const shippedDirs = new Set(files.flatMap((f) => f.split('/').slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join('/'))));
  const broken: string[] = [];
  for (const file of files.filter((f) => f.endsWith('.md'))) {
    for (const target of links(readFileSync(file, 'utf8'))) {
      const path = target.split('#')[0] ?? '';
      if (path === '' || /^mailto:/.test(path)) continue;
      if (path.startsWith(`${repositoryPage}/`)) {
        const inRepo = /^\/(?:blob|tree)\/main\/(.+)$/.exec(path.slice(repositoryPage.length))?.[1];
        if (inRepo === undefined || !existsSync(inRepo)) broken.push(`${file}: ${target} (no such file in the repository)`);
      } else if (!/^https?:\/\//.test(path)) {
        const resolved = normalize(join(dirname(file), path)).replace(/\/$/, '');
        if (!shipped.has(resolved) && !shippedDirs.has(resolved)) {
          broken.push(`${file}: ${target} (${resolved} is not in the package: ship it or link to ${repositoryPage}/blob/main/${resolved})`);
        }
      }
    }
  }
  assert.deepEqual(broken, []);
});
