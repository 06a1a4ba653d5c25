import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  CIFAR10_CLASSES,
  cifarRecordBytes,
  loadCifar10,
  loadCifar100,
  parseCifarBatch,
} from './cifar.js';
import { describeDataset } from './describe.js';
import { DatasetError } from './errors.js';
import { loadDataset } from './registry.js';
import { type CifarRecord, cifarBytes, recordPixels } from './testing/cifar-writer.js';

const root = await mkdtemp(join(tmpdir(), 'vicinal-cifar-'));
after(() => rm(root, { recursive: true, force: true }));

let fixtures = 0;
async function newDir(sub?: string): Promise<{ top: string; files: string }> {
  const top = join(root, `d${fixtures++}`);
  const files = sub ? join(top, sub) : top;
  await mkdir(files, { recursive: true });
  return { top, files };
}

/** Records whose labels are 0, 1, 2, ... modulo `numClasses`, offset by `from`. */
function records(n: number, numClasses: number, from = 0): CifarRecord[] {
  return Array.from({ length: n }, (_, i) => ({ labels: [(from + i) % numClasses] }));
}

/** A CIFAR-10 directory: batch k holds k records, the test batch 3. */
async function cifar10Dir(sub?: string): Promise<string> {
  const { top, files } = await newDir(sub);
  for (let k = 1; k <= 5; k++) {
    await writeFile(join(files, `data_batch_${k}.bin`), cifarBytes(records(k, 10, k)));
  }
  await writeFile(join(files, 'test_batch.bin'), cifarBytes(records(3, 10, 7)));
  return top;
}

function cifar100Records(n: number, from: number): CifarRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    labels: [(from + i) % 20, (from + i * 7) % 100],
  }));
}

async function rejectsWith(p: Promise<unknown>, file: string, message: string) {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof DatasetError, `expected a DatasetError, got ${err}`);
    assert.equal(err.message, `${file}: ${message}`);
    return true;
  });
}

test('a known pixel of every plane lands at [y, x, c] channels-last', () => {
  // Record 1: R plane byte 5*32+7 = 200, G plane byte 31*32+0 = 100, B byte 0 = 50.
  const raw = new Uint8Array(2 * 3073);
  raw[0] = 3;
  raw[3073] = 9;
  const px = 3073 + 1;
  raw[px + 5 * 32 + 7] = 200;
  raw[px + 1024 + 31 * 32] = 100;
  raw[px + 2048] = 50;
  const split = parseCifarBatch(raw, 'b.bin', 'cifar10');
  assert.equal(split.count, 2);
  assert.deepEqual(split.labels, Uint8Array.from([3, 9]));
  const at = (i: number, y: number, x: number, c: number) =>
    split.images[i * 3072 + (y * 32 + x) * 3 + c];
  assert.equal(at(1, 5, 7, 0), 200);
  assert.equal(at(1, 31, 0, 1), 100);
  assert.equal(at(1, 0, 0, 2), 50);
  assert.equal(at(1, 5, 7, 1), 0);
  assert.equal(at(0, 5, 7, 0), 0);
  let nonZero = 0;
  for (const v of split.images) if (v !== 0) nonZero++;
  assert.equal(nonZero, 3);
});

