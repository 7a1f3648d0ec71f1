/**
 * The fleet load generator: a separate process (started by the orchestrator with `child_process.fork`,
 * run with `node --import tsx`) that simulates N Envoys, each one ADS stream with its own node id on its own
 * HTTP/2 connection, behaving as real Envoy 1.40 does (the facts are in fixtures/envoy-1.40/facts.json, captured
 * by capture-envoy.ts; bench/fleet/README.md lists them): Envoy's 61 KB node on every request, CDS first, EDS for
 * the clusters received (before the CDS ACK), LDS once every cluster has its endpoints, RDS for the listeners'
 * routes, sorted delta subscribe lists, `initial_resource_versions` in a fresh random order per connection, and
 * Envoy's jittered backoff after a failed stream. It ACKs every response (SotW: version_info and
 * response_nonce; delta: response_nonce) and tracks, for the update the orchestrator marked, when each stream
 * has ACKed what that update must deliver (see {@link Expectation}). The shortcuts of {@link Realism} turn parts
 * of that off.
 *
 * To stay cheap it reads only what it needs of each response, in place, with a tiny protobuf reader (wire.ts):
 * the envelope's version, type and nonce, the number of resources, and their names (delta: and versions) only
 * for the types whose names it tracks; for listeners, the RDS route name. Requests are written by hand from
 * pre-encoded blocks. Several of these processes can share a fleet (`--loadgen-procs`): each simulates the
 * streams of the node ids it is given.
 *
 * @packageDocumentation
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { EnvoyNode, writeSmallNode } from './envoy-node.js';
import {
  TYPE_URLS,
  nodeId,
  wallNow,
  type Realism,
  type Expectation,
  type LoadCommand,
  type LoadReply,
  type PhaseResult,
  type XdsKind,
  type XdsMode,
} from './protocol.js';
import {
  LISTENER_ROUTE_NAME_PATH,
  Writer,
  anyResourceName,
  anyValueAt,
  encodeRepeatedString,
  encodeStringMap,
  readDeltaResource,
  readResponse,
  readStringsAtPath,
  type ResponseView,
} from './wire.js';

const KINDS: readonly XdsKind[] = ['cds', 'eds', 'lds', 'rds'];
const KIND_BY_URL = new Map<string, XdsKind>(KINDS.map((k) => [TYPE_URLS[k], k]));

const ADS = '/envoy.service.discovery.v3.AggregatedDiscoveryService/';
const passThrough = (b: Buffer): Buffer => b;
const AdsClient = grpc.makeGenericClientConstructor(
  {
    StreamAggregatedResources: {
      path: `${ADS}StreamAggregatedResources`,
      requestStream: true,
      responseStream: true,
      requestSerialize: passThrough,
      requestDeserialize: passThrough,
      responseSerialize: passThrough,
      responseDeserialize: passThrough,
    },
    DeltaAggregatedResources: {
      path: `${ADS}DeltaAggregatedResources`,
      requestStream: true,
      responseStream: true,
      requestSerialize: passThrough,
      requestDeserialize: passThrough,
      responseSerialize: passThrough,
      responseDeserialize: passThrough,
    },
  },
  'AggregatedDiscoveryService',
);
type Duplex = grpc.ClientDuplexStream<Buffer, Buffer>;
type AdsClientInstance = grpc.Client & {
  StreamAggregatedResources(): Duplex;
  DeltaAggregatedResources(): Duplex;
};

/** Counters of the current phase. */
const counters = {
  bytes: 0,
  responses: 0,
  requests: 0,
  errors: 0,
  retries: 0,
  firstError: undefined as string | undefined,
  firstRetryReason: undefined as string | undefined,
};

/** Progress of one stream on one expectation of the tracked update. */
interface EntryProgress {
  readonly entry: Expectation;
  remaining: Set<string> | null;
  count: number;
  done: boolean;
}

/** The update being tracked. */
class Tracker {
  doneCount = 0;
  private onAllDone: (() => void) | null = null;
  constructor(
    readonly id: string,
    readonly expect: readonly Expectation[],
    readonly streams: number,
  ) {}

