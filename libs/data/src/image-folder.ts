import { constants as bufferConstants } from 'node:buffer';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { channelStats } from './channel-stats.js';
import type { Dataset, ImageSplit } from './dataset.js';
import { DatasetError, requireDirectory } from './errors.js';
import { decodeImage } from './image-decode.js';
import { seededRandom } from './random.js';
import { resizeArea } from './resize.js';

/** File name endings read as images (case-insensitive). */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg'] as const;

/** Options of the image-folder loader; every field has a default. */
export interface ImageFolderOptions {
  /**
   * [height, width] every image is resized to, by area averaging. Default:
   * the size of the first image (train before test, classes and files in
   * sorted order); every other image must then have that size.
   */
  size?: readonly [number, number];
  /**
   * 3: RGB (grey files replicated); 1: grey (colour files reduced to luma
   * 0.299 R + 0.587 G + 0.114 B, rounded). Default 1 when every file stores a
   * single grey channel (PNG grey, JPEG with one component), else 3.
   */
  channels?: 1 | 3;
  /**
   * Without train/ and test/ folders: the share of each class held out as
   * the test split, round(n * testFraction) images, leaving at least one for
   * training. In [0, 1); default 0.2.
   */
  testFraction?: number;
  /** Without train/ and test/ folders: the seed of the held-out choice; default 0. */
  seed?: number;
}

/** One image file and its class index. */
interface Item {
  path: string;
  label: number;
}

interface Layout {
  classNames: string[];
  train: Item[];
  test: Item[];
}

/**
 * Loads an image-folder data set from `dir`. Two layouts are read:
 * `dir/train/<class>/*` with `dir/test/<class>/*`, or `dir/<class>/*` split
 * per class into train and test by `seed` and `testFraction`. Files ending in
 * .png, .jpg or .jpeg are decoded (PNG via pngjs, JPEG via jpeg-js), alpha is
 * dropped and every image is brought to one [height, width, channels] as
 * {@link ImageFolderOptions} says. Class names are the sorted folder names;
 * images are ordered by class, then by file name. Mean and std are computed
 * over the training split.
 */
export async function loadImageFolder(
  dir: string,
  options: ImageFolderOptions = {},
): Promise<Dataset> {
  checkOptions(options);
  await requireDirectory(dir, 'an image-folder directory');
  const layout = await scanLayout(dir, options);
  if (layout.classNames.length > 256) {
    throw new DatasetError(
      dir,
      `expected at most 256 class folders (labels are bytes), got ${layout.classNames.length}`,
    );
  }
  if (layout.train.length === 0) {
    throw new DatasetError(
      dir,
      `expected training images (${IMAGE_EXTENSIONS.join(', ')}) in the class folders, ` +
        'found none',
    );
  }
  const decoded = await decodeAll(dir, [...layout.train, ...layout.test], options.size);
  const channels = options.channels ?? (decoded.allGrey ? 1 : 3);
  const pixels = channels === 3 ? decoded.rgb : toGrey(decoded.rgb);
  const perImage = decoded.height * decoded.width * channels;
  const n = layout.train.length;
  const split = (items: Item[], first: number): ImageSplit => ({
    images: pixels.subarray(first * perImage, (first + items.length) * perImage),
    labels: Uint8Array.from(items, (item) => item.label),
    count: items.length,
  });
  const train = split(layout.train, 0);
  const test = split(layout.test, n);
  const { mean, std } = channelStats(train, channels);
  return {
    name: 'image-folder',
    train,
    test,
    shape: [decoded.height, decoded.width, channels],
    numClasses: layout.classNames.length,
    classNames: layout.classNames,
    mean,
    std,
  };
}

function checkOptions(options: ImageFolderOptions): void {
  const { size, channels, testFraction, seed } = options;
  if (
    size !== undefined &&
    !(
      Array.isArray(size) &&
      size.length === 2 &&
      size.every((v) => Number.isInteger(v) && v >= 1 && v <= 16384)
    )
  ) {
    throw new DatasetError(
      'image-folder.size',
      `expected [height, width] of integers in [1, 16384], got ${JSON.stringify(size)}`,
    );
  }
  if (channels !== undefined && channels !== 1 && channels !== 3) {
    throw new DatasetError(
      'image-folder.channels',
      `expected 1 or 3, got ${JSON.stringify(channels)}`,
    );
  }
  if (
    testFraction !== undefined &&
    !(typeof testFraction === 'number' && testFraction >= 0 && testFraction < 1)
  ) {
    throw new DatasetError(
      'image-folder.testFraction',
      `expected a number in [0, 1), got ${JSON.stringify(testFraction)}`,
    );
  }
  if (seed !== undefined && !Number.isInteger(seed)) {
    throw new DatasetError(
      'image-folder.seed',
      `expected an integer, got ${JSON.stringify(seed)}`,
    );
  }
}

/** Sorted names of the visible sub-folders of `dir`. */
async function subfolders(dir: string): Promise<string[]> {
  const entries = await listDir(dir);
  return entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
}

/** Sorted paths of the visible image files of a class folder. */
async function imageFiles(dir: string): Promise<string[]> {
  const entries = await listDir(dir);
  return entries
    .filter(
      (e) =>
        !e.isDirectory() &&
        !e.name.startsWith('.') &&
        IMAGE_EXTENSIONS.some((ext) => e.name.toLowerCase().endsWith(ext)),
    )
    .map((e) => e.name)
    .sort()
    .map((name) => join(dir, name));
}

async function listDir(dir: string) {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new DatasetError(dir, `cannot list this directory (${code})`);
  }
}