test('CIFAR-10 from the distribution folder: splits, order, names, stats', async () => {
  const dir = await cifar10Dir('cifar-10-batches-bin');
  const data = await loadCifar10(dir);
  assert.equal(data.name, 'cifar10');
  assert.equal(data.train.count, 1 + 2 + 3 + 4 + 5);
  assert.equal(data.test.count, 3);
  assert.deepEqual(data.shape, [32, 32, 3]);
  assert.equal(data.numClasses, 10);
  assert.deepEqual(data.classNames, [...CIFAR10_CLASSES]);
  assert.equal(data.classNames[0], 'airplane');
  assert.equal(data.classNames[9], 'truck');
  // Batches are concatenated in order 1..5: batch 3's first record is image 3.
  assert.deepEqual(data.train.labels.subarray(0, 4), Uint8Array.from([1, 2, 3, 3]));
  assert.deepEqual(data.train.images.subarray(3 * 3072, 4 * 3072), recordPixels(0));
  assert.deepEqual(data.test.labels, Uint8Array.from([7, 8, 9]));
  assert.deepEqual(data.test.images.subarray(2 * 3072), recordPixels(2));
  // Mean and std per channel over the training split, computed independently.
  for (let c = 0; c < 3; c++) {
    const values: number[] = [];
    for (let i = c; i < data.train.images.length; i += 3) {
      values.push(data.train.images[i] / 255);
    }
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length;
    assert.ok(Math.abs(data.mean[c] - mean) < 1e-12);
    assert.ok(Math.abs(data.std[c] - Math.sqrt(variance)) < 1e-12);
  }
  assert.deepEqual(describeDataset(data).class_counts, [0, 1, 1, 2, 2, 3, 2, 3, 2, 2]);
});

test('CIFAR-10 files directly in the directory load through the registry', async () => {
  const dir = await cifar10Dir();
  const data = await loadDataset({ name: 'cifar10', dir });
  assert.equal(data.train.count, 15);
  assert.deepEqual(describeDataset(data, 'test'), {
    images: 3,
    shape: [32, 32, 3],
    class_counts: [0, 0, 0, 0, 0, 0, 0, 1, 1, 1],
  });
});

test('CIFAR-100 uses the fine label, or the coarse one when asked', async () => {
  const { top, files } = await newDir('cifar-100-binary');
  await writeFile(join(files, 'train.bin'), cifarBytes(cifar100Records(6, 0)));
  await writeFile(join(files, 'test.bin'), cifarBytes(cifar100Records(2, 18)));
  const fine = await loadCifar100(top);
  assert.equal(fine.name, 'cifar100');
  assert.equal(fine.numClasses, 100);
  assert.deepEqual(fine.train.labels, Uint8Array.from([0, 7, 14, 21, 28, 35]));
  assert.deepEqual(fine.test.labels, Uint8Array.from([18, 25]));
  assert.equal(fine.classNames.length, 100);
  assert.equal(fine.classNames[0], 'class_0');
  assert.equal(fine.classNames[99], 'class_99');
  assert.deepEqual(fine.train.images.subarray(5 * 3072), recordPixels(5));
  const coarse = await loadDataset({
    name: 'cifar100',
    dir: top,
    options: { labels: 'coarse' },
  });
  assert.equal(coarse.numClasses, 20);
  assert.deepEqual(coarse.train.labels, Uint8Array.from([0, 1, 2, 3, 4, 5]));
  assert.deepEqual(coarse.test.labels, Uint8Array.from([18, 19]));
  assert.equal(coarse.classNames[19], 'class_19');
  assert.deepEqual(coarse.train.images, fine.train.images);
});

test('CIFAR-100 class names come from the label-name files when present', async () => {
  const { top, files } = await newDir();
  await writeFile(join(files, 'train.bin'), cifarBytes(cifar100Records(2, 0)));
  await writeFile(join(files, 'test.bin'), cifarBytes(cifar100Records(1, 0)));
  const fine = Array.from({ length: 100 }, (_, i) => `fine${i}`);
  await writeFile(join(files, 'fine_label_names.txt'), `${fine.join('\n')}\n\n`);
  const coarse = Array.from({ length: 20 }, (_, i) => `coarse${i}`);
  await writeFile(join(files, 'coarse_label_names.txt'), coarse.join('\r\n'));
  assert.deepEqual((await loadCifar100(top)).classNames, fine);
  assert.deepEqual((await loadCifar100(top, { labels: 'coarse' })).classNames, coarse);
  // batches.meta.txt stands in for the fine names.
  await rm(join(files, 'fine_label_names.txt'));
  await writeFile(join(files, 'batches.meta.txt'), fine.slice(0, 99).join('\n'));
  await rejectsWith(
    loadCifar100(top),
    'batches.meta.txt',
    'expected 100 class names (one per line), got 99',
  );
});

