import { readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { channelStats } from './channel-stats.js';
import type { Dataset, ImageSplit } from './dataset.js';
import { DatasetError, requireDirectory } from './errors.js';

export const CIFAR10_CLASSES = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
] as const;

const SIDE = 32;
const PLANE = SIDE * SIDE;
/** Pixel bytes of one record: the R, G and B planes, each 32x32 row-major. */
export const CIFAR_PIXEL_BYTES = 3 * PLANE;

/**
 * The three ways a CIFAR binary record is read: CIFAR-10 has one label byte;
 * CIFAR-100 has a coarse then a fine label byte, and one of them is used.
 */
export type CifarVariant = 'cifar10' | 'cifar100-fine' | 'cifar100-coarse';

interface VariantSpec {
  labelBytes: number;
  /** Which of the label bytes is the label. */
  labelAt: number;
  numClasses: number;
  labelName: string;
}

const VARIANTS: Record<CifarVariant, VariantSpec> = {
  cifar10: { labelBytes: 1, labelAt: 0, numClasses: 10, labelName: 'label' },
  'cifar100-fine': {
    labelBytes: 2,
    labelAt: 1,
    numClasses: 100,
    labelName: 'fine label',
  },
  'cifar100-coarse': {
    labelBytes: 2,
    labelAt: 0,
    numClasses: 20,
    labelName: 'coarse label',
  },
};

/** Bytes of one record of this variant: label byte(s) then 3072 pixel bytes. */
export function cifarRecordBytes(variant: CifarVariant): number {
  return VARIANTS[variant].labelBytes + CIFAR_PIXEL_BYTES;
}

/**
 * Checks one CIFAR batch file's bytes: a whole, non-zero number of records,
 * every label a class index (of the variant's label, the other CIFAR-100
 * label byte is checked too). Returns the number of records. `file` is for
 * error messages only.
 */
export function checkCifarBatch(
  bytes: Uint8Array,
  file: string,
  variant: CifarVariant,
): number {
  const spec = VARIANTS[variant];
  const record = spec.labelBytes + CIFAR_PIXEL_BYTES;
  const labelsDesc =
    spec.labelBytes === 1 ? '1 label byte' : `${spec.labelBytes} label bytes`;
  const count = Math.floor(bytes.length / record);
  const leftover = bytes.length - count * record;
  if (leftover !== 0 || count === 0) {
    throw new DatasetError(
      file,
      `expected a non-zero multiple of ${record} bytes (records of ${labelsDesc} + ` +
        `${CIFAR_PIXEL_BYTES} pixel bytes), got ${bytes.length} bytes ` +
        `(${count} whole records and ${leftover} leftover bytes)`,
    );
  }
  // Both CIFAR-100 label bytes are checked, whichever one is used.
  const checks =
    variant === 'cifar10'
      ? [VARIANTS.cifar10]
      : [VARIANTS['cifar100-coarse'], VARIANTS['cifar100-fine']];
  for (let i = 0; i < count; i++) {
    for (const check of checks) {
      const label = bytes[i * record + check.labelAt];
      if (label >= check.numClasses) {
        throw new DatasetError(
          file,
          `expected ${check.labelName} < ${check.numClasses} in record ${i} ` +
            `(byte offset ${i * record + check.labelAt}), got ${label}`,
        );
      }
    }
  }
  return count;
}

/**
 * Parses one CIFAR batch file's bytes into a split with channels-last pixels
 * [count, 32, 32, 3]: pixel (y, x) of channel c comes from byte
 * c * 1024 + y * 32 + x of the record's pixel planes. Validates as
 * {@link checkCifarBatch}.
 */
export function parseCifarBatch(
  bytes: Uint8Array,
  file: string,
  variant: CifarVariant,
): ImageSplit {
  const count = checkCifarBatch(bytes, file, variant);
  const split: ImageSplit = {
    images: new Uint8Array(count * CIFAR_PIXEL_BYTES),
    labels: new Uint8Array(count),
    count,
  };
  copyRecords(bytes, variant, split, 0);
  return split;
}

/** Writes the (checked) records of `bytes` into `out` from image `first` on. */
function copyRecords(
  bytes: Uint8Array,
  variant: CifarVariant,
  out: ImageSplit,
  first: number,
): void {
  const spec = VARIANTS[variant];
  const record = spec.labelBytes + CIFAR_PIXEL_BYTES;
  const count = bytes.length / record;
  for (let i = 0; i < count; i++) {
    const src = i * record;
    const px = src + spec.labelBytes;
    const dst = (first + i) * CIFAR_PIXEL_BYTES;
    out.labels[first + i] = bytes[src + spec.labelAt];
    for (let p = 0; p < PLANE; p++) {
      out.images[dst + 3 * p] = bytes[px + p];
      out.images[dst + 3 * p + 1] = bytes[px + PLANE + p];
      out.images[dst + 3 * p + 2] = bytes[px + 2 * PLANE + p];
    }
  }
}

/** Options of the CIFAR-100 loader. */
export interface Cifar100Options {
  /** 'fine' (100 classes, default) or 'coarse' (20 super-classes). */
  labels?: 'fine' | 'coarse';
}

