/**
 * Several {@link Callbacks} objects as one, so that metrics, logging and authorization each keep their own.
 */
import type { Callbacks } from './callbacks.js';

/** Every hook name of {@link Callbacks}. */
const HOOKS = [
  'onStreamOpen',
  'onStreamClosed',
  'onStreamRequest',
  'onStreamResponse',
  'onDeltaStreamOpen',
  'onDeltaStreamClosed',
  'onStreamDeltaRequest',
  'onStreamDeltaResponse',
  'onFetchRequest',
  'onFetchResponse',
  'onAck',
  'onNack',
] as const satisfies readonly (keyof Callbacks)[];

type AnyHook = (...args: unknown[]) => unknown;

/**
 * Combines callbacks: each hook calls the hook of every object that has it, in the order given (as methods, so
 * class-based callbacks keep their `this`). When one returns a promise (an `…Open` or `…Request` hook deciding),
 * the next waits for it, and the combined hook returns the chain: the first rejection vetoes, as it would alone.
 *
 * ```ts
 * createServer(cache, { callbacks: combineCallbacks(metrics.callbacks, { onNack: (e) => log.warn(e) }) });
 * ```
 */
export function combineCallbacks(...all: readonly Callbacks[]): Callbacks {
  const combined: Partial<Record<keyof Callbacks, AnyHook>> = {};
  for (const name of HOOKS) {
    const owners = all.filter((callbacks) => typeof callbacks[name] === 'function');
    if (owners.length === 0) continue;
    if (owners.length === 1) {
      const [owner] = owners as [Callbacks];
      combined[name] = (...args) => (owner[name] as AnyHook).apply(owner, args);
      continue;
    }
    combined[name] = (...args) => {
      let chain: Promise<unknown> | undefined;
      for (const owner of owners) {
        const call = () => (owner[name] as AnyHook).apply(owner, args);
        if (chain !== undefined) {
          chain = chain.then(call);
          continue;
        }
        const result = call();
        if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') chain = result as Promise<unknown>;
      }
      return chain?.then(() => undefined);
    };
  }
  return combined as Callbacks;
}
