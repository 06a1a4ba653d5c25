import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createRandom } from './random.js';

function moments(values: number[]): { mean: number; variance: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length;
  return { mean, variance };
}

function draw(n: number, f: () => number): number[] {
  return Array.from({ length: n }, f);
}

describe('createRandom', () => {
  test('is deterministic per seed and differs across seeds', () => {
    const r1 = createRandom(42);
    const r2 = createRandom(42);
    const r3 = createRandom(43);
    const x = draw(100, () => r1.next());
    assert.deepEqual(
      x,
      draw(100, () => r2.next()),
    );
    assert.notDeepEqual(
      x,
      draw(100, () => r3.next()),
    );
    for (const v of x) assert.ok(v >= 0 && v < 1);
  });

  test('uniform and int stay in range with the right mean', () => {
    const random = createRandom(1);
    const u = draw(20000, () => random.uniform(-2, 4));
    assert.ok(u.every((v) => v >= -2 && v < 4));
    assert.ok(Math.abs(moments(u).mean - 1) < 0.05);
    const counts = new Array(5).fill(0);
    for (let i = 0; i < 20000; i++) counts[random.int(5)]++;
    for (const c of counts) assert.ok(Math.abs(c - 4000) < 300, `count ${c}`);
  });

  test('normal has mean 0 and variance 1', () => {
    const random = createRandom(2);
    const { mean, variance } = moments(draw(40000, () => random.normal()));
    assert.ok(Math.abs(mean) < 0.02, `mean ${mean}`);
    assert.ok(Math.abs(variance - 1) < 0.03, `variance ${variance}`);
  });

  test('gamma(k) has mean k and variance k, also for k < 1', () => {
    const random = createRandom(3);
    for (const shape of [0.3, 1, 2.5]) {
      const values = draw(40000, () => random.gamma(shape));
      assert.ok(values.every((v) => v >= 0));
      const { mean, variance } = moments(values);
      assert.ok(
        Math.abs(mean - shape) < 0.05 * shape + 0.01,
        `shape ${shape} mean ${mean}`,
      );
      assert.ok(Math.abs(variance - shape) < 0.1 * shape + 0.01, `var ${variance}`);
    }
  });

  test('beta(a, a) has mean 1/2 and variance 1/(4(2a+1))', () => {
    const random = createRandom(4);
    for (const a of [0.2, 1, 2]) {
      const values = draw(40000, () => random.beta(a, a));
      assert.ok(values.every((v) => v >= 0 && v <= 1));
      const { mean, variance } = moments(values);
      assert.ok(Math.abs(mean - 0.5) < 0.01, `a=${a} mean ${mean}`);
      const want = 1 / (4 * (2 * a + 1));
      assert.ok(Math.abs(variance - want) < 0.1 * want, `a=${a} variance ${variance}`);
    }
  });

  test('permutation contains every index once and is reproducible', () => {
    const p = createRandom(9).permutation(1000);
    assert.deepEqual(
      Array.from(p).sort((a, b) => a - b),
      Array.from({ length: 1000 }, (_, i) => i),
    );
    assert.deepEqual(p, createRandom(9).permutation(1000));
    assert.notDeepEqual(
      Array.from(p),
      Array.from({ length: 1000 }, (_, i) => i),
    );
  });

  test('every position is equally likely in a small permutation', () => {
    const random = createRandom(10);
    const firstCounts = new Array(4).fill(0);
    for (let i = 0; i < 8000; i++) firstCounts[random.permutation(4)[0]]++;
    for (const c of firstCounts) assert.ok(Math.abs(c - 2000) < 200, `count ${c}`);
  });

  test('rejects bad arguments naming them', () => {
    const random = createRandom(0);
    assert.throws(() => createRandom(Number.NaN), /seed/);
    assert.throws(() => random.gamma(0), /shape/);
    assert.throws(() => random.int(0), /int/);
    assert.throws(() => random.permutation(-1), /permutation/);
  });
});
