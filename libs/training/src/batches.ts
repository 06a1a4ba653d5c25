import type { ImageSplit } from '@vicinal/data';

export interface Batch {
  /** uint8 [B,H,W,C] */
  images: Uint8Array;
  labels: Uint8Array;
  size: number;
  /** Row i of the batch is row indices[i] of the split. */
  indices: Uint32Array;
}

/**
 * Yields the split in mini-batches following `order` (indices into the split);
 * the last, smaller batch is dropped so every step has the same shape.
 */
export function* batchesInOrder(
  split: ImageSplit,
  order: ArrayLike<number>,
  batchSize: number,
  pixelsPerImage: number,
): Generator<Batch> {
  for (let start = 0; start + batchSize <= order.length; start += batchSize) {
    const images = new Uint8Array(batchSize * pixelsPerImage);
    const labels = new Uint8Array(batchSize);
    const indices = new Uint32Array(batchSize);
    for (let i = 0; i < batchSize; i++) {
      const src = order[start + i];
      indices[i] = src;
      images.set(
        split.images.subarray(src * pixelsPerImage, (src + 1) * pixelsPerImage),
        i * pixelsPerImage,
      );
      labels[i] = split.labels[src];
    }
    yield { images, labels, size: batchSize, indices };
  }
}

/** Number of full batches an epoch over `n` samples has. */
export function stepsPerEpoch(n: number, batchSize: number): number {
  return Math.floor(n / batchSize);
}
