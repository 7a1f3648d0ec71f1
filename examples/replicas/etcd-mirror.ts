// A copy of every key under a prefix of etcd, kept in step with the store: one read of the prefix, then a watch
// from the revision after it, so that no change falls between the two. The events of one etcd transaction come in
// one watch response and are applied together.
import type { Etcd3, IWatchResponse, Watcher } from 'etcd3';

/** What a mirror tells its owner. */
export interface MirrorListener {
  /** The copy changed (or was read in full); `revision` is the store revision it now reflects. */
  onChange(revision: string): void;
  /** Something went wrong; the mirror tries again by itself. */
  onError(error: Error, what: string): void;
}

/** Wait before reading the prefix again after a failure. */
const RETRY_MS = 1_000;

/** Keys and values under a prefix, as of {@link EtcdMirror.revision}. */
export class EtcdMirror {
  /** Every key under the prefix with its value (UTF-8). */
  readonly entries = new Map<string, string>();
  /** The store revision the copy reflects ('0' before the first read). */
  revision = '0';
  readonly #client: Etcd3;
  readonly #prefix: string;
  readonly #listener: MirrorListener;
  #watcher: Watcher | undefined;
  #retry: NodeJS.Timeout | undefined;
  #closed = false;

  /**
   * @param client - an etcd client
   * @param prefix - the key prefix to mirror
   * @param listener - told of every change and error
   */
  constructor(client: Etcd3, prefix: string, listener: MirrorListener) {
    this.#client = client;
    this.#prefix = prefix;
    this.#listener = listener;
  }

  /** Reads the prefix and starts watching it. Failures are reported and retried; this never rejects. */
  start(): void {
    void this.#sync();
  }

  /** Stops watching. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    await this.#watcher?.cancel().catch(() => undefined);
  }

  async #sync(): Promise<void> {
    try {
      const read = await this.#client.getAll().prefix(this.#prefix).exec();
      if (this.#closed) return;
      this.entries.clear();
      for (const kv of read.kvs) this.entries.set(kv.key.toString('utf8'), kv.value.toString('utf8'));
      this.revision = read.header.revision;
      this.#listener.onChange(this.revision);

      const watcher = await this.#client
        .watch()
        .prefix(this.#prefix)
        .startRevision(String(BigInt(this.revision) + 1n))
        .create();
      if (this.#closed) {
        await watcher.cancel();
        return;
      }
      this.#watcher = watcher;
      watcher.on('data', (response) => this.#apply(response));
      watcher.on('disconnected', (error) => this.#listener.onError(error, `watch lost its connection; resuming from revision ${this.revision}`));
      // The client resumes a dropped watch from the last revision it saw. An error it cannot resume from (the
      // revision was compacted away) ends the watch: read everything again.
      watcher.on('error', (error) => {
        this.#listener.onError(error, 'watch failed; reading the prefix again');
        void watcher.cancel().catch(() => undefined);
        if (this.#watcher === watcher) this.#watcher = undefined;
        this.#later();
      });
    } catch (error) {
      this.#listener.onError(error instanceof Error ? error : new Error(String(error)), `cannot read ${this.#prefix}; retrying in ${RETRY_MS} ms`);
      this.#later();
    }
  }

  #later(): void {
    if (this.#closed) return;
    clearTimeout(this.#retry);
    this.#retry = setTimeout(() => void this.#sync(), RETRY_MS);
  }

  #apply(response: IWatchResponse): void {
    if (response.events.length === 0) return;
    for (const event of response.events) {
      const key = event.kv.key.toString('utf8');
      if (event.type === 'Delete') this.entries.delete(key);
      else this.entries.set(key, event.kv.value.toString('utf8'));
    }
    this.revision = response.header.revision;
    this.#listener.onChange(this.revision);
  }
}
