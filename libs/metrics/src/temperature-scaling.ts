import {
  type Labels,
  type Matrix,
  matrixWithLabels,
  type ScoreMatrix,
} from './matrix.js';
import { checkTemperature, logSoftmaxAt } from './softmax.js';

/** The fitted post-hoc temperature and the NLL before (T = 1) and after. */
export interface TemperatureFit {
  temperature: number;
  nllBefore: number;
  nllAfter: number;
}

export interface TemperatureFitOptions {
  /** Classes per row; inferred from the labels for flat input. */
  numClasses?: number;
  /** Search interval for T (default [0.01, 100]). */
  minTemperature?: number;
  maxTemperature?: number;
  /** Width of the final bracket in log T (default 1e-9). */
  tolerance?: number;
}

const INVERSE_GOLDEN = (Math.sqrt(5) - 1) / 2;

/**
 * Mean NLL of softmax(logits / T) at the true labels (stable log-softmax,
 * no probability floor).
 */
export function nllAtTemperature(
  logits: ScoreMatrix,
  labels: Labels,
  temperature: number,
  numClasses?: number,
): number {
  return nllOf(
    matrixWithLabels(logits, labels, 'logits', numClasses),
    labels,
    temperature,
  );
}

/**
 * Post-hoc temperature scaling: the T minimising the NLL of softmax(logits/T)
 * on held-out logits. NLL is convex in 1/T, hence unimodal in log T, so a
 * golden-section search on log T finds the minimum to `tolerance`.
 */
export function fitTemperature(
  logits: ScoreMatrix,
  labels: Labels,
  options: TemperatureFitOptions = {},
): TemperatureFit {
  const matrix = matrixWithLabels(logits, labels, 'logits', options.numClasses);
  const low = options.minTemperature ?? 0.01;
  const high = options.maxTemperature ?? 100;
  const tolerance = options.tolerance ?? 1e-9;
  checkTemperature(low);
  checkTemperature(high);
  if (!(low < high)) {
    throw new RangeError(`minTemperature: expected < maxTemperature ${high}, got ${low}`);
  }
  if (!(tolerance > 0)) throw new RangeError(`tolerance: expected > 0, got ${tolerance}`);
  const nll = (logT: number) => nllOf(matrix, labels, Math.exp(logT));
  let a = Math.log(low);
  let b = Math.log(high);
  let c = b - INVERSE_GOLDEN * (b - a);
  let d = a + INVERSE_GOLDEN * (b - a);
  let fc = nll(c);
  let fd = nll(d);
  while (b - a > tolerance) {
    if (fc <= fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - INVERSE_GOLDEN * (b - a);
      fc = nll(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + INVERSE_GOLDEN * (b - a);
      fd = nll(d);
    }
  }
  // The best of the final bracket's points, the ends included (a minimum at
  // an end of the search interval is returned as that end).
  let bestLogT = fc <= fd ? c : d;
  let best = Math.min(fc, fd);
  for (const end of [a, b]) {
    const value = nll(end);
    if (value < best) {
      best = value;
      bestLogT = end;
    }
  }
  return {
    temperature: Math.exp(bestLogT),
    nllBefore: nllOf(matrix, labels, 1),
    nllAfter: best,
  };
}

function nllOf(matrix: Matrix, labels: Labels, temperature: number): number {
  checkTemperature(temperature);
  let sum = 0;
  for (let r = 0; r < matrix.rows; r++) {
    sum -= logSoftmaxAt(
      matrix.values,
      r * matrix.cols,
      matrix.cols,
      labels[r],
      temperature,
    );
  }
  return sum / matrix.rows;
}
