/**
 * A real etcd for tests: finds the binary (Debian's `etcd-server` package), runs a one-member cluster on free
 * loopback ports with a temp data directory, and removes both when stopped.
 *
 * Where etcd comes from: `ETCD_BIN`, else `etcd` on `PATH`. Without it, tests that need it are reported as not run
 * (see {@link etcdSkipReason}), unless `XDS_REQUIRE_ETCD=1` (CI sets it), where they fail.
 *
 * @module
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './ports.js';

/** How to get etcd, said wherever it is missing. */
export const HOW_TO_GET_ETCD = 'install it with `apt-get install etcd-server` (Debian) or set ETCD_BIN to an etcd binary';

/** The etcd binary to run and its version, or why there is none. */
export function locateEtcd(env: NodeJS.ProcessEnv = process.env): { path: string; version: string } | string {
  const explicit = env['ETCD_BIN'];
  const candidates = explicit ? [explicit] : (env['PATH'] ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, 'etcd'));
  const problems: string[] = [];
  for (const path of candidates) {
    const run = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 10_000 });
    if (run.error) {
      if ((run.error as NodeJS.ErrnoException).code !== 'ENOENT' || explicit) problems.push(`${path}: ${run.error.message}`);
      continue;
    }
    const version = /etcd Version:\s*(\S+)/.exec(run.stdout)?.[1];
    if (run.status === 0 && version) return { path, version };
    problems.push(`${path} --version did not say its version: ${(run.stdout + run.stderr).trim().slice(0, 200)}`);
  }
  return `no etcd binary found${problems.length ? ` (${problems.join('; ')})` : ' on PATH'}`;
}

let located: ReturnType<typeof locateEtcd> | undefined;

/** Whether tests must fail rather than skip without etcd (`XDS_REQUIRE_ETCD=1`). */
export function etcdRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  return env['XDS_REQUIRE_ETCD'] === '1';
}

/**
 * Why etcd tests must be skipped, or `undefined` when they can run (also when etcd is missing but required, so
 * that {@link startEtcd} fails the test).
 */
export function etcdSkipReason(): string | undefined {
  located ??= locateEtcd();
  if (typeof located !== 'string' || etcdRequired()) return undefined;
  return `etcd tests did not run: ${located}; ${HOW_TO_GET_ETCD}`;
}

/** A running etcd started by {@link startEtcd}. */
export interface EtcdInstance {
  /** `http://127.0.0.1:<client port>`. */
  readonly url: string;
  /** Its version, e.g. `3.4.23`. */
  readonly version: string;
  /** Its log so far. */
  log(): string;
  /** Stops it (SIGTERM, SIGKILL after 5 s) and removes its data directory. Idempotent. */
  stop(): Promise<void>;
  /** Stops it and starts it again on the same ports with the same data (its clients see it go away and come back). */
  restart(): Promise<void>;
}

function health(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(`${url}/health`, { agent: false, timeout: 2_000 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      res.on('end', () => resolve(res.statusCode === 200 && /"health":\s*"true"/.test(body)));
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

/**
 * Starts a one-member etcd cluster on free loopback ports with a fresh data directory and resolves once it
 * reports itself healthy. Throws with its log tail if it does not come up within `startTimeoutMs`.
 */
export async function startEtcd(options: { startTimeoutMs?: number } = {}): Promise<EtcdInstance> {
  located ??= locateEtcd();
  if (typeof located === 'string') {
    throw new Error(`${etcdRequired() ? 'XDS_REQUIRE_ETCD=1 but ' : ''}${located}; ${HOW_TO_GET_ETCD}`);
  }
  const { path, version } = located;
  const dir = mkdtempSync(join(tmpdir(), 'xds-etcd-'));
  const logFile = join(dir, 'etcd.log');
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const args = [
    '--name', 'test',
    '--data-dir', join(dir, 'data'),
    '--listen-client-urls', url,
    '--advertise-client-urls', url,
    '--listen-peer-urls', peer,
    '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `test=${peer}`,
    '--logger', 'zap',
    '--log-level', 'warn',
  ];
  const log = (): string => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  const startTimeoutMs = options.startTimeoutMs ?? 20_000;

  let running = await launch(path, args, logFile);
  const waitHealthy = async (): Promise<void> => {
    const deadline = Date.now() + startTimeoutMs;
    while (!(await health(url))) {
      if (running.exited || Date.now() > deadline) {
        const tail = log().trimEnd().split('\n').slice(-20).join('\n');
        await running.kill();
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`etcd ${running.exited ? 'exited during start-up' : 'not healthy in time'} (${url}); its log ends with:\n${tail}`);
      }
      await sleep(50);
    }
  };
  await waitHealthy();

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await running.kill();
      rmSync(dir, { recursive: true, force: true });
    })());
  const restart = async (): Promise<void> => {
    if (stopping) throw new Error('etcd was stopped');
    await running.kill();
    running = await launch(path, args, logFile);
    await waitHealthy();
  };
  return { url, version, log, stop, restart };
}

/** An etcd process: whether it has exited, and a way to end it (SIGTERM, SIGKILL after 5 s). */
interface EtcdProcess {
  readonly exited: boolean;
  kill(): Promise<void>;
}

async function launch(path: string, args: readonly string[], logFile: string): Promise<EtcdProcess> {
  const logFd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(path, args, { stdio: ['ignore', logFd, logFd] });
  } finally {
    closeSync(logFd);
  }
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    const done = (): void => {
      exited = true;
      resolve();
    };
    child.once('exit', done);
    child.once('error', done);
  });
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit); // a test process that dies leaves no etcd behind
  return {
    get exited() {
      return exited;
    },
    kill: async () => {
      if (!exited) {
        child.kill('SIGTERM');
        if ((await Promise.race([exit.then(() => 'exited'), sleep(5_000, 'timeout', { ref: false })])) === 'timeout') {
          child.kill('SIGKILL');
          await exit;
        }
      }
      process.off('exit', killOnExit);
    },
  };
}
