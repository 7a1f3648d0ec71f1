/**
 * The fleet benchmark (`npm run bench:fleet`): for each server, xDS mode, stream count N and cluster count
 * M, it starts the server process and a load-generator process, and runs the scenarios:
 *
 * - `connect`: N streams connect at once; time until every stream holds the full config.
 * - `one-endpoint`: one ClusterLoadAssignment changes; time until every stream ACKed it.
 * - `all`: every Cluster and every ClusterLoadAssignment changes; time until every stream ACKed them all.
 * - `reconnect`: every stream drops (its connection closes); one ClusterLoadAssignment changes while they
 *   are down; they reconnect presenting what they hold (SotW: last version_info and names; delta:
 *   initial_resource_versions); time until every stream holds the change.
 *
 * Measures per scenario: convergence p50/p99/max, server CPU seconds (/proc/PID/stat), load-generator CPU,
 * bytes received; per point: server RSS before and after the streams connected (and per stream), peak RSS
 * (VmHWM); for servers that report them (ours), event-loop delay during the push, encodes per resource
 * version and V8 heap per stream. Writes `.bench-out/fleet-<time>.json` and prints a table.
 *
 * Flags: `--servers go,ours` (also `base`: our server from the checkout in `FLEET_BASE_DIR`) `--n 100,1000` `--m 100,1000` `--mode sotw,delta` `--quick` (default)
 * `--full` `--smoke` `--repeat R` `--listeners L` `--endpoints E`
 * `--timeout SECONDS` `--window BYTES` `--out DIR` `--profile-loadgen` `--profile-server` `--pin` `--loadgen-first` `--real-envoys K`
 * `--loadgen-procs K` (the simulated fleet split over K load-generator processes; default one per 2,500 streams);
 * shortcuts away from Envoy's behavior: `--node small` `--node-first-only` `--versions-order shared`
 * `--streams-per-connection K` `--keying fleet`
 * `--scenarios one-endpoint,all,reconnect` (after the connect storm, which always runs) `--warmup K` (snapshots
 * set before the fleet connects, default 10) `--order alternate|given` (which server of a point runs first:
 * by default the order is reversed at every other point of each mode).
 *
 * @packageDocumentation
 */
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  ENVOY_LIKE,
  nonNegativeInteger,
  type Expectation,
  type LoadCommand,
  type LoadReply,
  type PhaseResult,
  type Realism,
  type XdsMode,
  wallNow,
} from './protocol.js';
import { checkResources } from './check-resources.js';
import { RealEnvoys, type RealEnvoyResult } from './real-envoys.js';
import { REPO_ROOT, SERVERS, buildGoReference, lookupServer, killAllChildren, serverNode, trackChild, type ServerProcess, type ServerReply } from './servers.js';

// ---------------------------------------------------------------------------------------------------------
// /proc readings

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** Process `pid` and its descendants living now (our server's worker processes), read from /proc. */
function processTree(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const siblings = parents.get(ppid) ?? [];
      siblings.push(Number(entry));
      parents.set(ppid, siblings);
    } catch {
      // the process ended while we read
    }
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...(parents.get(tree[i]) ?? []));
  return tree;
}

/** CPU seconds (user + system) used so far by process `pid` and the processes it started (summed). */
export function cpuSeconds(pid: number): number {
  let total = 0;
  for (const p of processTree(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // Fields after the command name start at field 3 (state); utime and stime are fields 14 and 15.
      total += (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    } catch {
      // the process ended while we read
    }
  }
  return total;
}

/** A memory line (VmRSS, VmHWM, ...) of /proc/PID/status, in bytes, summed over `pid` and the processes it started. */
export function memoryBytes(pid: number, key: 'VmRSS' | 'VmHWM'): number {
  let total = 0;
  for (const p of processTree(pid)) {
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
      total += match ? Number(match[1]) * 1024 : 0;
    } catch {
      // the process ended while we read
    }
  }
  return total;
}

// ---------------------------------------------------------------------------------------------------------
// Load generator process

/** The load-generator child process and a request/answer channel to it. */
class LoadGenerator {
  private readonly child: ChildProcess;
  private readonly waiting = new Map<string, (reply: LoadReply) => void>();
  private readyPromise: Promise<void>;