async function scanLayout(dir: string, options: ImageFolderOptions): Promise<Layout> {
  const top = await subfolders(dir);
  const hasTrain = top.includes('train');
  const hasTest = top.includes('test');
  if (hasTrain !== hasTest) {
    const [have, lack] = hasTrain ? ['train', 'test'] : ['test', 'train'];
    throw new DatasetError(
      join(dir, lack),
      `expected this folder next to ${join(dir, have)} (a split layout has both), ` +
        'found none',
    );
  }
  if (hasTrain) return scanSplitLayout(dir);
  if (top.length === 0) {
    throw new DatasetError(
      dir,
      'expected class folders (<class>/*.png|jpg|jpeg) or train/ and test/ folders ' +
        'of them, found no folder',
    );
  }
  const train: Item[] = [];
  const test: Item[] = [];
  const fraction = options.testFraction ?? 0.2;
  const seed = options.seed ?? 0;
  for (const [label, name] of top.entries()) {
    const files = await imageFiles(join(dir, name));
    const held = heldOut(files.length, fraction, seed, name);
    for (const [i, path] of files.entries()) {
      (held.has(i) ? test : train).push({ path, label });
    }
  }
  return { classNames: top, train, test };
}

async function scanSplitLayout(dir: string): Promise<Layout> {
  const classNames = await subfolders(join(dir, 'train'));
  if (classNames.length === 0) {
    throw new DatasetError(
      join(dir, 'train'),
      'expected class folders (<class>/*.png|jpg|jpeg), found no folder',
    );
  }
  const train: Item[] = [];
  for (const [label, name] of classNames.entries()) {
    for (const path of await imageFiles(join(dir, 'train', name))) {
      train.push({ path, label });
    }
  }
  const test: Item[] = [];
  for (const name of await subfolders(join(dir, 'test'))) {
    const label = classNames.indexOf(name);
    if (label < 0) {
      throw new DatasetError(
        join(dir, 'test', name),
        `expected a class of ${join(dir, 'train')} (${classNames.join(', ')}), ` +
          `got "${name}"`,
      );
    }
    for (const path of await imageFiles(join(dir, 'test', name))) {
      test.push({ path, label });
    }
  }
  return { classNames, train, test };
}

/**
 * Indices (into a class's sorted file list) held out for testing: a seeded
 * shuffle of the class's files, seeded by `seed` and the class name, so a
 * class's split does not depend on the other classes.
 */
function heldOut(n: number, fraction: number, seed: number, name: string): Set<number> {
  const k = n === 0 ? 0 : Math.min(n - 1, Math.round(n * fraction));
  const order = Array.from({ length: n }, (_, i) => i);
  const random = seededRandom(seed ^ fnv1a(name));
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(random() * (n - i));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return new Set(order.slice(0, k));
}

/** 32-bit FNV-1a hash of a string's UTF-16 code units. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

interface Decoded {
  height: number;
  width: number;
  /** All images, RGB, in item order. */
  rgb: Uint8Array;
  allGrey: boolean;
}

/** Decodes every item into one RGB buffer at the target (or first) size. */
async function decodeAll(
  dir: string,
  items: Item[],
  size: readonly [number, number] | undefined,
): Promise<Decoded> {
  let height = size?.[0] ?? 0;
  let width = size?.[1] ?? 0;
  let firstPath = '';
  let rgb = new Uint8Array(0);
  let allGrey = true;
  const reads = readAhead(items.map((item) => item.path));
  for (const [i, item] of items.entries()) {
    const image = decodeImage(await reads.next(), item.path);
    if (i === 0) {
      firstPath = item.path;
      if (size === undefined) [height, width] = [image.height, image.width];
      const total = items.length * height * width * 3;
      if (total > bufferConstants.MAX_LENGTH) {
        throw new DatasetError(
          dir,
          `expected at most ${bufferConstants.MAX_LENGTH} pixel bytes in memory, ` +
            `${items.length} images of ${height}x${width}x3 need ${total}; pass a smaller size`,
        );
      }
      rgb = new Uint8Array(total);
    } else if (size === undefined && (image.height !== height || image.width !== width)) {
      throw new DatasetError(
        item.path,
        `expected ${height}x${width} pixels like ${firstPath} (images differ in size: ` +
          `pass a size option to resize them all), got ${image.height}x${image.width}`,
      );
    }
    allGrey &&= image.grey;
    const pixels = resizeArea(image.rgb, image.height, image.width, 3, height, width);
    rgb.set(pixels, i * height * width * 3);
  }
  return { height, width, rgb, allGrey };
}

/** Reads files in order, keeping up to `depth` reads in flight. */
function readAhead(paths: string[], depth = 16): { next(): Promise<Uint8Array> } {
  const pending = new Map<number, Promise<Uint8Array>>();
  let issued = 0;
  let taken = 0;
  const issue = () => {
    while (issued < paths.length && issued < taken + depth) {
      const path = paths[issued];
      const read = readFile(path).catch((err: NodeJS.ErrnoException) => {
        throw new DatasetError(path, `cannot read this file (${err.code ?? 'error'})`);
      });
      // Reads past a failure are never awaited; keep them from being unhandled.
      read.catch(() => {});
      pending.set(issued++, read);
    }
  };
  return {
    next() {
      issue();
      const read = pending.get(taken)!;
      pending.delete(taken++);
      issue();
      return read;
    },
  };
}

/** RGB to one channel: round(0.299 R + 0.587 G + 0.114 B); grey stays exact. */
function toGrey(rgb: Uint8Array): Uint8Array {
  const out = new Uint8Array(rgb.length / 3);
  for (let p = 0, q = 0; p < out.length; p++, q += 3) {
    out[p] = Math.round(0.299 * rgb[q] + 0.587 * rgb[q + 1] + 0.114 * rgb[q + 2]);
  }
  return out;
}
