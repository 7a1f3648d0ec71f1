/**
 * Admission of xDS streams: how many connections, streams per connection, streams per node and new streams per
 * second the server accepts. Each refusal is a `RESOURCE_EXHAUSTED` status that names the limit and the option
 * that sets it, so that an operator reading Envoy's log knows what to raise.
 *
 * A connection is told apart by the client's address and port as gRPC reports it (`call.getPeer()`), and counts
 * while it carries at least one open xDS stream: a connection with none holds no state of ours.
 */
import { Code, excerpt, XdsError } from '../resource/xds-error.js';
import type { RequestRateLimit } from './options.js';
import { RateLimiter } from './rate-limiter.js';

/** The limits on streams; `false` turns one off. */
export interface StreamLimitOptions {
  /** Connections with open xDS streams. */
  readonly maxConnections: number | false;
  /** xDS streams open at once on one connection. */
  readonly maxStreamsPerConnection: number | false;
  /** xDS streams open at once for one node id. */
  readonly maxStreamsPerNode: number | false;
  /** New xDS streams accepted per second, server-wide. */
  readonly newStreamRate: RequestRateLimit | false;
}

/** One admitted stream: what it counts against. Released exactly once, by {@link StreamLimits.release}. */
export class StreamLease {
  /** The connection (client address and port). */
  readonly peer: string;
  /** The node id, once the first request named it. */
  nodeId: string | undefined;
  released = false;

  /** @param peer - the client's address and port */
  constructor(peer: string) {
    this.peer = peer;
  }
}

function exhausted(message: string): XdsError {
  return new XdsError(Code.RESOURCE_EXHAUSTED, message);
}

/** Counts the streams open on a server and refuses those beyond its limits. */
export class StreamLimits {
  readonly #options: StreamLimitOptions;
  readonly #perConnection = new Map<string, number>();
  readonly #perNode = new Map<string, number>();
  readonly #rate: RateLimiter | undefined;

  /** @param options - the limits */
  constructor(options: StreamLimitOptions) {
    this.#options = options;
    this.#rate = options.newStreamRate === false ? undefined : new RateLimiter(options.newStreamRate);
  }

  /** Connections with at least one open stream. */
  get connections(): number {
    return this.#perConnection.size;
  }

  /**
   * Admits a new stream from `peer`, or throws `RESOURCE_EXHAUSTED` saying which limit it is over. Nothing is
   * counted for a refused stream.
   */
  admit(peer: string): StreamLease {
    const { maxConnections, maxStreamsPerConnection, newStreamRate } = this.#options;
    const onConnection = this.#perConnection.get(peer) ?? 0;
    if (onConnection === 0 && maxConnections !== false && this.#perConnection.size >= maxConnections) {
      throw exhausted(`the server has ${this.#perConnection.size} connections with xDS streams, its limit (option maxConnections is ${maxConnections}); connect to another replica or retry later`);
    }
    if (maxStreamsPerConnection !== false && onConnection >= maxStreamsPerConnection) {
      throw exhausted(`this connection has ${onConnection} xDS streams open, the server's limit (option maxStreamsPerConnection is ${maxStreamsPerConnection}); close streams you no longer use, or use ADS (one stream for every type)`);
    }
    if (this.#rate !== undefined && !this.#rate.take()) {
      const rate = newStreamRate as RequestRateLimit;
      throw exhausted(`too many new xDS streams: the server accepts ${rate.perSecond} per second (bursts of ${rate.burst}; option newStreamRate); retry with backoff`);
    }
    this.#perConnection.set(peer, onConnection + 1);
    return new StreamLease(peer);
  }

  /**
   * Counts the stream against its node, once its first request named it, or throws `RESOURCE_EXHAUSTED` when
   * the node already has as many streams as allowed.
   */
  bindNode(lease: StreamLease, nodeId: string): void {
    if (lease.released || lease.nodeId !== undefined) return;
    const max = this.#options.maxStreamsPerNode;
    const count = this.#perNode.get(nodeId) ?? 0;
    if (max !== false && count >= max) {
      throw exhausted(`node "${excerpt(nodeId)}" already has ${count} xDS streams open, the server's limit (option maxStreamsPerNode is ${max}); an Envoy needs one ADS stream, or one per type without ADS`);
    }
    this.#perNode.set(nodeId, count + 1);
    lease.nodeId = nodeId;
  }

  /** Releases what the stream counted against; a second call does nothing. */
  release(lease: StreamLease): void {
    if (lease.released) return;
    lease.released = true;
    decrement(this.#perConnection, lease.peer);
    if (lease.nodeId !== undefined) decrement(this.#perNode, lease.nodeId);
  }
}

function decrement(counts: Map<string, number>, key: string): void {
  const count = (counts.get(key) ?? 0) - 1;
  if (count <= 0) counts.delete(key);
  else counts.set(key, count);
}
