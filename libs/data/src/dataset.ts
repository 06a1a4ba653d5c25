/** One split of a labelled image set, uint8 pixels row-major [count,H,W,C]. */
export interface ImageSplit {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
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

/** Where a data set lives and which loader reads it. */
export interface DatasetSettings {
  name: string;
  /** Directory of the files; each loader has its own default. */
  dir?: string;
}

/** Pixels in one image of a data set of this shape. */
export function pixelsPerImage(shape: readonly [number, number, number]): number {
  return shape[0] * shape[1] * shape[2];
}
