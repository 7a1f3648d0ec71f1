// LayeredVersions: a stream's own changes over a shared map of versions, checked against a plain Map.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LayeredVersions } from '../../src/server/known-versions.js';

test('reads, changes and iteration match a plain map, and the shared base never changes', () => {
  let seed = 3;
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let trial = 0; trial < 200; trial++) {
    const baseSize = random(120);
    const base = new Map(Array.from({ length: baseSize }, (_, i) => [`r${i}`, `h${random(3)}`]));
    const frozen = [...base];
    const layered = new LayeredVersions(base);
    const model = new Map(base);
    for (let step = 0; step < 300; step++) {
      const name = `r${random(160)}`;
      if (random(3) === 0) {
        assert.equal(layered.delete(name), model.delete(name), `trial ${trial} step ${step}: delete ${name}`);
      } else {
        const version = random(5) === 0 ? '' : `h${random(4)}`;
        layered.set(name, version);
        model.set(name, version);
      }
      assert.equal(layered.size, model.size, `trial ${trial} step ${step}: size`);
      const probe = `r${random(160)}`;
      assert.equal(layered.get(probe), model.get(probe));
      assert.equal(layered.has(probe), model.has(probe));
    }
    assert.deepEqual(new Map(layered), model);
    assert.deepEqual([...layered.keys()].sort(), [...model.keys()].sort());
    assert.deepEqual([...layered.values()].sort(), [...model.values()].sort());
    const seen: string[] = [];
    layered.forEach((version, name) => seen.push(`${name}=${version}`));
    assert.deepEqual(seen.sort(), [...model].map(([n, v]) => `${n}=${v}`).sort());
    assert.deepEqual([...base], frozen, 'the base is never changed');
  }
});
