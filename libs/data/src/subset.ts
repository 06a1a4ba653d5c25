import type { ImageSplit } from './dataset.js';
import { DatasetError } from './errors.js';
import { seededRandom } from './random.js';

/**
 * A deterministic random subset of `n` distinct items of a split (same seed,
 * same subset), kept in the split's original order. The pixels are copied,
 * so the subset does not pin the full split in memory; when the split has a
 * fingerprint (or is itself a subset of one), the subset records each row's
 * number there (`origin`).
 */
export function subset(split: ImageSplit, n: number, seed: number): ImageSplit {
  if (!Number.isInteger(n) || n < 1 || n > split.count) {
    throw new DatasetError(
      'subset',
      `expected n to be an integer in [1, ${split.count}], got ${n}`,
    );
  }
  const pixels = split.images.length / split.count;
  const order = new Uint32Array(split.count);
  for (let i = 0; i < order.length; i++) order[i] = i;
  // Partial Fisher-Yates: the first n slots end up a uniform random sample.
  const random = seededRandom(seed);
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(random() * (split.count - i));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  const chosen = order.subarray(0, n).sort();
  const images = new Uint8Array(n * pixels);
  const labels = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    const src = chosen[k];
    images.set(split.images.subarray(src * pixels, (src + 1) * pixels), k * pixels);
    labels[k] = split.labels[src];
  }
  const from =
    split.origin ??
    (split.fingerprint ? { fingerprint: split.fingerprint, rows: null } : null);
  if (!from) return { images, labels, count: n };
  const rows = from.rows
    ? Uint32Array.from(chosen, (k) => from.rows[k])
    : Uint32Array.from(chosen);
  return { images, labels, count: n, origin: { fingerprint: from.fingerprint, rows } };
}
