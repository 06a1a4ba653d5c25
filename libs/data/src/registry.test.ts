import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Dataset } from './dataset.js';
import { DatasetError } from './errors.js';
import { datasetNames, loadDataset, registerDataset } from './registry.js';

test('registered loaders are found by name and get the directory', async () => {
  let seenDir: string | undefined;
  const tiny: Dataset = {
    name: 'tiny',
    train: { images: new Uint8Array(1), labels: new Uint8Array(1), count: 1 },
    test: { images: new Uint8Array(1), labels: new Uint8Array(1), count: 1 },
    shape: [1, 1, 1],
    numClasses: 2,
    classNames: ['a', 'b'],
    mean: [0.5],
    std: [0.5],
  };
  registerDataset('tiny', async (dir) => {
    seenDir = dir;
    return tiny;
  });
  for (const name of ['fashion-mnist', 'cifar10', 'cifar100', 'image-folder', 'tiny']) {
    assert.ok(datasetNames().includes(name), name);
  }
  assert.equal(await loadDataset({ name: 'tiny', dir: '/d' }), tiny);
  assert.equal(seenDir, '/d');
});

test('an unknown name lists the known ones', async () => {
  await assert.rejects(
    loadDataset({ name: 'cifar-11' }),
    (err: unknown) =>
      err instanceof DatasetError &&
      err.message.startsWith('dataset.name: expected one of ') &&
      err.message.includes('fashion-mnist') &&
      err.message.endsWith('got "cifar-11"'),
  );
});