  constructor(profileDir?: string) {
    const profile = profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir];
    this.child = fork(join(REPO_ROOT, 'bench', 'fleet', 'load-generator.ts'), [], {
      execArgv: ['--import', 'tsx', ...profile],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    trackChild(this.child);
    this.readyPromise = new Promise((resolve, reject) => {
      const onExit = (): void => reject(new Error('load generator exited before it was ready'));
      this.child.once('exit', onExit);
      this.child.on('message', (reply: LoadReply) => {
        if (reply.type === 'ready') {
          this.child.off('exit', onExit);
          resolve();
          return;
        }
        const take = this.waiting.get(reply.id);
        this.waiting.delete(reply.id);
        take?.(reply);
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  ready(): Promise<void> {
    return this.readyPromise;
  }

  /**
   * Sends a command and waits for the answer with the same id. Time-out: 2 × `timeoutMs` + 30 s, since a phase
   * waits up to `timeoutMs` for convergence and up to as long again for the responses to stop.
   */
  send(cmd: LoadCommand, timeoutMs = 60_000): Promise<LoadReply> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(cmd.id);
        reject(new Error(`load generator: no answer to ${cmd.cmd} ${cmd.id}`));
      }, 2 * timeoutMs + 30_000);
      const onExit = (): void => {
        clearTimeout(timer);
        reject(new Error('load generator exited'));
      };
      this.child.once('exit', onExit);
      this.waiting.set(cmd.id, (reply) => {
        clearTimeout(timer);
        this.child.off('exit', onExit);
        if (reply.type === 'error') reject(new Error(`load generator: ${reply.message}`));
        else resolve(reply);
      });
      this.child.send(cmd);
    });
  }

  async result(cmd: LoadCommand, timeoutMs: number): Promise<PhaseResult> {
    const reply = await this.send(cmd, timeoutMs);
    if (reply.type !== 'result') throw new Error(`load generator: expected a result, got ${reply.type}`);
    return reply;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.send({ cmd: 'quit', id: 'quit' } satisfies LoadCommand);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Streams per load-generator process when `--loadgen-procs` is not given. */
export const STREAMS_PER_LOADGEN = 2_500;

/** The default number of load-generator processes for N streams: one per {@link STREAMS_PER_LOADGEN} started. */
export function defaultLoadgenProcs(n: number): number {
  return Math.max(1, Math.ceil(n / STREAMS_PER_LOADGEN));
}

/** The results of several load generators' share of one phase, as one generator would report them. */
export function mergeResults(parts: readonly PhaseResult[]): PhaseResult {
  if (parts.length === 1) return parts[0];
  const sum = (f: (r: PhaseResult) => number): number => parts.reduce((s, r) => s + f(r), 0);
  const firstError = parts.find((r) => r.firstError !== undefined)?.firstError;
  const firstRetryReason = parts.find((r) => r.firstRetryReason !== undefined)?.firstRetryReason;
  return {
    type: 'result',
    id: parts[0].id,
    streams: sum((r) => r.streams),
    converged: sum((r) => r.converged),
    latenciesMs: parts.flatMap((r) => r.latenciesMs).sort((a, b) => a - b),
    bytesReceived: sum((r) => r.bytesReceived),
    responsesReceived: sum((r) => r.responsesReceived),
    requestsSent: sum((r) => r.requestsSent),
    errors: sum((r) => r.errors),
    retries: sum((r) => r.retries),
    cpuUserMs: sum((r) => r.cpuUserMs),
    cpuSystemMs: sum((r) => r.cpuSystemMs),
    wallMs: Math.max(...parts.map((r) => r.wallMs)),
    rssBytes: sum((r) => r.rssBytes),
    loopDelayMaxMs: Math.max(...parts.map((r) => r.loopDelayMaxMs)),
    ...(firstRetryReason === undefined ? {} : { firstRetryReason }),
    ...(firstError === undefined ? {} : { firstError }),
  };
}

/**
 * The fleet's load generators: K processes, each simulating its own consecutive share of the streams
 * (`--loadgen-procs K`). Commands go to all of them at once; phase results come back merged.
 */
class LoadGenerators {
  private readonly procs: LoadGenerator[];

  constructor(count: number, profileDir?: string) {
    this.procs = Array.from({ length: count }, () => new LoadGenerator(profileDir));
  }

  get pids(): number[] {
    return this.procs.map((p) => p.pid);
  }

  /** The streams of process `i` of `count` when `streams` are split: `[first, first + size)`. */
  static share(streams: number, count: number, i: number): { first: number; size: number } {
    const base = Math.floor(streams / count);
    const extra = streams % count;
    return { first: i * base + Math.min(i, extra), size: base + (i < extra ? 1 : 0) };
  }

  async ready(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.ready()));
  }

  /** Sends `cmd` to every generator and waits for every answer. */
  async send(cmd: LoadCommand, timeoutMs?: number): Promise<void> {
    await Promise.all(this.procs.map((p) => p.send(cmd, timeoutMs)));
  }

  /** Runs a phase on every generator (`cmdFor(i)` is the command for generator `i`) and merges the results. */
  async result(cmdFor: (i: number, count: number) => LoadCommand, timeoutMs: number): Promise<PhaseResult> {
    return mergeResults(await Promise.all(this.procs.map((p, i) => p.result(cmdFor(i, this.procs.length), timeoutMs))));
  }

  async stop(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.stop()));
  }
}

// ---------------------------------------------------------------------------------------------------------
// Scenarios

/** Results of one scenario at one point. */
export interface ScenarioResult {
  readonly scenario: 'connect' | 'one-endpoint' | 'all' | 'reconnect';
  readonly streams: number;
  /**
   * Stream convergences measured (streams × repetitions) and how many converged. A stream that did not converge
   * counts as infinitely slow in the percentiles (they are `Infinity` when more than that share did not).
   */
  readonly samples: number;
  readonly converged: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Server CPU seconds per repetition (mean). */
  readonly serverCpuSec: number;
  /** Load-generator CPU seconds per repetition (mean). */
  readonly loadgenCpuSec: number;
  /** The load generator's longest event-loop delay, ms (max over repetitions): a generator falling behind. */
  readonly loadgenLoopDelayMaxMs: number;
  /** Bytes of xDS responses received per repetition (mean). */
  readonly bytesReceived: number;
  readonly responsesReceived: number;
  /** Time the server spent in `set` (making and setting the snapshot), ms, mean. */
  readonly serverSetMs?: number;
  /** Servers that report them (ours): event-loop delay from `set` to the end of the phase, ms (max over repetitions). */
  readonly eventLoopDelayMaxMs?: number;
  readonly eventLoopDelayP99Ms?: number;
  /** Servers that report them (ours): encodes per resource of the new snapshot, set to end of phase (max). */
  readonly encodesPerResource?: number;
  readonly errors: number;
  readonly firstError?: string;
  /** `--real-envoys`: the real Envoys' convergence in this scenario (repetitions pooled). */
  readonly realEnvoys?: RealEnvoyResult;
  /** Streams that failed and were opened again after Envoy's backoff (summed over repetitions). */
  readonly retries: number;
  readonly firstRetryReason?: string;
  /**
   * Each repetition on its own, in order: its convergence min (the first stream to converge), p50 and max, server
   * CPU, `set` time, and (servers that report them: ours) the major (full) garbage collections from `set` to the
   * end of the phase and their main-thread pause.
   */
  readonly runs: readonly { minMs: number; p50Ms: number; maxMs: number; serverCpuSec: number; setMs?: number; majorGcs?: number; majorGcMs?: number }[];
}