  progressFor(): EntryProgress[] {
    return this.expect.map((entry) => ({
      entry,
      remaining: entry.names ? new Set(entry.names) : null,
      count: 0,
      done: false,
    }));
  }

  streamDone(): void {
    this.doneCount++;
    if (this.doneCount >= this.streams && this.onAllDone) this.onAllDone();
  }

  /** Resolves when every stream converged or after `timeoutMs`. */
  wait(timeoutMs: number): Promise<void> {
    if (this.doneCount >= this.streams) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.onAllDone = null;
        resolve();
      }, timeoutMs);
      this.onAllDone = () => {
        clearTimeout(timer);
        this.onAllDone = null;
        resolve();
      };
    });
  }
}

let tracker: Tracker | null = null;

/**
 * Interns version strings: every stream holds the same few versions, so keeping one copy of each keeps
 * the generator's heap (and its GC work) small. Bounded: cleared when it grows past 100,000 entries.
 */
const interned = new Map<string, string>();
function intern(value: string): string {
  const known = interned.get(value);
  if (known !== undefined) return known;
  if (interned.size >= 100_000) interned.clear();
  interned.set(value, value);
  return value;
}

/** Per-type state of a stream. */
interface KindState {
  /** SotW: last ACKed version_info. */
  version: string;
  /** Last nonce received. */
  nonce: string;
  /** Subscribed names (EDS/RDS), sorted (shared between streams: never changed in place); null for wildcard types. */
  names: readonly string[] | null;
  /** Pre-encoded repeated resource_names block for `names` (SotW: in this Envoy's own order). */
  namesBlock: Buffer;
  /** Whether a request for this type has been sent on the current stream. */
  subscribed: boolean;
  /** Delta: versions of the resources held, by name (kept for reconnects). */
  versions: Map<string, string>;
}

function newKindState(wildcard: boolean): KindState {
  return {
    version: '',
    nonce: '',
    names: wildcard ? null : [],
    namesBlock: Buffer.alloc(0),
    subscribed: false,
    versions: new Map(),
  };
}

/** Fisher-Yates, in place. */
function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    const t = items[i];
    items[i] = items[j]!;
    items[j] = t;
  }
  return items;
}

/**
 * Encoded `initial_resource_versions` entries (field 5, one per name and version): the generator's own memo, so
 * that a reconnect costs it a shuffle and a concatenation per stream instead of encoding every entry again. The
 * request bytes still differ per connection: the entries come in a fresh random order each time, as Envoy's do.
 * Bounded: cleared past 200,000 entries.
 */
const versionEntries = new Map<string, { version: string; bytes: Buffer }>();
function versionEntry(name: string, version: string): Buffer {
  const known = versionEntries.get(name);
  if (known !== undefined && known.version === version) return known.bytes;
  if (versionEntries.size >= 200_000) versionEntries.clear();
  const bytes = Buffer.from(new Writer(name.length + version.length + 16).mapEntry(5, name, version).finish());
  versionEntries.set(name, { version, bytes });
  return bytes;
}

/** Envoy's order: the versions held, in a fresh random order, encoded for this connection. */
function randomOrderVersions(versions: ReadonlyMap<string, string>): Buffer {
  const entries: Buffer[] = [];
  for (const [name, version] of versions) entries.push(versionEntry(name, version));
  return Buffer.concat(shuffle(entries));
}

/**
 * The `--versions-order shared` shortcut: the last block encoded per type is reused when the map has the same
 * entries (checked entry by entry), so streams holding the same versions send the same bytes.
 */
const lastInitialVersions = new Map<XdsKind, { versions: Map<string, string>; block: Buffer }>();
function sharedVersions(kind: XdsKind, versions: ReadonlyMap<string, string>): Buffer {
  const last = lastInitialVersions.get(kind);
  if (last !== undefined && last.versions.size === versions.size) {
    let same = true;
    for (const [name, version] of versions) {
      if (last.versions.get(name) !== version) {
        same = false;
        break;
      }
    }
    if (same) return last.block;
  }
  const block = encodeStringMap(5, versions);
  lastInitialVersions.set(kind, { versions: new Map(versions), block });
  return block;
}

