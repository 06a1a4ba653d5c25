import { stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Dataset, ImageSplit } from './dataset.js';
import { DatasetError } from './errors.js';
import { readIdxFile } from './idx.js';

/** Where the Debian package dataset-fashion-mnist installs the files. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;

const SIDE = 28;
const SPLITS = {
  train: { prefix: 'train', count: 60000 },
  test: { prefix: 't10k', count: 10000 },
} as const;

export interface FashionMnistOptions {
  /**
   * Require the official split sizes (60000 train, 10000 test). Default true;
   * tests with small fixture files turn it off.
   */
  officialCounts?: boolean;
}

/**
 * Loads Fashion-MNIST from the four gzipped IDX files in `dir` and checks
 * every header, size and label. Normalisation constants are those of the
 * training split: mean 0.2860, std 0.3530.
 */
export async function loadFashionMnist(
  dir: string = FASHION_MNIST_DIR,
  options: FashionMnistOptions = {},
): Promise<Dataset> {
  const official = options.officialCounts ?? true;
  const info = await stat(dir).catch(() => null);
  if (info && !info.isDirectory()) {
    throw new DatasetError(
      dir,
      'expected the Fashion-MNIST directory, got a file: pass the directory that holds ' +
        'the four *-ubyte.gz files',
    );
  }
  if (!info) {
    throw new DatasetError(
      dir,
      dir === FASHION_MNIST_DIR
        ? 'expected the Fashion-MNIST directory, found none; install the Debian package ' +
            'dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or pass its directory'
        : 'expected the Fashion-MNIST directory, found none: no such directory',
    );
  }
  const [train, test] = await Promise.all([
    loadSplit(dir, SPLITS.train.prefix, official ? SPLITS.train.count : undefined),
    loadSplit(dir, SPLITS.test.prefix, official ? SPLITS.test.count : undefined),
  ]);
  return {
    name: 'fashion-mnist',
    train,
    test,
    shape: [SIDE, SIDE, 1],
    numClasses: FASHION_MNIST_CLASSES.length,
    classNames: [...FASHION_MNIST_CLASSES],
    mean: [0.286],
    std: [0.353],
  };
}

/**
 * Reads one split's images and labels. The file names are the upstream ones;
 * a missing ".gz" variant falls back to the uncompressed file.
 */
async function loadSplit(
  dir: string,
  prefix: string,
  count: number | undefined,
): Promise<ImageSplit> {
  const imagesPath = await existing(dir, `${prefix}-images-idx3-ubyte`);
  const labelsPath = await existing(dir, `${prefix}-labels-idx1-ubyte`);
  const [images, labels] = await Promise.all([
    readIdxFile(imagesPath, { kind: 'images', rows: SIDE, cols: SIDE }),
    readIdxFile(labelsPath, { kind: 'labels' }),
  ]);
  return checkSplit(
    basename(imagesPath),
    images.dims[0],
    images.data,
    basename(labelsPath),
    labels.data,
    { count, numClasses: FASHION_MNIST_CLASSES.length },
  );
}

/**
 * Checks that a split's image and label counts agree (and match `count` when
 * given) and that every label is a class index. File names are for messages.
 */
export function checkSplit(
  imagesFile: string,
  imageCount: number,
  images: Uint8Array,
  labelsFile: string,
  labels: Uint8Array,
  expect: { count?: number; numClasses: number },
): ImageSplit {
  if (imageCount !== labels.length) {
    throw new DatasetError(
      labelsFile,
      `expected ${imageCount} labels (one per image in ${imagesFile}), ` +
        `got ${labels.length}`,
    );
  }
  if (expect.count !== undefined && imageCount !== expect.count) {
    throw new DatasetError(
      imagesFile,
      `expected ${expect.count} images, got ${imageCount}`,
    );
  }
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] >= expect.numClasses) {
      throw new DatasetError(
        labelsFile,
        `expected labels < ${expect.numClasses}, got ${labels[i]} at index ${i}`,
      );
    }
  }
  return { images, labels, count: imageCount };
}

async function existing(dir: string, stem: string): Promise<string> {
  for (const name of [`${stem}.gz`, stem]) {
    const path = join(dir, name);
    if ((await stat(path).catch(() => null))?.isFile()) return path;
  }
  throw new DatasetError(
    join(dir, `${stem}.gz`),
    `expected this file (or ${stem} uncompressed), found neither`,
  );
}
