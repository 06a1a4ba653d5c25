/**
 * Seed for the `index`-th initialiser of a model built with `seed`: a 32-bit
 * mix, so neighbouring model seeds and layers get unrelated streams.
 */
export function layerSeed(seed: number, index: number): number {
  let h =
    Math.imul((seed | 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  return h >>> 0;
}
