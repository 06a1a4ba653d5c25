import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ImageSplit } from './dataset.js';
import { sourceRows, splitFingerprint } from './fingerprint.js';
import { loadDataset, registerDataset } from './registry.js';
import { subset } from './subset.js';
import { pattern } from './testing/idx-writer.js';

/** 50 four-pixel images whose first pixel is their row number. */
function fingerprinted(): ImageSplit {
  const count = 50;
  const images = new Uint8Array(count * 4);
  for (let i = 0; i < count; i++) images.set([i, 1, 2, 3], 4 * i);
  const split: ImageSplit = { images, labels: new Uint8Array(count), count };
  split.fingerprint = splitFingerprint(images, [2, 2, 1]);
  return split;
}

test('a fingerprint names the shape and every pixel', () => {
  const a = fingerprinted();
  assert.match(a.fingerprint ?? '', /^sha256:[0-9a-f]{64}$/);
  assert.equal(splitFingerprint(a.images.slice(), [2, 2, 1]), a.fingerprint);
  const changed = a.images.slice();
  changed[123] ^= 1;
  assert.notEqual(splitFingerprint(changed, [2, 2, 1]), a.fingerprint);
  // The same bytes read as another shape are another split.
  assert.notEqual(splitFingerprint(a.images, [4, 1, 1]), a.fingerprint);
});

test("a subset records each row's number in the fingerprinted split, through subsets of subsets", () => {
  const full = fingerprinted();
  const first = subset(full, 20, 4);
  assert.equal(first.origin?.fingerprint, full.fingerprint);
  assert.equal(first.fingerprint, undefined);
  for (let k = 0; k < first.count; k++) {
    // The first pixel of a row is its row number in the full split.
    assert.equal(first.origin?.rows[k], first.images[4 * k]);
  }
  const second = subset(first, 7, 9);
  assert.equal(second.origin?.fingerprint, full.fingerprint);
  for (let k = 0; k < second.count; k++) {
    assert.equal(second.origin?.rows[k], second.images[4 * k]);
  }
  const picked = sourceRows(second, [6, 0, 3]);
  assert.equal(picked?.dataset, full.fingerprint);
  assert.deepEqual(
    Array.from(picked?.rows ?? []),
    [6, 0, 3].map((k) => second.images[4 * k]),
  );
  // The full split's own rows are their numbers.
  assert.deepEqual(Array.from(sourceRows(full, [5, 9])?.rows ?? []), [5, 9]);
});

test('a split without a fingerprint has no source rows, nor do its subsets', () => {
  const plain: ImageSplit = { ...fingerprinted(), fingerprint: undefined };
  assert.equal(sourceRows(plain, [1]), null);
  const part = subset(plain, 5, 1);
  assert.equal(part.origin, undefined);
  assert.equal(sourceRows(part, [0]), null);
});

test('loadDataset fingerprints the training split: the same pixels, the same fingerprint', async () => {
  // A loader whose pixels depend on its directory argument.
  registerDataset('fingerprint-test', async (dir) => {
    const salt = Number(dir);
    const split = (n: number): ImageSplit => ({
      images: pattern(n * 4, salt),
      labels: new Uint8Array(n),
      count: n,
    });
    return {
      name: 'fingerprint-test',
      train: split(6),
      test: split(2),
      shape: [2, 2, 1],
      numClasses: 2,
      classNames: ['a', 'b'],
      mean: [0.5],
      std: [0.25],
    };
  });
  const a = await loadDataset({ name: 'fingerprint-test', dir: '1' });
  const b = await loadDataset({ name: 'fingerprint-test', dir: '1' });
  const c = await loadDataset({ name: 'fingerprint-test', dir: '2' });
  assert.equal(a.train.fingerprint, splitFingerprint(a.train.images, [2, 2, 1]));
  assert.equal(b.train.fingerprint, a.train.fingerprint);
  assert.notEqual(c.train.fingerprint, a.train.fingerprint);
  assert.equal(a.test.fingerprint, undefined);
});