/** Results of one (server, mode, N, M) point. */
export interface PointResult {
  readonly server: string;
  readonly mode: XdsMode;
  readonly n: number;
  readonly m: number;
  readonly scenarios: ScenarioResult[];
  readonly serverRssIdleBytes: number;
  readonly serverRssConnectedBytes: number;
  readonly serverRssPerStreamBytes: number;
  readonly serverPeakRssBytes: number;
  /** Load-generator peak RSS, summed over its processes. */
  readonly loadgenPeakRssBytes: number;
  /** Load-generator processes the fleet was split over. */
  readonly loadgenProcs: number;
  /** Servers that report it (ours): V8 heap used before the streams connect and with all connected. */
  readonly serverHeapIdleBytes?: number;
  readonly serverHeapConnectedBytes?: number;
  readonly error?: string;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/** One repetition of a scenario. */
interface RunSample {
  readonly r: PhaseResult;
  readonly serverCpuSec: number;
  readonly setMs?: number;
  /** What the server's `stats` said at the end of the phase (servers that report it). */
  readonly stats?: ServerReply;
  /** `--real-envoys`: the real Envoys' convergence. */
  readonly real?: RealEnvoyResult;
}

/** The real Envoys' results of several repetitions as one. */
function pooled(runs: readonly RunSample[]): { realEnvoys?: RealEnvoyResult } {
  const real = runs.flatMap((x) => (x.real === undefined ? [] : [x.real]));
  if (real.length === 0) return {};
  const startup = real.flatMap((r) => r.startupMs ?? []);
  return {
    realEnvoys: {
      envoys: real.reduce((s, r) => s + r.envoys, 0),
      converged: real.reduce((s, r) => s + r.converged, 0),
      latenciesMs: real.flatMap((r) => r.latenciesMs).sort((a, b) => a - b),
      ...(startup.length > 0 ? { startupMs: startup.sort((a, b) => a - b) } : {}),
    },
  };
}

/** `{ [key]: max over runs }` of a field some servers report, or `{}` when none does. */
function maxOf(
  runs: readonly RunSample[],
  key: 'eventLoopDelayMaxMs' | 'eventLoopDelayP99Ms' | 'encodesPerResource',
): Partial<Record<typeof key, number>> {
  const v = runs.map((x) => x.stats?.[key]).filter((x): x is number => typeof x === 'number');
  return v.length > 0 ? { [key]: Math.max(...v) } : {};
}

function summarize(
  scenario: ScenarioResult['scenario'],
  streams: number,
  runs: readonly RunSample[],
): ScenarioResult {
  const converged = runs.reduce((s, x) => s + x.r.latenciesMs.length, 0);
  // A stream that never converged is infinitely slow: it stays in the sample.
  const all = [
    ...runs.flatMap((x) => x.r.latenciesMs),
    ...Array.from({ length: streams * runs.length - converged }, () => Number.POSITIVE_INFINITY),
  ].sort((a, b) => a - b);
  const mean = (f: (x: (typeof runs)[number]) => number): number =>
    runs.reduce((s, x) => s + f(x), 0) / Math.max(1, runs.length);
  const firstError = runs.find((x) => x.r.firstError !== undefined)?.r.firstError;
  const firstRetryReason = runs.find((x) => x.r.firstRetryReason !== undefined)?.r.firstRetryReason;
  const setRuns = runs.filter((x) => x.setMs !== undefined);
  const base: ScenarioResult = {
    scenario,
    streams,
    samples: streams * runs.length,
    converged,
    p50Ms: percentile(all, 50),
    p99Ms: percentile(all, 99),
    maxMs: all.length > 0 ? all[all.length - 1] : Number.NaN,
    serverCpuSec: mean((x) => x.serverCpuSec),
    loadgenCpuSec: mean((x) => (x.r.cpuUserMs + x.r.cpuSystemMs) / 1000),
    loadgenLoopDelayMaxMs: Math.max(0, ...runs.map((x) => x.r.loopDelayMaxMs ?? 0)),
    bytesReceived: mean((x) => x.r.bytesReceived),
    responsesReceived: mean((x) => x.r.responsesReceived),
    errors: runs.reduce((s, x) => s + x.r.errors, 0),
    retries: runs.reduce((s, x) => s + x.r.retries, 0),
    ...pooled(runs),
    ...(firstRetryReason === undefined ? {} : { firstRetryReason }),
    ...(setRuns.length > 0 ? { serverSetMs: setRuns.reduce((s, x) => s + x.setMs!, 0) / setRuns.length } : {}),
    ...maxOf(runs, 'eventLoopDelayMaxMs'),
    ...maxOf(runs, 'eventLoopDelayP99Ms'),
    ...maxOf(runs, 'encodesPerResource'),
    runs: runs.map((x) => {
      const sorted = [
        ...x.r.latenciesMs,
        ...Array.from({ length: streams - x.r.latenciesMs.length }, () => Number.POSITIVE_INFINITY),
      ].sort((a, b) => a - b);
      return {
        minMs: sorted.length > 0 ? sorted[0] : Number.NaN,
        p50Ms: percentile(sorted, 50),
        maxMs: sorted.length > 0 ? sorted[sorted.length - 1] : Number.NaN,
        serverCpuSec: x.serverCpuSec,
        ...(x.setMs === undefined ? {} : { setMs: x.setMs }),
        ...(x.stats?.majorGcs === undefined ? {} : { majorGcs: x.stats.majorGcs, majorGcMs: x.stats.majorGcMs ?? 0 }),
      };
    }),
  };
  return firstError === undefined ? base : { ...base, firstError };
}

/** Options of one run. */
interface RunOptions {
  readonly servers: string[];
  readonly n: number[];
  readonly m: number[];
  readonly modes: XdsMode[];
  readonly repeat: number;
  readonly streamsPerConnection: number;
  /** How far the simulated Envoys copy real Envoy (default: as far as captured). */
  readonly realism: Realism;
  /** `node`: a snapshot per node id, as applications do; `fleet`: one snapshot under one key for every node. */
  readonly keying: 'node' | 'fleet';
  readonly listeners: number;
  readonly endpoints: number;
  readonly timeoutMs: number;
  readonly windowBytes: number;
  readonly outDir: string;
  /** Writes a CPU profile of the load generator under `outDir`/profiles. */
  readonly profileLoadgen: boolean;
  /** Writes a CPU profile of our server (`--cpu-prof`) under `outDir`/profiles. */
  readonly profileServer: boolean;
  /** Real Envoy processes among the N (the last node ids), measured beside the simulated ones. */
  readonly realEnvoys: number;
  /** Load-generator processes, each with its share of the streams (default: {@link defaultLoadgenProcs}). */
  readonly loadgenProcs?: number;
  /** Pins the server to CPU 0 and the load generators to CPU 1. */
  readonly pin: boolean;
  /** Runs the load generators' threads at a higher priority (nice −10) than the server's processes. */
  readonly loadgenFirst: boolean;
  /**
   * `given`: the servers of a point run in the order of `--servers`; `alternate`: reversed at every other point
   * of each mode (the first mode starts in the given order, the second reversed, ...), so that each server goes
   * first at half the points. A server started second in a point runs after the first one's processes have
   * come and gone; two copies of the same server (`--servers base,ours` on one checkout) differed by up to
   * 1.3x in p50 and 2x in CPU at N = M = 100, the second mostly slower in delta.
   */
  readonly order: 'alternate' | 'given';
  /** Our servers make snapshots with `await Snapshot.create` (sliced encoding) instead of `new Snapshot`. */
  readonly sliced: boolean;
  /** Snapshots made and set before the fleet connects, unmeasured. */
  readonly warmup: number;
  /** The scenarios to run after the connect storm (which always runs: the others need a connected fleet). */
  readonly scenarios: ReadonlySet<string>;
}

/** The scenarios that follow the connect storm, in the order they run. */
const UPDATE_SCENARIOS = ['one-endpoint', 'all', 'reconnect'] as const;

function clusterName(i: number): string {
  return `cluster-${String(i).padStart(5, '0')}`;
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls the server's stats until `open` streams are open (bounded by `timeoutMs`). */
async function waitForStreams(server: ServerProcess, open: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let streams = -1;
  for (let i = 0; i < 100_000 && Date.now() < deadline; i++) {
    streams = (await server.request({ op: 'stats' })).streams ?? -1;
    if (streams === open) return streams;
    await sleep(20);
  }
  return streams;
}

async function runPoint(serverName: string, mode: XdsMode, n: number, m: number, o: RunOptions): Promise<PointResult> {
  const starter = lookupServer(serverName);
  if (!starter) throw new Error(`unknown server ${serverName}`);
  const spec = {
    clusters: m, listeners: o.listeners, endpoints: o.endpoints, outDir: o.outDir, sliced: o.sliced,
    nodes: n, keying: o.keying,
    ...(o.profileServer ? { profileDir: join(o.outDir, 'profiles') } : {}),
  };
  const server = await starter.start(spec);
  const lg = new LoadGenerators(o.loadgenProcs ?? defaultLoadgenProcs(n), o.profileLoadgen ? join(o.outDir, 'profiles') : undefined);
  if (o.pin) {
    // Server on CPU 0, load generator on CPU 1 (all threads), so that they do not take each other's time.
    spawnSync('taskset', ['-a', '-p', '-c', '0', String(server.pid)], { stdio: 'ignore' });
    for (const pid of lg.pids) spawnSync('taskset', ['-a', '-p', '-c', '1', String(pid)], { stdio: 'ignore' });
  }
  if (o.loadgenFirst) {
    // The simulated fleet is served first on the shared cores, as if it ran on hosts of its own: every thread of
    // every load generator (a process's nice value is per thread on Linux). Needs the privilege to lower it.
    for (const pid of lg.pids) {
      for (const task of readdirSync(`/proc/${pid}/task`)) {
        const result = spawnSync('renice', ['-n', '-10', '-p', task], { encoding: 'utf8' });
        if (result.status !== 0) throw new Error(`--loadgen-first: renice failed (${result.stderr.trim()}); it needs root or CAP_SYS_NICE`);
      }
    }
  }
  const scenarios: ScenarioResult[] = [];
  let rssIdle = 0;
  let rssConnected = 0;
  let loadgenPeak = 0;
  let heapIdle: number | undefined;
  let heapConnected: number | undefined;
  let error: string | undefined;
  let version = 1;
  const fullConfig: Expectation[] = [
    { kind: 'cds', count: m },
    { kind: 'eds', count: m },
    { kind: 'lds', count: o.listeners },
    { kind: 'rds', count: o.listeners },
  ];
  const realCount = Math.min(o.realEnvoys, n);
  const real = realCount > 0 ? new RealEnvoys(n - realCount, realCount) : undefined;
  // The simulated streams (node ids 0 … n - realCount - 1), split between the generators.
  const connectCmd = (id: string, expect: readonly Expectation[]) => (i: number, count: number): LoadCommand => ({
    cmd: 'connect',
    id,
    target: `127.0.0.1:${server.port}`,
    streams: LoadGenerators.share(n - realCount, count, i).size,
    firstNode: LoadGenerators.share(n - realCount, count, i).first,
    streamsPerConnection: o.streamsPerConnection,
    mode,
    windowBytes: o.windowBytes,
    realism: o.realism,
    expect,
    timeoutMs: o.timeoutMs,
  });
  const prepare = (change: 'one-endpoint' | 'all'): Promise<unknown> =>
    server.request({ op: 'prepare', version: String(++version), clusters: m, listeners: o.listeners, endpoints: o.endpoints, change });
  try {
    await lg.ready();
    // Warm-up, before any stream connects: the server makes and sets `warmup` snapshots (changes alternating
    // between every resource and one assignment), so that a JIT-compiled server is measured warm, as a control
    // plane that has been running is. No stream receives them; the connect storm that follows is still the
    // first time the server's stream code runs.
    for (let i = 0; i < o.warmup; i++) {
      await prepare(i % 2 === 0 ? 'all' : 'one-endpoint');
      await server.request({ op: 'set', version: String(version) }, o.timeoutMs);
    }
    // Memory readings follow a garbage collection in the server (both servers do one on `gc`), so that the
    // warm-up's garbage is neither counted as idle memory nor reused by the streams unseen.
    heapIdle = (await server.request({ op: 'stats', gc: true })).heapUsedBytes;
    await sleep(300);
    rssIdle = memoryBytes(server.pid, 'VmRSS');

    // Connect storm.
    let cpu0 = cpuSeconds(server.pid);
    const connectT0 = wallNow();
    const [connect, realConnect] = await Promise.all([
      lg.result(connectCmd('connect', fullConfig), o.timeoutMs),
      real?.connect(mode, server.port, connectT0, o.timeoutMs),
    ]);
    scenarios.push(summarize('connect', n - realCount, [
      { r: connect, serverCpuSec: cpuSeconds(server.pid) - cpu0, ...(realConnect === undefined ? {} : { real: realConnect }) },
    ]));
    loadgenPeak = Math.max(loadgenPeak, connect.rssBytes);
    await waitForStreams(server, n, 10_000);
    heapConnected = (await server.request({ op: 'stats', gc: true })).heapUsedBytes;
    await sleep(300);
    rssConnected = memoryBytes(server.pid, 'VmRSS');

    // Updates: prepare (not measured), mark, set, await.
    const update = async (change: 'one-endpoint' | 'all', expect: readonly Expectation[], tag: string) => {
      const runs: RunSample[] = [];
      for (let i = 0; i < o.repeat; i++) {
        await prepare(change);
        const id = `${tag}-${i}`;
        await lg.send({ cmd: 'mark', id, expect });
        const base = await real?.baseline();
        const c0 = cpuSeconds(server.pid);
        const set = await server.request({ op: 'set', version: String(version) }, o.timeoutMs);
        const t0 = set.t0 ?? Date.now();
        const [r, realResult] = await Promise.all([
          lg.result(() => ({ cmd: 'await', id, t0, timeoutMs: o.timeoutMs }), o.timeoutMs),
          base === undefined ? undefined : real?.converge(change, base, t0, o.timeoutMs),
        ]);
        const serverCpuSec = cpuSeconds(server.pid) - c0;
        const stats = await server.request({ op: 'stats' });
        runs.push({
          r, serverCpuSec, stats,
          ...(set.ms === undefined ? {} : { setMs: set.ms }),
          ...(realResult === undefined ? {} : { real: realResult }),
        });
        loadgenPeak = Math.max(loadgenPeak, r.rssBytes);
        await sleep(100);
      }
      return runs;
    };
    if (o.scenarios.has('one-endpoint')) {
      scenarios.push(
        summarize('one-endpoint', n - realCount, await update('one-endpoint', [{ kind: 'eds', names: [clusterName(0)] }], 'one')),
      );
    }
    if (o.scenarios.has('all')) {
      scenarios.push(summarize('all', n - realCount, await update('all', [{ kind: 'cds', count: m }, { kind: 'eds', count: m }], 'all')));
    }

    // Reconnect: drop, change one assignment while down, reconnect with what they hold.
    const reconnectRuns: RunSample[] = [];
    for (let i = 0; i < (o.scenarios.has('reconnect') ? o.repeat : 0); i++) {
      await lg.send({ cmd: 'disconnect', id: `drop-${i}` });
      // The real Envoys stay connected.
      const left = await waitForStreams(server, realCount, 30_000);
      if (left !== realCount) throw new Error(`${left - realCount} streams still open on the server after the disconnect`);
      await prepare('one-endpoint');
      await server.request({ op: 'set', version: String(version) }, o.timeoutMs);
      cpu0 = cpuSeconds(server.pid);
      const r = await lg.result(connectCmd(`reconnect-${i}`, [{ kind: 'eds', names: [clusterName(0)] }]), o.timeoutMs);
      reconnectRuns.push({ r, serverCpuSec: cpuSeconds(server.pid) - cpu0 });
      loadgenPeak = Math.max(loadgenPeak, r.rssBytes);
    }
    if (o.scenarios.has('reconnect')) scenarios.push(summarize('reconnect', n - realCount, reconnectRuns));
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
  }
  await real?.stop();
  const peak = memoryBytes(server.pid, 'VmHWM');
  await lg.stop();
  await server.stop();
  const base: PointResult = {
    server: serverName,
    mode,
    n,
    m,
    scenarios,
    serverRssIdleBytes: rssIdle,
    serverRssConnectedBytes: rssConnected,
    serverRssPerStreamBytes: n > 0 ? (rssConnected - rssIdle) / n : 0,
    serverPeakRssBytes: peak,
    loadgenPeakRssBytes: loadgenPeak,
    loadgenProcs: lg.pids.length,
    ...(heapIdle === undefined ? {} : { serverHeapIdleBytes: heapIdle }),
    ...(heapConnected === undefined ? {} : { serverHeapConnectedBytes: heapConnected }),
  };
  return error === undefined ? base : { ...base, error };
}

// ---------------------------------------------------------------------------------------------------------
// Output

function fmtMs(v: number): string {
  if (v === Number.POSITIVE_INFINITY) return '∞';
  if (!Number.isFinite(v)) return '-';
  return v >= 100 ? v.toFixed(0) : v.toFixed(1);
}

function fmtMB(bytes: number): string {
  return (bytes / 1048576).toFixed(1);
}

function printTable(points: readonly PointResult[]): void {
  const header = ['server', 'mode', 'N', 'M', 'scenario', 'p50 ms', 'p99 ms', 'max ms', 'conv', 'retries', 'srv CPU s', 'lg CPU s', 'lg loop max ms', 'MB recv'];
  const rows: string[][] = [header];
  for (const p of points) {
    for (const s of p.scenarios) {
      rows.push([
        p.server, p.mode, String(p.n), String(p.m), s.scenario,
        fmtMs(s.p50Ms), fmtMs(s.p99Ms), fmtMs(s.maxMs),
        `${s.converged}/${s.samples}`, String(s.retries), s.serverCpuSec.toFixed(2), s.loadgenCpuSec.toFixed(2), fmtMs(s.loadgenLoopDelayMaxMs), fmtMB(s.bytesReceived),
      ]);
    }
  }
  const widths = header.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) console.log(r.map((c, i) => (i < 5 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '));
  console.log('');
  const mem: string[][] = [['server', 'mode', 'N', 'M', 'RSS idle MB', 'RSS connected MB', 'KB/stream', 'peak RSS MB', 'lg peak MB']];
  for (const p of points) {
    mem.push([
      p.server, p.mode, String(p.n), String(p.m), fmtMB(p.serverRssIdleBytes), fmtMB(p.serverRssConnectedBytes),
      (p.serverRssPerStreamBytes / 1024).toFixed(1), fmtMB(p.serverPeakRssBytes), fmtMB(p.loadgenPeakRssBytes),
    ]);
  }
  const extra = points.filter((p) => p.serverHeapConnectedBytes !== undefined);
  if (extra.length > 0) {
    mem[0].push('heap KB/stream');
    for (const [i, p] of points.entries()) {
      const h = p.serverHeapConnectedBytes !== undefined && p.serverHeapIdleBytes !== undefined && p.n > 0
        ? ((p.serverHeapConnectedBytes - p.serverHeapIdleBytes) / p.n / 1024).toFixed(1)
        : '-';
      mem[i + 1].push(h);
    }
  }
  const mw = mem[0].map((_, i) => Math.max(...mem.map((r) => r[i].length)));
  for (const r of mem) console.log(r.map((c, i) => (i < 4 ? c.padEnd(mw[i]) : c.padStart(mw[i]))).join('  '));
  const loop = points.flatMap((p) =>
    p.scenarios
      .filter((s) => s.eventLoopDelayMaxMs !== undefined)
      .map((s) => `${p.server} ${p.mode} N=${p.n} M=${p.m} ${s.scenario}: loop delay max ${fmtMs(s.eventLoopDelayMaxMs!)} ms, ` +
        `p99 ${fmtMs(s.eventLoopDelayP99Ms ?? Number.NaN)} ms; encodes per resource ${(s.encodesPerResource ?? Number.NaN).toFixed(2)}` +
        (s.runs.some((r) => r.majorGcs !== undefined) ? `; full GCs per update ${s.runs.map((r) => r.majorGcs ?? '-').join(',')}` : '')),
  );
  if (loop.length > 0) console.log(`\n${loop.join('\n')}`);
  const real = points.flatMap((p) =>
    p.scenarios.flatMap((s) => {
      const r = s.realEnvoys;
      if (r === undefined) return [];
      const sorted = r.latenciesMs;
      return [
        `${p.server} ${p.mode} N=${p.n} M=${p.m} ${s.scenario}: real Envoys ${r.converged}/${r.envoys} converged, ` +
          `p50 ${fmtMs(percentile(sorted, 50))} ms, max ${fmtMs(sorted[sorted.length - 1] ?? Number.NaN)} ms` +
          (r.startupMs ? ` (start-up to admin API: ${r.startupMs.map(fmtMs).join(', ')} ms)` : '') +
          `; simulated p50 ${fmtMs(s.p50Ms)} ms, max ${fmtMs(s.maxMs)} ms`,
      ];
    }),
  );
  if (real.length > 0) console.log(`\n${real.join('\n')}`);
  for (const p of points) if (p.error !== undefined) console.log(`ERROR ${p.server} ${p.mode} N=${p.n} M=${p.m}: ${p.error}`);
}

function machine(): Record<string, unknown> {
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryBytes: os.totalmem(),
    kernel: os.release(),
    node: process.version,
    // Our servers' Node (FLEET_NODE), when it is not the orchestrator's.
    ...(serverNode() === process.execPath ? {} : { serverNode: spawnSync(serverNode(), ['--version'], { encoding: 'utf8' }).stdout.trim() }),
    go: go.status === 0 ? go.stdout.trim() : null,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Main

function list(value: string | undefined, fallback: string): string[] {
  return (value ?? fallback).split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function numbers(value: string | undefined, fallback: string): number[] {
  return list(value, fallback).map((s) => {
    const v = Number(s);
    if (!Number.isInteger(v) || v <= 0) throw new Error(`not a positive integer: ${s}`);
    return v;
  });
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      servers: { type: 'string' },
      n: { type: 'string' },
      m: { type: 'string' },
      mode: { type: 'string' },
      quick: { type: 'boolean', default: false },
      full: { type: 'boolean', default: false },
      smoke: { type: 'boolean', default: false },
      repeat: { type: 'string' },
      'streams-per-connection': { type: 'string' },
      listeners: { type: 'string' },
      endpoints: { type: 'string' },
      timeout: { type: 'string' },
      window: { type: 'string' },
      out: { type: 'string' },
      'profile-loadgen': { type: 'boolean', default: false },
      'profile-server': { type: 'boolean', default: false },
      'loadgen-procs': { type: 'string' },
      pin: { type: 'boolean', default: false },
      'loadgen-first': { type: 'boolean', default: false },
      order: { type: 'string' },
      scenarios: { type: 'string' },
      warmup: { type: 'string' },
      sliced: { type: 'boolean', default: false },
      'real-envoys': { type: 'string' },
      node: { type: 'string' },
      'node-first-only': { type: 'boolean', default: false },
      'versions-order': { type: 'string' },
      keying: { type: 'string' },
      workers: { type: 'string' },
      gomaxprocs: { type: 'string' },
    },
  });
  const choice = <T extends string>(flag: string, value: string | undefined, allowed: readonly T[], fallback: T): T => {
    if (value === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(value)) throw new Error(`--${flag}: ${value} is not one of ${allowed.join(', ')}`);
    return value as T;
  };
  const preset = values.smoke
    ? { n: '5', m: '10', repeat: '1', timeout: '30' }
    : values.full
      ? { n: '100,1000,5000', m: '100,1000,10000', repeat: '3', timeout: '600' }
      : { n: '100,1000', m: '100,1000', repeat: '1', timeout: '300' };
  const known = Object.keys(SERVERS);
  const named = values.servers
    ? list(values.servers, '')
    : known.filter((name) => SERVERS[name].available());
  // --workers 1,2 runs ours as ours+w1 and ours+w2; --gomaxprocs 1,2 runs go as go+p1 and go+p2.
  const servers = named.flatMap((name) => {
    if (name === 'ours' && values.workers !== undefined) return numbers(values.workers, '1').map((k) => `ours+w${k}`);
    if (name === 'go' && values.gomaxprocs !== undefined) return numbers(values.gomaxprocs, '1').map((k) => `go+p${k}`);
    return [name];
  });
  if (!values.servers) {
    // Said out loud, so that a CI log shows which side of the comparison did not run.
    if (!servers.includes('go')) console.log('go: skipped (Go is not installed on this machine; the go-control-plane side was not run)');
    if (!servers.includes('ours')) console.log('ours: skipped (bench/fleet/ours-server.ts is missing)');
  }
  if (servers.length === 0) throw new Error('no server to run');
  for (const s of servers) {
    const server = lookupServer(s);
    if (!server) throw new Error(`--servers: unknown server ${s} (known: ${known.join(', ')}, and ours+wK, base+wK, go+pK)`);
    if (!server.available()) throw new Error(`--servers: ${s} is not available on this machine or not yet plugged in`);
  }
  const modes = list(values.mode, 'sotw,delta').map((m) => {
    if (m !== 'sotw' && m !== 'delta') throw new Error(`--mode: ${m} is not sotw or delta`);
    return m;
  });
  const o: RunOptions = {
    servers,
    n: numbers(values.n, preset.n),
    m: numbers(values.m, preset.m),
    modes,
    repeat: numbers(values.repeat, preset.repeat)[0],
    streamsPerConnection: numbers(values['streams-per-connection'], '1')[0],
    realism: {
      node: choice('node', values.node, ['envoy', 'small'], ENVOY_LIKE.node),
      nodeOnEveryRequest: !values['node-first-only'],
      versionsOrder: choice('versions-order', values['versions-order'], ['random', 'shared'], ENVOY_LIKE.versionsOrder),
    },
    keying: choice('keying', values.keying, ['node', 'fleet'], 'node'),
    listeners: numbers(values.listeners, '1')[0],
    endpoints: numbers(values.endpoints, '3')[0],
    timeoutMs: numbers(values.timeout, preset.timeout)[0] * 1000,
    windowBytes: numbers(values.window, String(16 * 1024 * 1024))[0],
    // Absolute: the servers run with the repository as their directory, and the Go reference is built under it.
    outDir: resolve(values.out ?? join(REPO_ROOT, '.bench-out')),
    profileLoadgen: values['profile-loadgen'],
    profileServer: values['profile-server'],
    pin: values.pin,
    loadgenFirst: values['loadgen-first'],
    order: choice('order', values.order, ['alternate', 'given'], 'alternate'),
    ...(values['loadgen-procs'] === undefined ? {} : { loadgenProcs: numbers(values['loadgen-procs'], '1')[0] }),
    realEnvoys: nonNegativeInteger(values['real-envoys'], 0, 'real-envoys'),
    sliced: values.sliced,
    warmup: nonNegativeInteger(values.warmup, values.smoke ? 1 : 10, 'warmup'),
    scenarios: new Set(
      list(values.scenarios, UPDATE_SCENARIOS.join(',')).map((s) => {
        if (!(UPDATE_SCENARIOS as readonly string[]).includes(s)) throw new Error(`--scenarios: ${s} is not one of ${UPDATE_SCENARIOS.join(', ')}`);
        return s;
      }),
    ),
  };
  mkdirSync(o.outDir, { recursive: true });
  if (values.smoke && o.servers.includes('go')) {
    const problems = checkResources(buildGoReference(o.outDir));
    for (const p of problems) console.log(p);
    if (problems.length > 0) throw new Error('bench/fleet/resources.ts and the Go reference build different resources');
    console.log('resources: go-reference and resources.ts build identical resources');
  }
  const started = new Date();
  const file = join(o.outDir, `fleet-${started.toISOString().replace(/[:.]/g, '-')}.json`);
  const host = machine();
  // Written after every point, so that a long run stopped halfway keeps what it measured.
  const save = (): void =>
    writeFileSync(
      file,
      `${JSON.stringify(
        { started: started.toISOString(), machine: host, options: { ...o, outDir: relative(REPO_ROOT, o.outDir), scenarios: [...o.scenarios] }, points },
        // A stream that never converged makes a percentile infinite; JSON has no Infinity.
        (_key, value: unknown) => (value === Number.POSITIVE_INFINITY ? 'Infinity' : value),
        2,
      )}\n`,
    );
  console.log(
    `fleet benchmark: servers ${o.servers.join(',')}; modes ${o.modes.join(',')}; N ${o.n.join(',')}; ` +
      `M ${o.m.join(',')}; repeat ${o.repeat}; ${o.streamsPerConnection} stream(s) per connection; node ${o.realism.node}` +
      `${o.realism.nodeOnEveryRequest ? ' on every request' : ' on first request only'}; initial versions ${o.realism.versionsOrder} order; ` +
      `snapshots keyed by ${o.keying}; server order ${o.order}` + (host['serverNode'] === undefined ? '' : `; our servers on Node ${host['serverNode'] as string}`),
  );
  const points: PointResult[] = [];
  const pointsOfMode = new Map<XdsMode, number>();
  for (const m of o.m) {
    for (const n of o.n) {
      for (const mode of o.modes) {
        const k = pointsOfMode.get(mode) ?? 0;
        pointsOfMode.set(mode, k + 1);
        const reversed = o.order === 'alternate' && (k + o.modes.indexOf(mode)) % 2 === 1;
        for (const s of reversed ? [...o.servers].reverse() : o.servers) {
          const t = Date.now();
          const p = await runPoint(s, mode, n, m, o);
          points.push(p);
          save();
          const conn = p.scenarios.find((x) => x.scenario === 'connect');
          console.log(
            `  ${s} ${mode} N=${n} M=${m} (${p.loadgenProcs} load generator${p.loadgenProcs === 1 ? '' : 's'}): ${((Date.now() - t) / 1000).toFixed(1)} s` +
              (conn ? `, connect p99 ${fmtMs(conn.p99Ms)} ms` : '') +
              (p.error !== undefined ? `, ERROR ${p.error}` : ''),
          );
        }
      }
    }
  }
  console.log('');
  printTable(points);
  console.log(`\nwritten: ${file}`);
  const failed = points.filter((p) => p.error !== undefined || p.scenarios.some((s) => s.converged < s.samples || s.errors > 0));
  if (failed.length > 0) {
    console.log(`${failed.length} point(s) had errors or streams that did not converge`);
    return 1;
  }
  return 0;
}

process.on('exit', killAllChildren);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killAllChildren();
    process.exit(130);
  });
}
main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    killAllChildren();
    process.exitCode = 1;
  },
);
