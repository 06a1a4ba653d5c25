import { binIndex, checkNumBins } from './bins.js';
import {
  type Labels,
  type Matrix,
  matrixWithLabels,
  type ScoreMatrix,
} from './matrix.js';
import { logSoftmaxAt, softmaxMatrix } from './softmax.js';

/** Number of equal-width confidence bins used unless told otherwise. */
export const DEFAULT_CALIBRATION_BINS = 15;
/** NLL takes log(max(p, 1e-12)) so one zero probability does not make it infinite. */
export const NLL_PROBABILITY_FLOOR = 1e-12;

/** Per-bin counts, accuracy and mean confidence (0 for an empty bin). */
export interface ReliabilityBins {
  /** Lower edge b/n of each bin. */
  lower: number[];
  /** Upper edge (b+1)/n of each bin (the last bin includes it). */
  upper: number[];
  counts: number[];
  accuracy: number[];
  confidence: number[];
}

/** Accuracy and calibration of a set of predictions. */
export interface CalibrationMetrics {
  /** Number of samples N. */
  count: number;
  numClasses: number;
  accuracy: number;
  /** Mean of the max probability. */
  avgConfidence: number;
  /** Expected calibration error: sum_b |acc_b - conf_b| * n_b / N. */
  ece: number;
  /** Maximum calibration error over non-empty bins. */
  mce: number;
  /** avgConfidence - accuracy (positive: over-confident). */
  overconfidence: number;
  /** Mean negative log-likelihood of the true class. */
  nll: number;
  /** Mean over samples of the summed squared error to the one-hot label. */
  brier: number;
  bins: ReliabilityBins;
}

export interface CalibrationOptions {
  /** Number of equal-width confidence bins (default 15). */
  numBins?: number;
  /** Classes per row; inferred from the labels for flat input. */
  numClasses?: number;
}

/** Confidence (max probability) and prediction (first index of the max) per row. */
export interface Predictions {
  prediction: Int32Array;
  confidence: Float64Array;
}

/** Per-row prediction = FIRST index of the maximum probability, and its value. */
export function predictionsOf(probabilities: Matrix): Predictions {
  const { values, rows, cols } = probabilities;
  const prediction = new Int32Array(rows);
  const confidence = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let best = 0;
    for (let k = 1; k < cols; k++) if (values[base + k] > values[base + best]) best = k;
    prediction[r] = best;
    confidence[r] = values[base + best];
  }
  return { prediction, confidence };
}

/**
 * Every calibration figure of `probabilities` [N, K] against `labels`:
 * accuracy, mean confidence, ECE, MCE, over-confidence, NLL, Brier and the
 * reliability bins. Plain float64 arithmetic throughout.
 */
export function calibrationMetrics(
  probabilities: ScoreMatrix,
  labels: Labels,
  options: CalibrationOptions = {},
): CalibrationMetrics {
  const matrix = matrixWithLabels(
    probabilities,
    labels,
    'probabilities',
    options.numClasses,
  );
  const nll = meanNll(matrix, labels, (r, y) =>
    Math.log(Math.max(matrix.values[r * matrix.cols + y], NLL_PROBABILITY_FLOOR)),
  );
  return metricsOf(matrix, labels, nll, options.numBins ?? DEFAULT_CALIBRATION_BINS);
}

/** Fraction of rows whose prediction equals the label. */
export function accuracy(probabilities: ScoreMatrix, labels: Labels): number {
  return calibrationMetrics(probabilities, labels).accuracy;
}

/** Mean confidence (max probability). */
export function averageConfidence(probabilities: ScoreMatrix, labels: Labels): number {
  return calibrationMetrics(probabilities, labels).avgConfidence;
}

/** Mean confidence minus accuracy (positive: over-confident). */
export function overconfidence(probabilities: ScoreMatrix, labels: Labels): number {
  return calibrationMetrics(probabilities, labels).overconfidence;
}

/** Expected calibration error with `numBins` equal-width bins (default 15). */
export function expectedCalibrationError(
  probabilities: ScoreMatrix,
  labels: Labels,
  numBins = DEFAULT_CALIBRATION_BINS,
): number {
  return calibrationMetrics(probabilities, labels, { numBins }).ece;
}

/** Maximum calibration error over the non-empty bins. */
export function maxCalibrationError(
  probabilities: ScoreMatrix,
  labels: Labels,
  numBins = DEFAULT_CALIBRATION_BINS,
): number {
  return calibrationMetrics(probabilities, labels, { numBins }).mce;
}

/** Reliability diagram data: per-bin counts, accuracy and confidence. */
export function reliabilityBins(
  probabilities: ScoreMatrix,
  labels: Labels,
  numBins = DEFAULT_CALIBRATION_BINS,
): ReliabilityBins {
  return calibrationMetrics(probabilities, labels, { numBins }).bins;
}

