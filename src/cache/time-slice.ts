/**
 * Time slicing, for the caches' long synchronous work (answering thousands of watches after `setSnapshot`,
 * encoding tens of thousands of resources in `Snapshot.create`): work in slices of a few milliseconds and let
 * the event loop run between them, so that streams, timers and new connections keep being served.
 */

/**
 * Tells long work when the current turn of the event loop has used its slice. The slice opens on the first
 * question in a turn and closes with the turn, so that several pieces of work in one turn share one slice.
 */
export class TimeSlice {
  readonly #sliceMs: number;
  #open = false;
  #end = 0;

  /** @param sliceMs - how long one turn may work before it yields (milliseconds) */
  constructor(sliceMs: number) {
    if (!(sliceMs >= 0)) throw new RangeError(`a time slice must be a non-negative number of milliseconds, got ${sliceMs}`);
    this.#sliceMs = sliceMs;
  }

  /** True when this turn's slice is used up: the work should yield (see {@link nextTurn}) and resume later. */
  spent(): boolean {
    if (!this.#open) {
      this.#open = true;
      this.#end = performance.now() + this.#sliceMs;
      setImmediate(() => (this.#open = false));
    }
    return performance.now() >= this.#end;
  }
}

/** Resolves in a later turn of the event loop, after the I/O that is ready has run. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
