import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DatasetError } from './errors.js';
import { FASHION_MNIST_DIR, loadFashionMnist } from './fashion-mnist.js';
import { loadDataset } from './registry.js';
import { idxBytes, pattern } from './testing/idx-writer.js';

const root = await mkdtemp(join(tmpdir(), 'vicinal-fmnist-'));
after(() => rm(root, { recursive: true, force: true }));

interface Fixture {
  trainImages?: number;
  trainLabels?: Uint8Array;
}

/** A Fashion-MNIST-shaped directory: train files gzipped, test files raw. */
async function fixture(name: string, f: Fixture = {}): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir);
  const n = f.trainImages ?? 5;
  const trainLabels = f.trainLabels ?? Uint8Array.from([0, 1, 2, 3, 9]);
  await writeFile(
    join(dir, 'train-images-idx3-ubyte.gz'),
    idxBytes([n, 28, 28], pattern(n * 784, 1), { gzip: true }),
  );
  await writeFile(
    join(dir, 'train-labels-idx1-ubyte.gz'),
    idxBytes([trainLabels.length], trainLabels, { gzip: true }),
  );
  await writeFile(
    join(dir, 't10k-images-idx3-ubyte'),
    idxBytes([3, 28, 28], pattern(3 * 784)),
  );
  await writeFile(
    join(dir, 't10k-labels-idx1-ubyte'),
    idxBytes([3], Uint8Array.from([4, 5, 6])),
  );
  return dir;
}

async function rejectsWith(p: Promise<unknown>, file: string, message: string) {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof DatasetError, `expected a DatasetError, got ${err}`);
    assert.equal(err.message, `${file}: ${message}`);
    return true;
  });
}

test('small fixture files (gzip and raw) load with metadata', async () => {
  const dir = await fixture('valid');
  const data = await loadFashionMnist(dir, { officialCounts: false });
  assert.equal(data.train.count, 5);
  assert.equal(data.test.count, 3);
  assert.equal(data.train.images.length, 5 * 784);
  assert.deepEqual(data.train.images, pattern(5 * 784, 1));
  assert.deepEqual(data.train.labels, Uint8Array.from([0, 1, 2, 3, 9]));
  assert.deepEqual(data.test.labels, Uint8Array.from([4, 5, 6]));
  assert.deepEqual(data.shape, [28, 28, 1]);
  assert.equal(data.numClasses, 10);
  assert.equal(data.classNames.length, 10);
  assert.equal(data.classNames[9], 'Ankle boot');
  assert.deepEqual(data.mean, [0.286]);
  assert.deepEqual(data.std, [0.353]);
});

test('the official split sizes are required by default', async () => {
  const dir = await fixture('small');
  await rejectsWith(
    loadFashionMnist(dir),
    'train-images-idx3-ubyte.gz',
    'expected 60000 images, got 5',
  );
});

test('image and label counts must agree', async () => {
  const dir = await fixture('mismatch', { trainLabels: Uint8Array.from([1, 2, 3, 4]) });
  await rejectsWith(
    loadFashionMnist(dir, { officialCounts: false }),
    'train-labels-idx1-ubyte.gz',
    'expected 5 labels (one per image in train-images-idx3-ubyte.gz), got 4',
  );
});

test('a label outside the ten classes is named with its index', async () => {
  const dir = await fixture('bad-label', {
    trainLabels: Uint8Array.from([0, 1, 10, 3, 4]),
  });
  await rejectsWith(
    loadFashionMnist(dir, { officialCounts: false }),
    'train-labels-idx1-ubyte.gz',
    'expected labels < 10, got 10 at index 2',
  );
});

test('a missing directory that was given is named as missing, without the package hint', async () => {
  // The hint to install dataset-fashion-mnist is for the default place only.
  const dir = join(root, 'nowhere');
  await assert.rejects(
    loadDataset({ name: 'fashion-mnist', dir }),
    (err: unknown) =>
      err instanceof DatasetError &&
      err.file === dir &&
      err.message.endsWith(
        'expected the Fashion-MNIST directory, found none: no such directory',
      ) &&
      !err.message.includes('Debian'),
  );
});

test('a missing file is named', async () => {
  const dir = await fixture('missing');
  await rm(join(dir, 't10k-labels-idx1-ubyte'));
  await rejectsWith(
    loadFashionMnist(dir, { officialCounts: false }),
    join(dir, 't10k-labels-idx1-ubyte.gz'),
    'expected this file (or t10k-labels-idx1-ubyte uncompressed), found neither',
  );
});

test('the real Fashion-MNIST: 60000/10000 images, 6000 per class in train', async () => {
  const data = await loadDataset({ name: 'fashion-mnist', dir: FASHION_MNIST_DIR });
  assert.equal(data.train.count, 60000);
  assert.equal(data.test.count, 10000);
  assert.equal(data.train.images.length, 60000 * 784);
  assert.equal(data.test.images.length, 10000 * 784);
  const trainHist = new Array(10).fill(0);
  for (const l of data.train.labels) trainHist[l]++;
  assert.deepEqual(trainHist, new Array(10).fill(6000));
  const testHist = new Array(10).fill(0);
  for (const l of data.test.labels) testHist[l]++;
  assert.deepEqual(testHist, new Array(10).fill(1000));
  // Mean pixel of the training split matches the published normalisation.
  let sum = 0;
  for (let i = 0; i < data.train.images.length; i++) sum += data.train.images[i];
  assert.ok(Math.abs(sum / data.train.images.length / 255 - data.mean[0]) < 5e-4);
});