/**
 * The generator's one-entry memos of name lists: streams of one fleet receive the same resources, so the
 * sorted list of a list of names, and the encoded block of a sorted subscribe list, are usually the ones just
 * made for the previous stream. The names are interned, so comparing two lists compares references. The
 * arrays returned are shared: nobody changes them.
 */
const lastSorted = { input: [] as readonly string[], output: [] as readonly string[] };
function sortedNames(names: readonly string[]): readonly string[] {
  if (!sameNames(lastSorted.input, names)) {
    lastSorted.input = names.slice();
    lastSorted.output = names.slice().sort();
  }
  return lastSorted.output;
}
const lastBlock: { field: number; names: readonly string[]; block: Buffer } = { field: 0, names: [], block: Buffer.alloc(0) };
function subscribeBlock(field: number, names: readonly string[]): Buffer {
  if (lastBlock.field !== field || !sameNames(lastBlock.names, names)) {
    lastBlock.field = field;
    lastBlock.names = names.slice();
    lastBlock.block = encodeRepeatedString(field, names);
  }
  return lastBlock.block;
}

/** What the generator reads of the resources of a response (interned strings; shared: nobody changes them). */
interface ResourcesRead {
  /** The resource fields of the response these were read from (a view of its bytes). */
  readonly region: Buffer;
  /** Resource names, in response order. */
  readonly names: readonly string[];
  /** Delta: the resources' versions, in response order. */
  readonly versions: readonly string[];
  /** Listeners: the RDS route names they refer to, sorted. */
  readonly routes: readonly string[];
}

/**
 * The last resources read per type: a server sends the same resources to every stream, usually in the same
 * order and encoding, so a response whose resource fields are byte for byte those of the last response of its
 * type read (one `compare` of the bytes) reuses what was read from it.
 */
const lastRead = new Map<XdsKind, ResourcesRead>();

