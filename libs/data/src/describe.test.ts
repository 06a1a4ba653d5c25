import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Dataset } from './dataset.js';
import { describeDataset, type SplitName } from './describe.js';
import { DatasetError } from './errors.js';

function tiny(testLabels = [2, 2]): Dataset {
  return {
    name: 'tiny',
    train: {
      images: new Uint8Array(3 * 2),
      labels: Uint8Array.from([0, 2, 2]),
      count: 3,
    },
    test: {
      images: new Uint8Array(testLabels.length * 2),
      labels: Uint8Array.from(testLabels),
      count: testLabels.length,
    },
    shape: [1, 2, 1],
    numClasses: 4,
    classNames: ['a', 'b', 'c', 'd'],
    mean: [0],
    std: [1],
  };
}

test('counts per class for one split or both', () => {
  assert.deepEqual(describeDataset(tiny()), {
    images: 5,
    shape: [1, 2, 1],
    class_counts: [1, 0, 4, 0],
  });
  assert.deepEqual(describeDataset(tiny(), 'train').class_counts, [1, 0, 2, 0]);
  assert.deepEqual(describeDataset(tiny(), 'test'), {
    images: 2,
    shape: [1, 2, 1],
    class_counts: [0, 0, 2, 0],
  });
  // The shape is a copy: changing it leaves the data set alone.
  const data = tiny();
  describeDataset(data).shape[0] = 9;
  assert.deepEqual(data.shape, [1, 2, 1]);
});

test('an unknown split or a label past the classes is refused', () => {
  assert.throws(() => describeDataset(tiny(), 'val' as SplitName), {
    name: 'DatasetError',
    message: 'split: expected one of train, test, all, got "val"',
  });
  assert.throws(
    () => describeDataset(tiny([1, 4])),
    (err: unknown) =>
      err instanceof DatasetError &&
      err.message === 'tiny: expected labels < 4, got 4 at index 1',
  );
});
