/**
 * Server processes of the fleet benchmark, and the plug point for each server under test.
 *
 * Every server is a separate process that speaks the same control protocol, one JSON object per line:
 *
 * - stdout, first line: `{"listening":PORT}` (it listens on 127.0.0.1:PORT, ADS SotW and delta, and already
 *   holds the initial snapshot, version `"1"`, of `--clusters`/`--listeners`/`--endpoints`, set for each node
 *   id `envoy-00000` … of `--nodes` (`--keying node`, as applications key snapshots) or once for a key every node
 *   maps to (`--keying fleet`)).
 * - stdin `{"op":"prepare","version":V,"clusters":M,"listeners":L,"endpoints":E,"change":C}`: builds the
 *   resources of the next snapshot (not measured). `C` is `none`, `one-endpoint` or `all`, applied to the
 *   generator state as in bench/fleet/resources.ts.
 * - stdin `{"op":"set","version":V}`: makes the snapshot of the prepared resources and sets it, for every node
 *   id or the one fleet key (measured);
 *   answers `{"ok":true,"op":"set","t0":UNIX_MS}`, t0 taken just before the snapshot is made.
 * - stdin `{"op":"stats"}`: answers `{"ok":true,"op":"stats","streams":S,"requests":R,"responses":P}`.
 * - stdin `{"op":"quit"}` or end of stdin: exits.
 *
 * @packageDocumentation
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** Repository root (two levels above this file). */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** What a server process is started with. */
export interface ServerSpec {
  /** Clusters (and endpoint assignments) of the initial snapshot. */
  readonly clusters: number;
  /** Listeners (and route configurations) of the initial snapshot. */
  readonly listeners: number;
  /** Endpoints per assignment. */
  readonly endpoints: number;
  /** Node ids `envoy-00000` … of the fleet: with keying `node`, each gets the snapshot under its own id. */
  readonly nodes: number;
  /** `node`: one `setSnapshot` per node id, as applications do; `fleet`: every node hashes to one key. */
  readonly keying: 'node' | 'fleet';
  /** Folder for build products and logs (gitignored). */
  readonly outDir: string;
  /** When set, servers that can (ours) write a CPU profile into this folder. */
  readonly profileDir?: string;
  /** Our servers only: make snapshots with `await Snapshot.create` (encoding in slices) instead of `new Snapshot`. */
  readonly sliced?: boolean;
  /** Our server only: serve the streams from this many worker processes (`ours+wK`, `base+wK`). */
  readonly workers?: number;
  /** The Go server only: its `GOMAXPROCS` (`go+pK`). */
  readonly gomaxprocs?: number;
}

/** A command of the control protocol. */
export type ServerCommand =
  | {
      readonly op: 'prepare';
      readonly version: string;
      readonly clusters: number;
      readonly listeners: number;
      readonly endpoints: number;
      readonly change: 'none' | 'one-endpoint' | 'all';
    }
  | { readonly op: 'set'; readonly version: string }
  /** `gc`: collect garbage (and give freed memory back to the OS) before answering, for a memory reading. */
  | { readonly op: 'stats'; readonly gc?: boolean }
  | { readonly op: 'quit' };

/** An answer of the control protocol. */
export interface ServerReply {
  readonly ok: boolean;
  readonly op?: string;
  readonly error?: string;
  /** `set`: wall clock (Unix ms) just before the snapshot was made. */
  readonly t0?: number;
  /** `prepare`/`set`: time the server spent, ms. */
  readonly ms?: number;
  /** `stats`: open xDS streams. */
  readonly streams?: number;
  readonly requests?: number;
  readonly responses?: number;
  /** `set` (ours): resources of the snapshot and encodes done while making and setting it. */
  readonly resources?: number;
  readonly encodes?: number;
  /** `set`, `stats` (ours): encodes since the last `set` per resource of its snapshot (encode once: 1). */
  readonly encodesPerResource?: number;
  /** `stats` (ours): event-loop delay since the last `set` (the push and the ACKs), ms. */
  readonly eventLoopDelayMaxMs?: number;
  readonly eventLoopDelayP99Ms?: number;
  /** `stats` (ours): V8 heap used, bytes. */
  readonly heapUsedBytes?: number;
  /** `stats` (ours): major (full) and minor garbage collections since the last `set`. */
  readonly majorGcs?: number;
  readonly minorGcs?: number;
  /** `stats` (ours): main-thread pause of those major collections, ms. */
  readonly majorGcMs?: number;
}

/** A running server process. */
export interface ServerProcess {
  readonly name: string;
  /** Process id of the server itself (its CPU and memory are read from /proc/PID). */
  readonly pid: number;
  /** Loopback port of its xDS service. */
  readonly port: number;
  /** Sends one command and waits for its answer (commands are answered in order). */
  request(cmd: ServerCommand, timeoutMs?: number): Promise<ServerReply>;
  /** Asks the server to quit, and kills it if it has not exited within a few seconds. */
  stop(): Promise<void>;
}

