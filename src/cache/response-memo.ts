/**
 * The memo that lets streams answered with the same content share one response object (and so one assembled
 * body), without letting clients decide what stays in memory.
 *
 * Which subset of a type a client subscribes to is the client's choice, so a memo of responses by subset could
 * be grown by clients without end. This one holds its responses weakly: a response is shared while some stream
 * still holds it (queued or being written) and released with the last of them, whatever keys clients produce.
 * Its keys are held until then, and they are bounded in size: past the bound, responses are made unshared.
 */
export class WeakResponseMemo<R extends object> {
  readonly #entries = new Map<string, WeakRef<R>>();
  readonly #registry = new FinalizationRegistry<string>((key) => this.#forgetIfGone(key));
  readonly #maxKeyChars: number;
  #keyChars = 0;

  /** @param maxKeyChars - the most key characters held at once; keys beyond it are not memoised */
  constructor(maxKeyChars: number) {
    this.#maxKeyChars = maxKeyChars;
  }

  /** Key characters held now (for tests and accounting). */
  get keyChars(): number {
    return this.#keyChars;
  }

  /** The live response for `key`, or a new one from `make` (memoised if the key bound allows). */
  get(key: string, make: () => R): R {
    const found = this.#entries.get(key)?.deref();
    if (found !== undefined) return found;
    this.#forgetIfGone(key);
    const made = make();
    if (this.#keyChars + key.length <= this.#maxKeyChars) {
      this.#entries.set(key, new WeakRef(made));
      this.#keyChars += key.length;
      this.#registry.register(made, key);
    }
    return made;
  }

  /** Drops the entry of `key` if its response was collected (a later live entry for the key stays). */
  #forgetIfGone(key: string): void {
    const ref = this.#entries.get(key);
    if (ref === undefined || ref.deref() !== undefined) return;
    this.#entries.delete(key);
    this.#keyChars -= key.length;
  }
}