function readResources(kind: XdsKind, mode: XdsMode, buf: Buffer, res: ResponseView): ResourcesRead {
  const last = lastRead.get(kind);
  const length = res.regionEnd - res.regionStart;
  if (
    last !== undefined && res.contiguous && last.region.length === length &&
    buf.compare(last.region, 0, length, res.regionStart, res.regionEnd) === 0
  ) {
    return last;
  }
  const names: string[] = [];
  const versions: string[] = [];
  const listeners: Uint8Array[] = [];
  const spans = res.spans;
  for (let i = 0; i < res.resources; i++) {
    const start = spans[2 * i];
    const end = spans[2 * i + 1];
    if (mode === 'sotw') {
      names.push(intern(anyResourceName(buf, start, end)));
      if (kind === 'lds') listeners.push(anyValueAt(buf, start, end));
    } else {
      const r = readDeltaResource(buf, start, end);
      names.push(intern(r.name));
      versions.push(intern(r.version));
      if (kind === 'lds' && r.bodyEnd > 0) listeners.push(anyValueAt(buf, r.bodyStart, r.bodyEnd));
    }
  }
  const routes: string[] = [];
  for (const l of listeners) readStringsAtPath(l, LISTENER_ROUTE_NAME_PATH, routes);
  const read: ResourcesRead = {
    region: res.contiguous ? buf.subarray(res.regionStart, res.regionEnd) : Buffer.alloc(0),
    names,
    versions,
    routes: [...new Set(routes)].map(intern).sort(),
  };
  if (res.contiguous) lastRead.set(kind, read);
  return read;
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Envoy's reconnect backoff for its xDS stream: jittered exponential, base 500 ms, at most 30 s. */
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 30_000;

/** Real Envoy's node (loaded once; every simulated Envoy writes it with its own id). */
let envoyNode: EnvoyNode | undefined;

/** Where streams get their HTTP/2 connection. */
interface Connections {
  /** The client (connection) stream `index` opens its next stream on. */
  take(index: number): AdsClientInstance;
  /** Called when stream `index` is done with the client it took (closed, or failed). */
  release(index: number, client: AdsClientInstance): void;
  closeAll(): void;
}

function newClient(spec: ConnectSpec): AdsClientInstance {
  return new AdsClient(spec.target, grpc.credentials.createInsecure(), {
    // A channel of its own per client: one HTTP/2 connection each.
    'grpc.use_local_subchannel_pool': 1,
    'grpc.max_receive_message_length': -1,
    'grpc.max_send_message_length': -1,
    'grpc-node.flow_control_window': spec.windowBytes,
  }) as unknown as AdsClientInstance;
}

/**
 * Envoy's way: one connection per stream, made when the stream opens and closed when it ends, so that a stream
 * retried after a failure connects again.
 */
function connectionPerStream(spec: ConnectSpec): Connections {
  const open = new Set<AdsClientInstance>();
  return {
    take: () => {
      const c = newClient(spec);
      open.add(c);
      return c;
    },
    release: (_index, c) => {
      open.delete(c);
      c.close();
    },
    closeAll: () => {
      for (const c of open) c.close();
      open.clear();
    },
  };
}

/** The `--streams-per-connection K` shortcut: K streams share each gRPC client (and its connection). */
function sharedConnections(spec: ConnectSpec): Connections {
  const clients: AdsClientInstance[] = [];
  for (let i = 0; i < Math.ceil(spec.streams / spec.streamsPerConnection); i++) clients.push(newClient(spec));
  return {
    take: (index) => clients[Math.floor(index / spec.streamsPerConnection)],
    release: () => undefined,
    closeAll: () => {
      for (const c of clients) c.close();
    },
  };
}

type ConnectSpec = Extract<LoadCommand, { cmd: 'connect' }>;

/** One simulated Envoy: one ADS stream, on its own HTTP/2 connection, reopened after failures. */
class SimulatedEnvoy {
  private call: Duplex | null = null;
  private client: AdsClientInstance | null = null;
  private cancelled = false;
  private nodeSent = false;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private connections: Connections | null = null;
  private readonly state: Record<XdsKind, KindState> = {
    cds: newKindState(true),
    eds: newKindState(false),
    lds: newKindState(true),
    rds: newKindState(false),
  };
  progress: EntryProgress[] | null = null;
  pending = 0;
  doneAt = 0;

  constructor(
    readonly index: number,
    readonly nodeId: string,
    readonly mode: XdsMode,
    readonly realism: Realism,
  ) {}

  /** Starts tracking `t` on this stream. */
  track(t: Tracker): void {
    this.progress = t.progressFor();
    this.pending = this.progress.length;
    this.doneAt = 0;
  }

  /**
   * Opens the stream. A first stream subscribes as Envoy initialises: CDS; EDS for the clusters received; LDS
   * once every cluster has its endpoints; RDS for the listeners' routes. After a disconnect the stream resumes
   * with what it holds, all four types at once, as Envoy does.
   */
  open(connections: Connections): void {
    this.connections = connections;
    this.cancelled = false;
    this.nodeSent = false;
    // Nonces belong to a stream: a new stream starts without one (versions and names are kept).
    for (const k of KINDS) {
      this.state[k].subscribed = false;
      this.state[k].nonce = '';
    }
    const client = connections.take(this.index);
    this.client = client;
    const call = this.mode === 'sotw' ? client.StreamAggregatedResources() : client.DeltaAggregatedResources();
    this.call = call;
    call.on('data', (buf: Buffer) => {
      counters.bytes += buf.length;
      counters.responses++;
      this.failures = 0;
      try {
        if (this.mode === 'sotw') this.onSotw(buf);
        else this.onDelta(buf);
      } catch (err) {
        this.fail(err);
      }
    });
    call.on('error', () => undefined);
    call.on('status', (status: grpc.StatusObject) => {
      if (this.call === call && !this.cancelled) this.retry(`${status.code} ${status.details}`);
    });
    const resume = this.state.cds.version !== '' || this.state.cds.versions.size > 0;
    this.subscribe('cds');
    if (resume) {
      if (this.state.eds.names!.length > 0) this.subscribe('eds');
      this.subscribe('lds');
      if (this.state.rds.names!.length > 0) this.subscribe('rds');
    }
  }

  /** Cancels the stream (the state is kept for the next `open`). */
  close(): void {
    this.cancelled = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.call?.cancel();
    this.call = null;
    if (this.client !== null) this.connections?.release(this.index, this.client);
    this.client = null;
  }

  /** The stream ended or never connected: Envoy opens a new one after its jittered backoff. */
  private retry(reason: string): void {
    counters.retries++;
    counters.firstRetryReason ??= `${this.nodeId}: ${reason}`;
    this.call = null;
    if (this.client !== null) this.connections?.release(this.index, this.client);
    this.client = null;
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(this.failures, 16));
    this.failures++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.cancelled && this.connections !== null) this.open(this.connections);
    }, Math.random() * ceiling);
  }

  private fail(err: unknown): void {
    counters.errors++;
    counters.firstError ??= `${this.nodeId}: ${err instanceof Error ? err.message : String(err)}`;
  }

  private write(w: Writer): void {
    counters.requests++;
    this.call?.write(w.finish());
  }

  private nodeField(w: Writer, field: number): void {
    if (this.nodeSent && !this.realism.nodeOnEveryRequest) return;
    if (this.realism.node === 'envoy') {
      envoyNode ??= new EnvoyNode();
      envoyNode.write(w, field, this.nodeId);
    } else {
      writeSmallNode(w, field, this.nodeId);
    }
    this.nodeSent = true;
  }

  /** A request writer sized for the node and `extra` bytes of other fields. */
  private writer(extra = 0): Writer {
    envoyNode ??= this.realism.node === 'envoy' ? new EnvoyNode() : undefined;
    return new Writer((envoyNode ? envoyNode.size(this.nodeId.length) : 64) + 256 + extra);
  }

  /** Sends the first request of a type on this stream. */
  private subscribe(kind: XdsKind): void {
    const s = this.state[kind];
    s.subscribed = true;
    if (this.mode === 'sotw') {
      this.sotwRequest(kind);
      return;
    }
    // Delta: initial request of the type on this stream: subscriptions (sorted, as Envoy sends them) plus what
    // is held.
    const names = s.names ? subscribeBlock(3, s.names) : undefined;
    const versions = s.versions.size === 0
      ? undefined
      : this.realism.versionsOrder === 'random' ? randomOrderVersions(s.versions) : sharedVersions(kind, s.versions);
    const w = this.writer((names?.length ?? 0) + (versions?.length ?? 0));
    this.nodeField(w, 1);
    w.string(2, TYPE_URLS[kind]);
    if (names) w.raw(names);
    if (versions) w.raw(versions);
    this.write(w);
  }

  private sotwRequest(kind: XdsKind): void {
    const s = this.state[kind];
    const w = this.writer(s.namesBlock.length);
    w.string(1, s.version);
    this.nodeField(w, 2);
    w.raw(s.namesBlock);
    w.string(4, TYPE_URLS[kind]);
    w.string(5, s.nonce);
    this.write(w);
  }

  /** Sets the names of a non-wildcard type (sorted); subscribes or resubscribes when they changed. */
  private setNames(kind: XdsKind, names: readonly string[]): void {
    const s = this.state[kind];
    const old = s.names ?? [];
    if (s.subscribed && sameNames(old, names)) return;
    if (this.mode === 'sotw') {
      s.names = names;
      // Envoy's SotW name lists come in its own hash order, not sorted.
      s.namesBlock = encodeRepeatedString(3, shuffle(names.slice()));
      s.subscribed = true;
      this.sotwRequest(kind);
      return;
    }
    if (!s.subscribed) {
      s.names = names;
      this.subscribe(kind);
      return;
    }
    const next = new Set(names);
    const prev = new Set(old);
    const added = names.filter((n) => !prev.has(n));
    const removed = old.filter((n) => !next.has(n));
    s.names = names;
    for (const n of removed) s.versions.delete(n);
    const w = this.writer();
    this.nodeField(w, 1);
    w.string(2, TYPE_URLS[kind]);
    w.raw(subscribeBlock(3, added));
    w.raw(subscribeBlock(4, removed));
    this.write(w);
  }

  /** Records what a response delivered for the tracked update. */
  private observe(kind: XdsKind, names: readonly string[] | null, count: number): void {
    if (!this.progress || this.pending === 0) return;
    for (const p of this.progress) {
      if (p.done || p.entry.kind !== kind) continue;
      if (p.remaining) {
        if (names) for (const n of names) p.remaining.delete(n);
        if (p.remaining.size === 0) p.done = true;
      } else {
        p.count = this.mode === 'sotw' ? Math.max(p.count, count) : p.count + count;
        if (p.count >= (p.entry.count ?? 0)) p.done = true;
      }
      if (p.done) this.pending--;
    }
  }

  /** Called after the ACK of a response was written. */
  private checkDone(): void {
    if (this.progress && this.pending === 0 && this.doneAt === 0) {
      this.doneAt = wallNow();
      tracker?.streamDone();
    }
  }

  private needNames(kind: XdsKind): boolean {
    if (kind === 'cds' || kind === 'lds') return true;
    return this.progress?.some((p) => !p.done && p.entry.kind === kind && p.remaining !== null) ?? false;
  }

  /** Envoy asks for listeners once its clusters are initialised: every cluster has its endpoints. */
  private maybeSubscribeListeners(edsDelivered: number): void {
    if (this.state.lds.subscribed) return;
    const wanted = this.state.eds.names?.length ?? 0;
    const held = this.mode === 'sotw' ? edsDelivered : this.state.eds.versions.size;
    if (held >= wanted) this.subscribe('lds');
  }

  private onSotw(buf: Buffer): void {
    const res = readResponse(buf);
    const kind = KIND_BY_URL.get(res.typeUrl);
    if (!kind) throw new Error(`response of unexpected type ${res.typeUrl}`);
    const s = this.state[kind];
    const count = res.resources;
    const read = this.needNames(kind) ? readResources(kind, 'sotw', buf, res) : null;
    s.version = intern(res.version);
    s.nonce = res.nonce;
    this.observe(kind, read?.names ?? null, count);
    // Envoy's order: the subscriptions a response leads to go out before its ACK.
    if (kind === 'cds') this.setNames('eds', sortedNames(read!.names));
    else if (kind === 'lds') this.setNames('rds', read!.routes);
    this.sotwRequest(kind); // ACK
    if (kind === 'eds') this.maybeSubscribeListeners(count);
    this.checkDone();
  }

  private onDelta(buf: Buffer): void {
    const res = readResponse(buf);
    const kind = KIND_BY_URL.get(res.typeUrl);
    if (!kind) throw new Error(`response of unexpected type ${res.typeUrl}`);
    const s = this.state[kind];
    const count = res.resources;
    const nonce = res.nonce;
    const removed = res.removed.length > 0 ? res.removed.slice() : undefined;
    const read = readResources(kind, 'delta', buf, res);
    let changedNames = false;
    for (let i = 0; i < count; i++) {
      const name = read.names[i];
      if (!s.versions.has(name)) changedNames = true;
      s.versions.set(name, read.versions[i]);
    }
    for (const name of removed ?? []) changedNames = s.versions.delete(name) || changedNames;
    s.nonce = nonce;
    this.observe(kind, read.names, count);
    // Envoy's order: the subscriptions a response leads to go out before its ACK.
    if (kind === 'cds') {
      if (changedNames || !this.state.eds.subscribed) this.setNames('eds', sortedNames([...s.versions.keys()]));
    } else if (kind === 'lds') {
      // Route names come from the listeners held; this response's listeners add theirs.
      const all = new Set([...(this.state.rds.names ?? []), ...read.routes]);
      this.setNames('rds', [...all].sort());
    }
    const ack = this.writer();
    this.nodeField(ack, 1);
    ack.string(2, TYPE_URLS[kind]);
    ack.string(6, s.nonce);
    this.write(ack);
    if (kind === 'eds') this.maybeSubscribeListeners(count);
    this.checkDone();
  }

}

