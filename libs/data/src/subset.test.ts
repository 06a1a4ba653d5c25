import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ImageSplit } from './dataset.js';
import { DatasetError } from './errors.js';
import { seededRandom } from './random.js';
import { subset } from './subset.js';

/** 100 two-pixel "images" whose pixels encode their index. */
function split(): ImageSplit {
  const count = 100;
  const images = new Uint8Array(count * 2);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    images[2 * i] = i;
    images[2 * i + 1] = 255 - i;
    labels[i] = i % 10;
  }
  return { images, labels, count };
}

test('the same seed picks the same subset; another seed another one', () => {
  const a = subset(split(), 20, 7);
  const b = subset(split(), 20, 7);
  const c = subset(split(), 20, 8);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.images, c.images);
});

test('a subset holds n distinct rows, in order, with their own labels', () => {
  const s = subset(split(), 30, 3);
  assert.equal(s.count, 30);
  assert.equal(s.images.length, 60);
  const picked: number[] = [];
  for (let k = 0; k < s.count; k++) {
    const i = s.images[2 * k];
    assert.equal(s.images[2 * k + 1], 255 - i);
    assert.equal(s.labels[k], i % 10);
    picked.push(i);
  }
  assert.deepEqual(
    picked,
    [...new Set(picked)].sort((x, y) => x - y),
  );
  assert.deepEqual(subset(split(), 100, 1).images, split().images);
});

test('n outside [1, count] is an error naming the range', () => {
  for (const n of [0, 101, 2.5]) {
    assert.throws(
      () => subset(split(), n, 1),
      (err: unknown) =>
        err instanceof DatasetError &&
        err.message === `subset: expected n to be an integer in [1, 100], got ${n}`,
    );
  }
});

test('the seeded generator is deterministic and roughly uniform', () => {
  const r1 = seededRandom(42);
  const r2 = seededRandom(42);
  const buckets = new Array(10).fill(0);
  for (let i = 0; i < 10000; i++) {
    const x = r1();
    assert.equal(x, r2());
    assert.ok(x >= 0 && x < 1);
    buckets[Math.floor(x * 10)]++;
  }
  for (const b of buckets) assert.ok(b > 850 && b < 1150, `bucket ${b}`);
});
