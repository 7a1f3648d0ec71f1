/**
 * The fleet benchmark's node hash, as a module: every node maps to the one cache key `fleet`. Our server's worker
 * mode loads it in each worker (a function cannot be sent to another process).
 *
 * @packageDocumentation
 */

/** The one cache key every node maps to. */
export const FLEET_KEY = 'fleet';

/** Maps every node to {@link FLEET_KEY}. */
export default function fleetHash(): string {
  return FLEET_KEY;
}
