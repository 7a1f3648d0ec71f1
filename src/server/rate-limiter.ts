import type { RequestRateLimit } from './options.js';

/** A token bucket: a stream may send `burst` requests at once and `perSecond` on average. */
export class RateLimiter {
  readonly #perMs: number;
  readonly #burst: number;
  #tokens: number;
  #last: number;

  /** @param limit - the allowed rate */
  constructor(limit: RequestRateLimit, now: number = performance.now()) {
    this.#perMs = limit.perSecond / 1000;
    this.#burst = limit.burst;
    this.#tokens = limit.burst;
    this.#last = now;
  }

  /** Takes a token; false when the bucket is empty (the caller is over its rate). */
  take(now: number = performance.now()): boolean {
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#last) * this.#perMs);
    this.#last = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
