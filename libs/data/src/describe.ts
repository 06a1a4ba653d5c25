import type { Dataset, ImageSplit } from './dataset.js';
import { DatasetError } from './errors.js';

/** Which part of a data set to describe: one split or both together. */
export type SplitName = 'train' | 'test' | 'all';

export const SPLIT_NAMES: readonly SplitName[] = ['train', 'test', 'all'];

/** Summary of a data set's images (key names as in `dataset inspect --json`). */
export interface DatasetDescription {
  images: number;
  /** [height, width, channels] of one image. */
  shape: [number, number, number];
  /** Images per class index, `numClasses` entries. */
  class_counts: number[];
}

/**
 * Number of images, image shape and per-class counts of the training split,
 * the test split or both together ('all', the default).
 */
export function describeDataset(
  dataset: Dataset,
  split: SplitName = 'all',
): DatasetDescription {
  if (!SPLIT_NAMES.includes(split)) {
    throw new DatasetError(
      'split',
      `expected one of ${SPLIT_NAMES.join(', ')}, got ${JSON.stringify(split)}`,
    );
  }
  const splits: ImageSplit[] =
    split === 'all' ? [dataset.train, dataset.test] : [dataset[split]];
  const counts = new Array<number>(dataset.numClasses).fill(0);
  let images = 0;
  for (const s of splits) {
    images += s.count;
    for (let i = 0; i < s.count; i++) {
      const label = s.labels[i];
      if (!(label < counts.length)) {
        throw new DatasetError(
          dataset.name,
          `expected labels < ${counts.length}, got ${label} at index ${i}`,
        );
      }
      counts[label]++;
    }
  }
  return { images, shape: [...dataset.shape], class_counts: counts };
}
