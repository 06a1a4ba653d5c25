/** One split of a labelled image set, uint8 pixels row-major [count,H,W,C]. */
export interface ImageSplit {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  /**
   * Identity of these pixels (splitFingerprint), set on the training split
   * of every data set loadDataset returns: a teacher server holding the same
   * split lists the same fingerprint, and a student's queries may then name
   * rows instead of sending pixels.
   */
  fingerprint?: string;
  /** A subset's rows in the fingerprinted split it was drawn from. */
  origin?: SplitOrigin;
}

/** Where a subset's rows come from. */
export interface SplitOrigin {
  /** Fingerprint of the split the rows were drawn from. */
  fingerprint: string;
  /** Row i of the subset is row rows[i] of that split. */
  rows: Uint32Array;
}

/**
 * A labelled image data set as the rest of the system sees it. Models take
 * (pixel / 255 - mean[c]) / std[c] per channel as input.
 */
export interface Dataset {
  name: string;
  train: ImageSplit;
  test: ImageSplit;
  /** [H, W, C] of one image. */
  shape: [number, number, number];
  numClasses: number;
  classNames: string[];
  /** Per-channel mean and std of pixel / 255 over the training split. */
  mean: number[];
  std: number[];
}

/**
 * Loader options, each read only by the loaders it names; the others ignore
 * it. Every field is optional and has a documented default.
 */
export interface DatasetOptions {
  /** cifar100: the fine labels (100 classes, default) or the coarse ones (20). */
  labels?: 'fine' | 'coarse';
  /**
   * image-folder: [height, width] every image is resized to (area averaging).
   * Default: the size of the first image, which all others must then share.
   */
  size?: readonly [number, number];
  /** image-folder: 1 (grey) or 3 (RGB); default 1 only if every file is grey. */
  channels?: 1 | 3;
  /** image-folder without train/test folders: share of each class held out. */
  testFraction?: number;
  /** image-folder without train/test folders: seed of the held-out choice. */
  seed?: number;
}

/** Where a data set lives and which loader reads it. */
export interface DatasetSettings {
  name: string;
  /** Directory of the files; each loader has its own default. */
  dir?: string;
  /** Loader options; see {@link DatasetOptions}. */
  options?: DatasetOptions;
}

/** Pixels in one image of a data set of this shape. */
export function pixelsPerImage(shape: readonly [number, number, number]): number {
  return shape[0] * shape[1] * shape[2];
}