test('a truncated record names the file, record size and leftover bytes', async () => {
  const dir = await cifar10Dir();
  const good = cifarBytes(records(4, 10));
  await writeFile(join(dir, 'data_batch_4.bin'), good.subarray(0, good.length - 100));
  await rejectsWith(
    loadCifar10(dir),
    'data_batch_4.bin',
    'expected a non-zero multiple of 3073 bytes (records of 1 label byte + 3072 pixel ' +
      'bytes), got 12192 bytes (3 whole records and 2973 leftover bytes)',
  );
  assert.throws(
    () => parseCifarBatch(new Uint8Array(3074 + 5), 'train.bin', 'cifar100-fine'),
    {
      name: 'DatasetError',
      message:
        'train.bin: expected a non-zero multiple of 3074 bytes (records of 2 label ' +
        'bytes + 3072 pixel bytes), got 3079 bytes (1 whole records and 5 leftover bytes)',
    },
  );
  assert.throws(() => parseCifarBatch(new Uint8Array(0), 'empty.bin', 'cifar10'), {
    message: /^empty\.bin: expected a non-zero multiple of 3073 bytes .* got 0 bytes/,
  });
  assert.equal(cifarRecordBytes('cifar10'), 3073);
  assert.equal(cifarRecordBytes('cifar100-coarse'), 3074);
});

test('a label out of range names the file and the record index', async () => {
  const dir = await cifar10Dir();
  const bad = records(5, 10);
  bad[3] = { labels: [10] };
  await writeFile(join(dir, 'test_batch.bin'), cifarBytes(bad));
  await rejectsWith(
    loadCifar10(dir),
    'test_batch.bin',
    'expected label < 10 in record 3 (byte offset 9219), got 10',
  );
  const fine = cifarBytes([{ labels: [1, 2] }, { labels: [3, 100] }]);
  assert.throws(() => parseCifarBatch(fine, 'train.bin', 'cifar100-coarse'), {
    message:
      'train.bin: expected fine label < 100 in record 1 (byte offset 3075), got 100',
  });
  const coarse = cifarBytes([{ labels: [20, 2] }]);
  assert.throws(() => parseCifarBatch(coarse, 'test.bin', 'cifar100-fine'), {
    message: 'test.bin: expected coarse label < 20 in record 0 (byte offset 0), got 20',
  });
});

test('missing files are all listed', async () => {
  const dir = await cifar10Dir('cifar-10-batches-bin');
  const files = join(dir, 'cifar-10-batches-bin');
  await rm(join(files, 'data_batch_2.bin'));
  await rm(join(files, 'test_batch.bin'));
  await rejectsWith(
    loadCifar10(dir),
    files,
    `expected data_batch_1.bin, data_batch_2.bin, data_batch_3.bin, data_batch_4.bin, ` +
      `data_batch_5.bin, test_batch.bin in ${files}; missing: data_batch_2.bin, ` +
      'test_batch.bin',
  );
  const { top } = await newDir();
  await writeFile(join(top, 'train.bin'), cifarBytes(cifar100Records(1, 0)));
  await rejectsWith(
    loadCifar100(top),
    top,
    `expected train.bin, test.bin in ${top} (nor ${join(top, 'cifar-100-binary')}); ` +
      'missing: test.bin',
  );
  const nowhere = join(root, 'nowhere');
  await rejectsWith(
    loadDataset({ name: 'cifar100', dir: nowhere }),
    nowhere,
    'expected a directory of CIFAR batch files, found none',
  );
  await rejectsWith(
    loadDataset({ name: 'cifar10' }),
    'dataset.dir',
    'expected the directory of the cifar10 files, got none (cifar10 has no default)',
  );
});

test('an unknown CIFAR-100 label kind is named', async () => {
  const { top } = await newDir();
  await rejectsWith(
    loadCifar100(top, { labels: 'medium' as 'fine' }),
    'cifar100.labels',
    'expected "fine" or "coarse", got "medium"',
  );
});