/** Mean negative log-likelihood of the true class (p floored at 1e-12). */
export function negativeLogLikelihood(
  probabilities: ScoreMatrix,
  labels: Labels,
): number {
  return calibrationMetrics(probabilities, labels).nll;
}

/** Brier score: batch mean of sum_k (p_k - onehot_k)^2. */
export function brierScore(probabilities: ScoreMatrix, labels: Labels): number {
  return calibrationMetrics(probabilities, labels).brier;
}

/** What `calibrationReport` was given. */
export type ScoreKind = 'logits' | 'probabilities';

export interface CalibrationReportOptions extends CalibrationOptions {
  /** Whether the scores are logits (softmax applied, the default) or probabilities. */
  input?: ScoreKind;
}

/** calibrationMetrics plus what the scores were; a plain, JSON-ready object. */
export interface CalibrationReport extends CalibrationMetrics {
  input: ScoreKind;
}

/**
 * One-shot report from logits (default; probabilities = softmax(logits))
 * or probabilities. The third argument is the number of classes or options.
 * From logits, NLL uses the stable log-softmax (with the same 1e-12 floor).
 */
export function calibrationReport(
  scores: ScoreMatrix,
  labels: Labels,
  numClassesOrOptions: number | CalibrationReportOptions = {},
): CalibrationReport {
  const options =
    typeof numClassesOrOptions === 'number'
      ? { numClasses: numClassesOrOptions }
      : numClassesOrOptions;
  const input = options.input ?? 'logits';
  if (input === 'probabilities') {
    return { input, ...calibrationMetrics(scores, labels, options) };
  }
  const logits = matrixWithLabels(scores, labels, 'logits', options.numClasses);
  const floor = Math.log(NLL_PROBABILITY_FLOOR);
  const nll = meanNll(logits, labels, (r, y) =>
    Math.max(logSoftmaxAt(logits.values, r * logits.cols, logits.cols, y), floor),
  );
  const probabilities: Matrix = { ...logits, values: softmaxMatrix(logits) };
  const metrics = metricsOf(
    probabilities,
    labels,
    nll,
    options.numBins ?? DEFAULT_CALIBRATION_BINS,
  );
  return { input, ...metrics };
}

function meanNll(
  matrix: Matrix,
  labels: Labels,
  logLikelihood: (row: number, label: number) => number,
): number {
  let sum = 0;
  for (let r = 0; r < matrix.rows; r++) sum -= logLikelihood(r, labels[r]);
  return sum / matrix.rows;
}

function metricsOf(
  probabilities: Matrix,
  labels: Labels,
  nll: number,
  numBins: number,
): CalibrationMetrics {
  checkNumBins(numBins);
  const { values, rows, cols } = probabilities;
  const { prediction, confidence } = predictionsOf(probabilities);
  const counts = new Array<number>(numBins).fill(0);
  const correctSum = new Array<number>(numBins).fill(0);
  const confidenceSum = new Array<number>(numBins).fill(0);
  let correct = 0;
  let totalConfidence = 0;
  let brierSum = 0;
  for (let r = 0; r < rows; r++) {
    const hit = prediction[r] === labels[r] ? 1 : 0;
    correct += hit;
    totalConfidence += confidence[r];
    const b = binIndex(confidence[r], numBins);
    counts[b] += 1;
    correctSum[b] += hit;
    confidenceSum[b] += confidence[r];
    const base = r * cols;
    for (let k = 0; k < cols; k++) {
      const diff = values[base + k] - (k === labels[r] ? 1 : 0);
      brierSum += diff * diff;
    }
  }
  const binAccuracy = counts.map((n, b) => (n > 0 ? correctSum[b] / n : 0));
  const binConfidence = counts.map((n, b) => (n > 0 ? confidenceSum[b] / n : 0));
  let ece = 0;
  let mce = 0;
  for (let b = 0; b < numBins; b++) {
    if (counts[b] === 0) continue;
    const gap = Math.abs(binAccuracy[b] - binConfidence[b]);
    ece += (gap * counts[b]) / rows;
    mce = Math.max(mce, gap);
  }
  const acc = correct / rows;
  const avgConfidence = totalConfidence / rows;
  return {
    count: rows,
    numClasses: cols,
    accuracy: acc,
    avgConfidence,
    ece,
    mce,
    overconfidence: avgConfidence - acc,
    nll,
    brier: brierSum / rows,
    bins: {
      lower: counts.map((_, b) => b / numBins),
      upper: counts.map((_, b) => (b + 1) / numBins),
      counts,
      accuracy: binAccuracy,
      confidence: binConfidence,
    },
  };
}
