import { checkNumBins } from './bins.js';
import { DEFAULT_CALIBRATION_BINS, predictionsOf } from './calibration.js';
import { type Labels, matrixWithLabels, type ScoreMatrix } from './matrix.js';

/** Equal-mass bins: each holds (almost) the same number of predictions. */
export interface AdaptiveCalibrationBins {
  /** Smallest confidence in each non-empty bin (empty bins are left out). */
  lower: number[];
  /** Largest confidence in each bin. */
  upper: number[];
  counts: number[];
  accuracy: number[];
  confidence: number[];
}

/** Adaptive (equal-mass) calibration error and the bins behind it. */
export interface AdaptiveCalibration {
  /** sum_b |acc_b - conf_b| * n_b / N over the equal-mass bins. */
  ece: number;
  /** max_b |acc_b - conf_b| over the same bins. */
  mce: number;
  bins: AdaptiveCalibrationBins;
}

export interface AdaptiveCalibrationOptions {
  /** Number of equal-mass bins (default 15). */
  numBins?: number;
  /** Classes per row; inferred from the labels for flat input. */
  numClasses?: number;
}

/**
 * Calibration over equal-mass bins. The rows are sorted by confidence (max
 * probability; ties keep the input order) and split by rank: bin b holds the
 * sorted rows floor(b*N/n) .. floor((b+1)*N/n) - 1, so the sizes differ by at
 * most one and, when N < n, some bins are empty and left out. Accuracy and
 * confidence per bin are weighted as in the equal-width ECE.
 */
export function adaptiveCalibration(
  probabilities: ScoreMatrix,
  labels: Labels,
  options: AdaptiveCalibrationOptions = {},
): AdaptiveCalibration {
  const numBins = options.numBins ?? DEFAULT_CALIBRATION_BINS;
  checkNumBins(numBins);
  const matrix = matrixWithLabels(
    probabilities,
    labels,
    'probabilities',
    options.numClasses,
  );
  const { prediction, confidence } = predictionsOf(matrix);
  const n = matrix.rows;
  const order = Array.from({ length: n }, (_, i) => i);
  // Array.prototype.sort is stable, so equal confidences keep the input order.
  order.sort((a, b) => confidence[a] - confidence[b]);
  const bins: AdaptiveCalibrationBins = {
    lower: [],
    upper: [],
    counts: [],
    accuracy: [],
    confidence: [],
  };
  let ece = 0;
  let mce = 0;
  for (let b = 0; b < numBins; b++) {
    const start = Math.floor((b * n) / numBins);
    const end = Math.floor(((b + 1) * n) / numBins);
    if (end <= start) continue;
    let correct = 0;
    let confidenceSum = 0;
    for (let r = start; r < end; r++) {
      const row = order[r];
      if (prediction[row] === labels[row]) correct += 1;
      confidenceSum += confidence[row];
    }
    const count = end - start;
    const acc = correct / count;
    const conf = confidenceSum / count;
    const gap = Math.abs(acc - conf);
    ece += (gap * count) / n;
    mce = Math.max(mce, gap);
    bins.lower.push(confidence[order[start]]);
    bins.upper.push(confidence[order[end - 1]]);
    bins.counts.push(count);
    bins.accuracy.push(acc);
    bins.confidence.push(conf);
  }
  return { ece, mce, bins };
}

/** Adaptive ECE: the expected calibration error over equal-mass bins (default 15). */
export function adaptiveCalibrationError(
  probabilities: ScoreMatrix,
  labels: Labels,
  options: AdaptiveCalibrationOptions = {},
): number {
  return adaptiveCalibration(probabilities, labels, options).ece;
}