/** Starts one server process for a benchmark point. */
export type ServerStarter = (spec: ServerSpec) => Promise<ServerProcess>;

/** Every child process started here, killed on exit whatever happens. */
const children = new Set<ChildProcess>();

/** Kills every child process still running (synchronously; safe to call from an exit handler). */
export function killAllChildren(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
}

/** Registers a child so that {@link killAllChildren} ends it. */
export function trackChild(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/**
 * Starts a process that speaks the control protocol on stdin/stdout and waits for its `listening` line.
 * Its stderr goes to the orchestrator's stderr, prefixed by nothing (servers should log little); so do lines of
 * its stdout that are not JSON objects (what `--trace-gc` prints), prefixed by the server's name.
 */
export async function startJsonLinesServer(
  name: string,
  command: string,
  args: readonly string[],
  options: { readonly cwd?: string; readonly startTimeoutMs?: number; readonly env?: NodeJS.ProcessEnv } = {},
): Promise<ServerProcess> {
  const child = spawn(command, args, { cwd: options.cwd ?? REPO_ROOT, stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...options.env } });
  trackChild(child);
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  const pid = child.pid;
  const lines = createInterface({ input: child.stdout });
  const waiting: ((line: string) => void)[] = [];
  const early: string[] = [];
  lines.on('line', (line) => {
    // What V8 prints on stdout under FLEET_NODE_ARGS (`--trace-gc` and the like) is not part of the protocol.
    if (!line.startsWith('{')) {
      process.stderr.write(`${name}: ${line}\n`);
      return;
    }
    const next = waiting.shift();
    if (next) next(line);
    else early.push(line);
  });
  const nextLine = (timeoutMs: number): Promise<string> => {
    const ready = early.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const onExit = (): void => reject(new Error(`${name} exited (code ${String(child.exitCode)})`));
      const timer = setTimeout(() => {
        const i = waiting.indexOf(take);
        if (i >= 0) waiting.splice(i, 1);
        child.off('exit', onExit);
        reject(new Error(`${name}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const take = (line: string): void => {
        clearTimeout(timer);
        child.off('exit', onExit);
        resolve(line);
      };
      child.once('exit', onExit);
      waiting.push(take);
    });
  };

  const first = JSON.parse(await nextLine(options.startTimeoutMs ?? 120_000)) as { listening?: number };
  if (typeof first.listening !== 'number') throw new Error(`${name}: first line must be {"listening":PORT}`);
  const port = first.listening;

  let queue: Promise<unknown> = Promise.resolve();
  const request = (cmd: ServerCommand, timeoutMs = 120_000): Promise<ServerReply> => {
    const run = async (): Promise<ServerReply> => {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} is not running`);
      child.stdin.write(`${JSON.stringify(cmd)}\n`);
      const reply = JSON.parse(await nextLine(timeoutMs)) as ServerReply;
      if (!reply.ok) throw new Error(`${name}: ${cmd.op} failed: ${reply.error ?? 'no reason given'}`);
      return reply;
    };
    const p = queue.then(run, run);
    queue = p.catch(() => undefined);
    return p;
  };

  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      await request({ op: 'quit' }, 5_000);
    } catch {
      // Killed below.
    }
    child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };

  return { name, pid, port, request, stop };
}

let builtGo: string | undefined;

/**
 * Builds bench/go-reference into `outDir`/bin once per orchestrator run (the Go module proxy supplies the
 * modules on a fresh clone) and returns the binary's path.
 */
export function buildGoReference(outDir: string): string {
  if (builtGo !== undefined) return builtGo;
  const binDir = join(outDir, 'bin');
  mkdirSync(binDir, { recursive: true });
  const binary = join(binDir, 'go-reference');
  const build = spawnSync('go', ['build', '-o', binary, '.'], {
    cwd: join(REPO_ROOT, 'bench', 'go-reference'),
    stdio: ['ignore', 'inherit', 'inherit'],
    timeout: 600_000,
  });
  if (build.status !== 0) throw new Error('go build of bench/go-reference failed (is Go installed?)');
  builtGo = binary;
  return binary;
}

const builtPackages = new Set<string>();

/**
 * Builds the package in checkout `dir` (`npm run build`, into `dist/`) once per orchestrator run.
 * Our server process loads the library as users do, from the compiled package, not from `src/` through a
 * TypeScript loader (which adds work of its own, e.g. naming every closure it creates).
 */
export function buildPackage(dir: string): void {
  if (builtPackages.has(dir)) return;
  // The checkout's own build script: tsc, then whatever the compiled package needs beside it (the descriptors).
  const build = spawnSync('npm', ['run', '--silent', 'build'], {
    cwd: dir,
    stdio: ['ignore', 'inherit', 'inherit'],
    timeout: 300_000,
  });
  if (build.status !== 0) throw new Error(`the build of ${dir} failed`);
  builtPackages.add(dir);
}

