import { binIndex, checkNumBins } from './bins.js';
import { type Matrix, MetricInputError, type ScoreMatrix, toMatrix } from './matrix.js';

/** Added to every probability before a logarithm in the vicinal analysis. */
export const VICINAL_EPSILON = 1e-10;
/** Number of lambda bins of the vicinal curves. */
export const DEFAULT_LAMBDA_BINS = 20;

/**
 * Per-row KL(p || q) = sum_k (p_k + eps) log((p_k + eps) / (q_k + eps)), eps
 * added to both sides (default 1e-10). Returns one value per row.
 */
export function klDivergenceRows(
  p: ScoreMatrix,
  q: ScoreMatrix,
  numClasses?: number,
  epsilon = VICINAL_EPSILON,
): Float64Array {
  const [mp, mq] = sameShape([p, q], ['p', 'q'], { numClasses });
  return klOf(mp.values, mq.values, mp.rows, mp.cols, epsilon);
}

/** Per-row entropy -sum_k (p_k + eps) log(p_k + eps), eps default 1e-10. */
export function entropyRows(
  p: ScoreMatrix,
  numClasses?: number,
  epsilon = VICINAL_EPSILON,
): Float64Array {
  const { values, rows, cols } = toMatrix(p, 'p', { numClasses });
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let h = 0;
    for (let k = 0; k < cols; k++) {
      const v = values[r * cols + k] + epsilon;
      h -= v * Math.log(v);
    }
    out[r] = h;
  }
  return out;
}

/**
 * Non-linearity in the vicinal region, per pair: L_NL = KL(lambda * p(x_i) +
 * (1 - lambda) * p(x_j) || p(x~)), eps 1e-10 on both sides. 0 means the
 * model's output on the mixed input is exactly the mix of its outputs.
 */
export function vicinalNonLinearity(
  pI: ScoreMatrix,
  pJ: ScoreMatrix,
  pMix: ScoreMatrix,
  lambda: ArrayLike<number>,
  numClasses?: number,
): Float64Array {
  const [mi, mj, mm] = sameShape([pI, pJ, pMix], ['pI', 'pJ', 'pMix'], {
    numClasses,
    rows: lambda.length,
  });
  checkLambda(lambda, mi.rows);
  const { rows, cols } = mi;
  const mixOfOutputs = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const l = lambda[r];
    for (let k = 0; k < cols; k++) {
      const at = r * cols + k;
      mixOfOutputs[at] = l * mi.values[at] + (1 - l) * mj.values[at];
    }
  }
  return klOf(mixOfOutputs, mm.values, rows, cols, VICINAL_EPSILON);
}

/** Mean of a per-pair quantity over one lambda bin. */
export interface LambdaBin {
  lower: number;
  upper: number;
  count: number;
  /** NaN for an empty bin. */
  mean: number;
}

/**
 * Groups per-pair values by lambda into `numBins` equal-width bins of [0, 1]
 * ([b/n, (b+1)/n), the last closed) and averages each bin.
 */
export function byLambdaBin(
  values: ArrayLike<number>,
  lambda: ArrayLike<number>,
  numBins = DEFAULT_LAMBDA_BINS,
): LambdaBin[] {
  checkNumBins(numBins);
  checkLambda(lambda, values.length);
  const sums = new Array<number>(numBins).fill(0);
  const counts = new Array<number>(numBins).fill(0);
  for (let i = 0; i < values.length; i++) {
    const b = binIndex(lambda[i], numBins);
    sums[b] += values[i];
    counts[b] += 1;
  }
  return counts.map((count, b) => ({
    lower: b / numBins,
    upper: (b + 1) / numBins,
    count,
    mean: count > 0 ? sums[b] / count : Number.NaN,
  }));
}

/**
 * Mean of the values whose lambda lies in the open interval (low, high);
 * by default the peak of the vicinal curves, (0.45, 0.55).
 */
export function meanInLambdaRange(
  values: ArrayLike<number>,
  lambda: ArrayLike<number>,
  low = 0.45,
  high = 0.55,
): { count: number; mean: number } {
  checkLambda(lambda, values.length);
  let sum = 0;
  let count = 0;
  for (let i = 0; i < values.length; i++) {
    if (lambda[i] > low && lambda[i] < high) {
      sum += values[i];
      count += 1;
    }
  }
  return { count, mean: count > 0 ? sum / count : Number.NaN };
}

function klOf(
  p: ArrayLike<number>,
  q: ArrayLike<number>,
  rows: number,
  cols: number,
  epsilon: number,
): Float64Array {
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let kl = 0;
    for (let k = 0; k < cols; k++) {
      const a = p[r * cols + k] + epsilon;
      kl += a * Math.log(a / (q[r * cols + k] + epsilon));
    }
    out[r] = kl;
  }
  return out;
}

function sameShape(
  inputs: ScoreMatrix[],
  names: string[],
  shape: { numClasses?: number; rows?: number },
): Matrix[] {
  const first = toMatrix(inputs[0], names[0], shape);
  const rest = inputs
    .slice(1)
    .map((input, i) => toMatrix(input, names[i + 1], { numClasses: first.cols }));
  rest.forEach((m, i) => {
    if (m.rows !== first.rows) {
      throw new MetricInputError(
        `${names[i + 1]}: expected ${first.rows} rows like ${names[0]}, got ${m.rows}`,
      );
    }
  });
  return [first, ...rest];
}

function checkLambda(lambda: ArrayLike<number>, rows: number): void {
  if (lambda.length !== rows) {
    throw new MetricInputError(
      `lambda: expected ${rows} values (one per row), got ${lambda.length}`,
    );
  }
  for (let i = 0; i < rows; i++) {
    if (!(lambda[i] >= 0 && lambda[i] <= 1)) {
      throw new MetricInputError(
        `lambda[${i}]: expected a value in [0, 1], got ${lambda[i]}`,
      );
    }
  }
}
