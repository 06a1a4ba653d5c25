import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { describeDataset } from './describe.js';
import { DatasetError } from './errors.js';
import { type ImageFolderOptions, loadImageFolder } from './image-folder.js';
import { loadDataset } from './registry.js';
import { jpegBytes, pngBytes, solid } from './testing/image-writer.js';

const root = await mkdtemp(join(tmpdir(), 'vicinal-imgfolder-'));
after(() => rm(root, { recursive: true, force: true }));

let fixtures = 0;
/** Writes `files` (path relative to a new directory -> bytes) and returns the directory. */
async function tree(files: Record<string, Uint8Array | string>): Promise<string> {
  const dir = join(root, `t${fixtures++}`);
  await mkdir(dir);
  for (const [path, bytes] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), bytes);
  }
  return dir;
}

/** A 4x3 (h x w) RGB image: pixel (y, x) = (16y + x + base, 2 * base, 255 - x). */
function gradient(base: number): Uint8Array {
  const out = new Uint8Array(4 * 3 * 3);
  for (let y = 0; y < 4; y++) {
    for (let x = 0; x < 3; x++) {
      out.set([16 * y + x + base, 2 * base, 255 - x], (y * 3 + x) * 3);
    }
  }
  return out;
}

/** A 1x1 grey PNG whose value encodes an index. */
function tag(i: number): Uint8Array {
  return pngBytes(1, 1, 1, Uint8Array.of(i));
}

async function rejectsWith(
  p: Promise<unknown>,
  file: string,
  message: string | RegExp,
): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof DatasetError, `expected a DatasetError, got ${err}`);
    assert.equal(err.file, file);
    if (typeof message === 'string') assert.equal(err.message, `${file}: ${message}`);
    else assert.match(err.message, message);
    return true;
  });
}

test('train/test layout: PNG and JPEG, known pixels, names, counts', async () => {
  const dir = await tree({
    'train/cat/b.png': pngBytes(3, 4, 3, gradient(1)),
    'train/cat/a.png': pngBytes(3, 4, 3, gradient(0)),
    'train/cat/notes.txt': 'not an image',
    'train/cat/.hidden.png': 'not read',
    'train/dog/z.PNG': pngBytes(3, 4, 4, new Uint8Array(48).fill(77)),
    'train/emu/x.jpeg': jpegBytes(3, 4, solid(3, 4, [250, 10, 120])),
    'test/dog/1.jpg': jpegBytes(3, 4, solid(3, 4, [30, 200, 60])),
  });
  const data = await loadImageFolder(dir);
  assert.equal(data.name, 'image-folder');
  assert.deepEqual(data.classNames, ['cat', 'dog', 'emu']);
  assert.equal(data.numClasses, 3);
  assert.deepEqual(data.shape, [4, 3, 3]);
  assert.equal(data.train.count, 4);
  assert.equal(data.test.count, 1);
  assert.deepEqual(data.train.labels, Uint8Array.from([0, 0, 1, 2]));
  assert.deepEqual(data.test.labels, Uint8Array.from([1]));
  const at = (images: Uint8Array, i: number, y: number, x: number, c: number) =>
    images[((i * 4 + y) * 3 + x) * 3 + c];
  // Files sort by name within a class: a.png (base 0) then b.png (base 1).
  assert.equal(at(data.train.images, 0, 2, 1, 0), 33);
  assert.equal(at(data.train.images, 1, 2, 1, 0), 34);
  assert.equal(at(data.train.images, 1, 3, 0, 1), 2);
  assert.equal(at(data.train.images, 1, 3, 2, 2), 253);
  assert.deepEqual(data.train.images.subarray(0, 36), gradient(0));
  // RGBA with alpha 77 everywhere: the alpha channel is dropped, not blended.
  assert.ok(data.train.images.subarray(2 * 36, 3 * 36).every((v) => v === 77));
  for (const [images, i, want] of [
    [data.train.images, 3, [250, 10, 120]],
    [data.test.images, 0, [30, 200, 60]],
  ] as const) {
    for (let c = 0; c < 3; c++) {
      assert.ok(Math.abs(at(images, i, 3, 2, c) - want[c]) <= 3, `jpeg channel ${c}`);
    }
  }
  assert.deepEqual(describeDataset(data), {
    images: 5,
    shape: [4, 3, 3],
    class_counts: [2, 2, 1],
  });
  assert.deepEqual(describeDataset(data, 'train').class_counts, [2, 1, 1]);
  // Mean and std over the training split, per channel.
  for (let c = 0; c < 3; c++) {
    let sum = 0;
    let n = 0;
    for (let i = c; i < data.train.images.length; i += 3, n++)
      sum += data.train.images[i];
    assert.ok(Math.abs(data.mean[c] - sum / n / 255) < 1e-12);
    assert.ok(data.std[c] > 0);
  }
});