/** The go-control-plane v0.14 reference server (bench/go-reference). */
export const startGoReference: ServerStarter = async (spec) =>
  startJsonLinesServer('go', buildGoReference(spec.outDir), [
    '-clusters', String(spec.clusters),
    '-listeners', String(spec.listeners),
    '-endpoints', String(spec.endpoints),
    '-nodes', String(spec.nodes),
    '-keying', spec.keying,
  ], spec.gomaxprocs === undefined ? {} : { env: { GOMAXPROCS: String(spec.gomaxprocs) } });

/** Path of our server's benchmark entry point. */
export const OURS_ENTRY = join(REPO_ROOT, 'bench', 'fleet', 'ours-server.ts');

/**
 * The Node binary our server processes (`ours`, `base`) run on: the environment variable `FLEET_NODE` (a path), or
 * the one running the orchestrator. The garbage collector differs between Node releases (V8 versions), and the
 * library supports several.
 */
export function serverNode(): string {
  const node = process.env['FLEET_NODE'];
  return node === undefined || node === '' ? process.execPath : node;
}

/**
 * Node flags for our server processes (`ours`, `base`) from the environment variable `FLEET_NODE_ARGS`,
 * whitespace-separated (e.g. `FLEET_NODE_ARGS='--trace-gc --max-semi-space-size=32'`): for experiments on the
 * runtime, since a library cannot ask its users for V8 flags.
 */
export function nodeArgsFromEnv(): string[] {
  return (process.env['FLEET_NODE_ARGS'] ?? '').split(/\s+/).filter((arg) => arg !== '');
}

/**
 * Our server: `node --import tsx bench/fleet/ours-server.ts`, same flags and protocol as the Go one. The
 * script imports the library by its package name, which resolves to the compiled `dist/` (built first).
 */
export const startOurs: ServerStarter = (spec) => {
  buildPackage(REPO_ROOT);
  return startJsonLinesServer('ours', serverNode(), [
    ...(spec.profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', spec.profileDir]),
    ...nodeArgsFromEnv(),
    '--expose-gc',
    '--import', 'tsx',
    OURS_ENTRY,
    '--clusters', String(spec.clusters),
    '--listeners', String(spec.listeners),
    '--endpoints', String(spec.endpoints),
    '--nodes', String(spec.nodes),
    '--keying', spec.keying,
    ...(spec.sliced === true ? ['--sliced'] : []),
    ...(spec.workers === undefined ? [] : ['--workers', String(spec.workers)]),
  ]);
};

/**
 * Our server from another checkout of this repository (e.g. a `git worktree` of an earlier commit), named by
 * the environment variable `FLEET_BASE_DIR`: `--servers ours,base` compares two versions of ours in one run.
 */
export const startBase: ServerStarter = (spec) => {
  const dir = process.env['FLEET_BASE_DIR'];
  if (dir === undefined || dir === '') throw new Error('server "base" needs FLEET_BASE_DIR (a checkout of this repository)');
  buildPackage(dir);
  return startJsonLinesServer(
    'base',
    serverNode(),
    [
      ...(spec.profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', spec.profileDir]),
      ...nodeArgsFromEnv(),
      '--expose-gc',
      '--import', 'tsx',
      join(dir, 'bench', 'fleet', 'ours-server.ts'),
      '--clusters', String(spec.clusters),
      '--listeners', String(spec.listeners),
      '--endpoints', String(spec.endpoints),
      '--nodes', String(spec.nodes),
      '--keying', spec.keying,
      ...(spec.sliced === true ? ['--sliced'] : []),
      ...(spec.workers === undefined ? [] : ['--workers', String(spec.workers)]),
    ],
    { cwd: dir },
  );
};

/** The servers the orchestrator knows, by the name used in `--servers`. */
export const SERVERS: Readonly<Record<string, { readonly available: () => boolean; readonly start: ServerStarter }>> = {
  go: { available: () => spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0, start: startGoReference },
  ours: { available: () => existsSync(OURS_ENTRY), start: startOurs },
  base: {
    available: () => existsSync(join(process.env['FLEET_BASE_DIR'] ?? '', 'bench', 'fleet', 'ours-server.ts')) && process.env['FLEET_BASE_DIR'] !== undefined,
    start: startBase,
  },
};

/**
 * A server by its `--servers` name: a name of {@link SERVERS}, or a variant of one: `ours+wK` and `base+wK` (our
 * server with K worker processes) and `go+pK` (the Go server with `GOMAXPROCS=K`), so that one run compares them.
 */
export function lookupServer(name: string): { readonly available: () => boolean; readonly start: ServerStarter } | undefined {
  const variant = /^(ours|base|go)\+([wp])(\d+)$/.exec(name);
  if (variant === null) return SERVERS[name];
  const [, base, kind, k] = variant;
  if ((base !== 'go') !== (kind === 'w') || Number(k) < 1) return undefined;
  const server = SERVERS[base];
  return {
    available: server.available,
    start: (spec) => server.start({ ...spec, ...(kind === 'w' ? { workers: Number(k) } : { gomaxprocs: Number(k) }) }),
  };
}