const envoys: SimulatedEnvoy[] = [];
let connections: Connections | null = null;
let connectSpec: ConnectSpec | null = null;

let phase = { startWall: 0, cpu: process.cpuUsage() };
/** The generator's own event-loop delay: a generator that falls behind shows here. */
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

function startPhase(): void {
  counters.bytes = 0;
  counters.responses = 0;
  counters.requests = 0;
  counters.errors = 0;
  counters.retries = 0;
  counters.firstError = undefined;
  counters.firstRetryReason = undefined;
  phase = { startWall: wallNow(), cpu: process.cpuUsage() };
  loopDelay.reset();
}

function result(id: string, t0: number): PhaseResult {
  const cpu = process.cpuUsage(phase.cpu);
  const latencies: number[] = [];
  for (const e of envoys) if (e.doneAt > 0) latencies.push(e.doneAt - t0);
  latencies.sort((a, b) => a - b);
  const base = {
    type: 'result' as const,
    id,
    streams: envoys.length,
    converged: latencies.length,
    latenciesMs: latencies,
    bytesReceived: counters.bytes,
    responsesReceived: counters.responses,
    requestsSent: counters.requests,
    errors: counters.errors,
    retries: counters.retries,
    ...(counters.firstRetryReason === undefined ? {} : { firstRetryReason: counters.firstRetryReason }),
    cpuUserMs: cpu.user / 1000,
    cpuSystemMs: cpu.system / 1000,
    wallMs: wallNow() - phase.startWall,
    rssBytes: process.memoryUsage.rss(),
    loopDelayMaxMs: loopDelay.max / 1e6,
  };
  return counters.firstError === undefined ? base : { ...base, firstError: counters.firstError };
}