test('grey files give one channel; channels 3 replicates, channels 1 takes luma', async () => {
  const files = {
    'a/0.png': pngBytes(2, 1, 1, Uint8Array.from([10, 250])),
    'b/0.png': pngBytes(2, 1, 1, Uint8Array.from([60, 61])),
  };
  const dir = await tree(files);
  const grey = await loadImageFolder(dir, { testFraction: 0 });
  assert.deepEqual(grey.shape, [1, 2, 1]);
  assert.deepEqual(grey.train.images, Uint8Array.from([10, 250, 60, 61]));
  assert.equal(grey.test.count, 0);
  const rgb = await loadImageFolder(dir, { testFraction: 0, channels: 3 });
  assert.deepEqual(rgb.shape, [1, 2, 3]);
  assert.deepEqual(
    rgb.train.images,
    Uint8Array.from([10, 10, 10, 250, 250, 250, 60, 60, 60, 61, 61, 61]),
  );
  const colour = await tree({
    ...files,
    'c/0.png': pngBytes(2, 1, 3, Uint8Array.from([255, 0, 0, 0, 0, 255])),
  });
  const mixed = await loadImageFolder(colour, { testFraction: 0 });
  assert.deepEqual(mixed.shape, [1, 2, 3]);
  const luma = await loadImageFolder(colour, { testFraction: 0, channels: 1 });
  assert.deepEqual(luma.shape, [1, 2, 1]);
  // round(0.299 * 255) = 76, round(0.114 * 255) = 29.
  assert.deepEqual(luma.train.images, Uint8Array.from([10, 250, 60, 61, 76, 29]));
});

test('one folder per class is split per class by the seed', async () => {
  const files: Record<string, Uint8Array> = {};
  for (const [k, name] of ['ant', 'bee', 'cow'].entries()) {
    for (let i = 0; i < 10; i++) files[`${name}/${i}.png`] = tag(k * 10 + i);
  }
  files['cow/10.png'] = tag(30); // 11 images: round(2.2) = 2 held out
  const dir = await tree(files);
  const a = await loadImageFolder(dir, { seed: 1 });
  assert.deepEqual(a.classNames, ['ant', 'bee', 'cow']);
  assert.equal(a.train.count, 25);
  assert.equal(a.test.count, 6);
  assert.deepEqual(describeDataset(a, 'test').class_counts, [2, 2, 2]);
  // Every image lands in exactly one split, with its own class, ordered by class.
  const all = [...a.train.images, ...a.test.images].sort((x, y) => x - y);
  assert.deepEqual(
    all,
    Array.from({ length: 31 }, (_, i) => i),
  );
  for (const split of [a.train, a.test]) {
    for (let i = 0; i < split.count; i++) {
      assert.equal(split.labels[i], Math.min(2, Math.floor(split.images[i] / 10)));
      if (i > 0) assert.ok(split.labels[i] >= split.labels[i - 1]);
    }
  }
  // The same seed gives the same split; the choice depends on the seed.
  assert.deepEqual((await loadImageFolder(dir, { seed: 1 })).test, a.test);
  const tests = new Set<string>();
  for (let seed = 0; seed < 6; seed++) {
    tests.add(String((await loadImageFolder(dir, { seed })).test.images));
  }
  assert.ok(tests.size > 1);
  const half = await loadDataset({
    name: 'image-folder',
    dir,
    options: { testFraction: 0.5 },
  });
  assert.deepEqual(describeDataset(half, 'test').class_counts, [5, 5, 6]);
  // A single image per class stays in training.
  const one = await tree({ 'x/0.png': tag(1), 'y/0.png': tag(2) });
  assert.equal((await loadImageFolder(one, { testFraction: 0.9 })).train.count, 2);
});

