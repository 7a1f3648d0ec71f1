// combineCallbacks: several callback objects as one.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { combineCallbacks, type Callbacks } from '../../src/server/index.js';

test('each hook calls every object that has it, in order, with its own this', () => {
  const seen: string[] = [];
  class Logged implements Callbacks {
    readonly name = 'class';
    onAck(): void {
      seen.push(this.name);
    }
  }
  const combined = combineCallbacks({ onAck: () => void seen.push('first') }, new Logged(), { onNack: () => void seen.push('nack') });
  combined.onAck!({} as never);
  assert.deepEqual(seen, ['first', 'class']);
  assert.ok(!('onStreamClosed' in combined), 'a hook nobody has stays absent');
});

test('a deciding hook that returns a promise makes the next wait, and its rejection vetoes', async () => {
  const order: string[] = [];
  const slow: Callbacks = { onStreamOpen: () => new Promise<void>((resolve) => setTimeout(() => (order.push('slow'), resolve()), 20)) };
  const after: Callbacks = { onStreamOpen: () => void order.push('after') };
  await combineCallbacks(slow, after).onStreamOpen!(1, '', {} as never);
  assert.deepEqual(order, ['slow', 'after']);
  const veto: Callbacks = { onStreamOpen: () => Promise.reject(new Error('denied')) };
  await assert.rejects(Promise.resolve(combineCallbacks(veto, after).onStreamOpen!(2, '', {} as never)), /denied/);
  assert.deepEqual(order, ['slow', 'after'], 'nothing after a veto');
});