/**
 * Waits until no response arrived for `quietMs` (bounded by `maxMs`), so that a phase's bytes and CPU
 * include what the server sends after the tracked resources (e.g. SotW LDS/RDS resent with a new version).
 */
async function settle(quietMs: number, maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  let last = counters.responses;
  let quietSince = Date.now();
  for (let i = 0; i < 100_000 && Date.now() < deadline; i++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    if (counters.responses !== last) {
      last = counters.responses;
      quietSince = Date.now();
    } else if (Date.now() - quietSince >= quietMs) {
      return;
    }
  }
}

/** Quiet time that ends a phase, ms. */
const SETTLE_QUIET_MS = 250;

function beginTracking(id: string, expect: readonly Expectation[]): void {
  tracker = new Tracker(id, expect, envoys.length);
  for (const e of envoys) e.track(tracker);
}

async function handle(msg: LoadCommand): Promise<LoadReply> {
  switch (msg.cmd) {
    case 'connect': {
      const resume = envoys.length > 0;
      if (resume && (connectSpec?.streams !== msg.streams || connectSpec.mode !== msg.mode)) {
        throw new Error('a reconnect must keep the stream count and mode');
      }
      connectSpec = msg;
      if (!resume) {
        for (let i = 0; i < msg.streams; i++) {
          envoys.push(new SimulatedEnvoy(i, nodeId(msg.firstNode + i), msg.mode, msg.realism));
        }
      }
      startPhase();
      const t0 = wallNow();
      beginTracking(msg.id, msg.expect);
      const pool = msg.streamsPerConnection <= 1 ? connectionPerStream(msg) : sharedConnections(msg);
      connections = pool;
      for (const e of envoys) e.open(pool);
      await tracker!.wait(msg.timeoutMs);
      await settle(SETTLE_QUIET_MS, msg.timeoutMs);
      return result(msg.id, t0);
    }
    case 'mark':
      startPhase();
      beginTracking(msg.id, msg.expect);
      return { type: 'marked', id: msg.id };
    case 'await': {
      if (!tracker || tracker.id !== msg.id) throw new Error(`update ${msg.id} was not marked`);
      await tracker.wait(msg.timeoutMs);
      await settle(SETTLE_QUIET_MS, msg.timeoutMs);
      return result(msg.id, msg.t0);
    }
    case 'disconnect':
      closeAll();
      return { type: 'disconnected', id: msg.id };
    case 'quit':
      closeAll();
      setImmediate(() => process.exit(0));
      return { type: 'disconnected', id: msg.id };
  }
}

function closeAll(): void {
  for (const e of envoys) e.close();
  connections?.closeAll();
  connections = null;
}

if (!process.send) {
  console.error('load-generator.ts is started by the fleet orchestrator (child_process.fork)');
  process.exit(2);
}
const send = (reply: LoadReply): void => {
  process.send!(reply);
};
process.on('message', (msg: LoadCommand) => {
  handle(msg).then(send, (err: unknown) =>
    send({ type: 'error', id: msg.id, message: err instanceof Error ? err.message : String(err) }),
  );
});
// The orchestrator is gone: stop.
process.on('disconnect', () => {
  closeAll();
  process.exit(0);
});
send({ type: 'ready' });