test('images of different sizes need a size option, which resizes them all', async () => {
  const dir = await tree({
    'a/0.png': pngBytes(4, 2, 3, solid(4, 2, [10, 20, 30])),
    'b/0.png': pngBytes(8, 6, 3, solid(8, 6, [200, 100, 0])),
  });
  await rejectsWith(
    loadImageFolder(dir, { testFraction: 0 }),
    join(dir, 'b/0.png'),
    `expected 2x4 pixels like ${join(dir, 'a/0.png')} (images differ in size: pass a ` +
      'size option to resize them all), got 6x8',
  );
  const data = await loadImageFolder(dir, { testFraction: 0, size: [3, 2] });
  assert.deepEqual(data.shape, [3, 2, 3]);
  assert.deepEqual(
    data.train.images,
    Uint8Array.from([...solid(2, 3, [10, 20, 30]), ...solid(2, 3, [200, 100, 0])]),
  );
});

test('a corrupt PNG or a truncated JPEG names the file and the complaint', async () => {
  const png = pngBytes(3, 3, 3, solid(3, 3, [5, 6, 7]));
  const broken = png.slice();
  broken.fill(0, 20, 40);
  const dir = await tree({ 'a/0.png': png, 'a/1.png': broken });
  await rejectsWith(
    loadImageFolder(dir),
    join(dir, 'a/1.png'),
    /\/a\/1\.png: cannot decode as PNG: \S/,
  );
  const jpeg = jpegBytes(16, 16, solid(16, 16, [1, 2, 3]));
  const cut = await tree({ 'a/0.jpg': jpeg.subarray(0, jpeg.length - 30) });
  await rejectsWith(
    loadImageFolder(cut),
    join(cut, 'a/0.jpg'),
    /\/a\/0\.jpg: cannot decode as JPEG: .*truncated\?\)$/,
  );
});

test('layout problems and bad options are named', async () => {
  const onlyTrain = await tree({ 'train/a/0.png': tag(0) });
  await rejectsWith(
    loadImageFolder(onlyTrain),
    join(onlyTrain, 'test'),
    `expected this folder next to ${join(onlyTrain, 'train')} (a split layout has ` +
      'both), found none',
  );
  const stray = await tree({ 'train/a/0.png': tag(0), 'test/b/0.png': tag(1) });
  await rejectsWith(
    loadImageFolder(stray),
    join(stray, 'test', 'b'),
    `expected a class of ${join(stray, 'train')} (a), got "b"`,
  );
  const empty = await tree({ 'readme.txt': 'x' });
  await rejectsWith(
    loadImageFolder(empty),
    empty,
    'expected class folders (<class>/*.png|jpg|jpeg) or train/ and test/ folders of ' +
      'them, found no folder',
  );
  const noImages = await tree({ 'a/readme.txt': 'x' });
  await rejectsWith(
    loadImageFolder(noImages),
    noImages,
    'expected training images (.png, .jpg, .jpeg) in the class folders, found none',
  );
  const missing = join(root, 'missing');
  await rejectsWith(
    loadDataset({ name: 'image-folder', dir: missing }),
    missing,
    'expected an image-folder directory, found none',
  );
  const bad: [ImageFolderOptions, string, string][] = [
    [
      { size: [0, 3] },
      'image-folder.size',
      'expected [height, width] of integers in [1, 16384], got [0,3]',
    ],
    [{ channels: 2 as 1 }, 'image-folder.channels', 'expected 1 or 3, got 2'],
    [
      { testFraction: 1 },
      'image-folder.testFraction',
      'expected a number in [0, 1), got 1',
    ],
    [{ seed: 0.5 }, 'image-folder.seed', 'expected an integer, got 0.5'],
  ];
  for (const [options, file, message] of bad) {
    await rejectsWith(loadImageFolder(onlyTrain, options), file, message);
  }
});
