import {
  expectedCalibrationError,
  fitTemperature,
  nllAtTemperature,
  softmax,
} from '@vicinal/metrics';

/** Post-hoc temperature scaling fitted on one half of a split, judged on the other. */
export interface HeldOutTemperature {
  temperature: number;
  /** NLL and ECE on the evaluation half, before (T = 1) and after scaling. */
  nllBefore: number;
  nllAfter: number;
  eceBefore: number;
  eceAfter: number;
  fitImages: number;
  evalImages: number;
}

/**
 * Fits the temperature that minimises NLL on a seeded random half of the
 * rows and reports NLL and ECE before and after on the other half, so the
 * figures after scaling are on images the fit never saw.
 */
export function heldOutTemperature(
  logits: Float32Array,
  labels: ArrayLike<number>,
  numClasses: number,
  seed: number,
): HeldOutTemperature {
  const n = labels.length;
  const order = Array.from({ length: n }, (_, i) => i);
  let state = (seed ^ 0x5bd1e995) >>> 0 || 1;
  for (let i = n - 1; i > 0; i--) {
    // xorshift32: a fixed, seeded split
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    const j = state % (i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const half = Math.floor(n / 2);
  const take = (rows: number[]) => {
    const out = new Float32Array(rows.length * numClasses);
    const y = new Int32Array(rows.length);
    rows.forEach((r, k) => {
      out.set(logits.subarray(r * numClasses, (r + 1) * numClasses), k * numClasses);
      y[k] = labels[r];
    });
    return { logits: out, labels: y };
  };
  const fit = take(order.slice(0, half));
  const held = take(order.slice(half));
  const { temperature } = fitTemperature(fit.logits, fit.labels, { numClasses });
  const ece = (t: number) =>
    expectedCalibrationError(softmax(held.logits, t, numClasses), held.labels);
  return {
    temperature,
    nllBefore: nllAtTemperature(held.logits, held.labels, 1, numClasses),
    nllAfter: nllAtTemperature(held.logits, held.labels, temperature, numClasses),
    eceBefore: ece(1),
    eceAfter: ece(temperature),
    fitImages: fit.labels.length,
    evalImages: held.labels.length,
  };
}