const CIFAR10_FILES = {
  subdir: 'cifar-10-batches-bin',
  train: ['1', '2', '3', '4', '5'].map((n) => `data_batch_${n}.bin`),
  test: ['test_batch.bin'],
};
const CIFAR100_FILES = {
  subdir: 'cifar-100-binary',
  train: ['train.bin'],
  test: ['test.bin'],
};

/**
 * Loads CIFAR-10 in its binary distribution format from `dir`, or from
 * `dir/cifar-10-batches-bin` when that folder exists: data_batch_1.bin ..
 * data_batch_5.bin (train) and test_batch.bin (test). Images are uint8
 * [N, 32, 32, 3]; mean and std are computed over the training split.
 */
export async function loadCifar10(dir: string): Promise<Dataset> {
  const root = await cifarRoot(dir, CIFAR10_FILES);
  const [train, test] = await Promise.all([
    loadSplit(root, CIFAR10_FILES.train, 'cifar10'),
    loadSplit(root, CIFAR10_FILES.test, 'cifar10'),
  ]);
  return dataset('cifar10', train, test, [...CIFAR10_CLASSES]);
}

/**
 * Loads CIFAR-100 in its binary distribution format from `dir`, or from
 * `dir/cifar-100-binary` when that folder exists: train.bin and test.bin.
 * Class names come from fine_label_names.txt (or batches.meta.txt) /
 * coarse_label_names.txt when present, else they are class_0, class_1, ...
 */
export async function loadCifar100(
  dir: string,
  options: Cifar100Options = {},
): Promise<Dataset> {
  const labels = options.labels ?? 'fine';
  if (labels !== 'fine' && labels !== 'coarse') {
    throw new DatasetError(
      'cifar100.labels',
      `expected "fine" or "coarse", got ${JSON.stringify(labels)}`,
    );
  }
  const variant: CifarVariant = labels === 'fine' ? 'cifar100-fine' : 'cifar100-coarse';
  const root = await cifarRoot(dir, CIFAR100_FILES);
  const [train, test, names] = await Promise.all([
    loadSplit(root, CIFAR100_FILES.train, variant),
    loadSplit(root, CIFAR100_FILES.test, variant),
    classNames(
      root,
      labels === 'fine'
        ? ['fine_label_names.txt', 'batches.meta.txt']
        : ['coarse_label_names.txt'],
      VARIANTS[variant].numClasses,
    ),
  ]);
  return dataset('cifar100', train, test, names);
}

function dataset(
  name: string,
  train: ImageSplit,
  test: ImageSplit,
  classNames: string[],
): Dataset {
  const { mean, std } = channelStats(train, 3);
  return {
    name,
    train,
    test,
    shape: [SIDE, SIDE, 3],
    numClasses: classNames.length,
    classNames,
    mean,
    std,
  };
}

/**
 * The folder holding the batch files: the distribution's own subfolder when
 * it exists, else `dir` itself. Every missing file is listed in one error.
 */
async function cifarRoot(
  dir: string,
  files: { subdir: string; train: string[]; test: string[] },
): Promise<string> {
  await requireDirectory(dir, 'a directory of CIFAR batch files');
  const sub = join(dir, files.subdir);
  const root = (await stat(sub).catch(() => null))?.isDirectory() ? sub : dir;
  const wanted = [...files.train, ...files.test];
  const missing: string[] = [];
  for (const name of wanted) {
    if (!(await stat(join(root, name)).catch(() => null))?.isFile()) missing.push(name);
  }
  if (missing.length > 0) {
    const where = root === dir ? `${dir} (nor ${sub})` : root;
    throw new DatasetError(
      root,
      `expected ${wanted.join(', ')} in ${where}; missing: ${missing.join(', ')}`,
    );
  }
  return root;
}

/** Reads, checks and concatenates the batch files of one split. */
async function loadSplit(
  root: string,
  names: string[],
  variant: CifarVariant,
): Promise<ImageSplit> {
  const batches: Uint8Array[] = [];
  let total = 0;
  for (const name of names) {
    const bytes = await readBytes(join(root, name));
    total += checkCifarBatch(bytes, name, variant);
    batches.push(bytes);
  }
  const split: ImageSplit = {
    images: new Uint8Array(total * CIFAR_PIXEL_BYTES),
    labels: new Uint8Array(total),
    count: total,
  };
  let first = 0;
  for (const bytes of batches) {
    copyRecords(bytes, variant, split, first);
    first += bytes.length / cifarRecordBytes(variant);
  }
  return split;
}

/**
 * Class names from the first of `files` that exists in `root` (one name per
 * line, blank lines ignored), else class_0 .. class_{n-1}.
 */
async function classNames(root: string, files: string[], n: number): Promise<string[]> {
  for (const file of files) {
    const path = join(root, file);
    if (!(await stat(path).catch(() => null))?.isFile()) continue;
    const text = new TextDecoder().decode(await readBytes(path));
    const names = text
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line.length > 0);
    if (names.length !== n) {
      throw new DatasetError(
        file,
        `expected ${n} class names (one per line), got ${names.length}`,
      );
    }
    return names;
  }
  return Array.from({ length: n }, (_, i) => `class_${i}`);
}

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new DatasetError(basename(path), `cannot read ${path} (${code})`);
  }
}
