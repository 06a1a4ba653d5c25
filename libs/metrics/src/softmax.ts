import { type Matrix, type ScoreMatrix, toMatrix } from './matrix.js';

/**
 * Row-wise softmax(logits / T) in float64, max subtracted first. Flat input
 * needs `numClasses`. Returns a row-major Float64Array [N*K].
 */
export function softmax(
  logits: ScoreMatrix,
  temperature = 1,
  numClasses?: number,
): Float64Array {
  return softmaxMatrix(toMatrix(logits, 'logits', { numClasses }), temperature);
}

/** softmax on an already validated matrix. */
export function softmaxMatrix(logits: Matrix, temperature = 1): Float64Array {
  checkTemperature(temperature);
  const { values, rows, cols } = logits;
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    const max = rowMax(values, base, cols);
    let sum = 0;
    for (let k = 0; k < cols; k++) {
      const e = Math.exp((values[base + k] - max) / temperature);
      out[base + k] = e;
      sum += e;
    }
    for (let k = 0; k < cols; k++) out[base + k] /= sum;
  }
  return out;
}

/** log softmax(row / T)[k] of one row, computed stably. */
export function logSoftmaxAt(
  values: ArrayLike<number>,
  base: number,
  cols: number,
  k: number,
  temperature = 1,
): number {
  const max = rowMax(values, base, cols);
  let sum = 0;
  for (let c = 0; c < cols; c++) sum += Math.exp((values[base + c] - max) / temperature);
  return (values[base + k] - max) / temperature - Math.log(sum);
}

function rowMax(values: ArrayLike<number>, base: number, cols: number): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let k = 0; k < cols; k++) if (values[base + k] > max) max = values[base + k];
  return max;
}

/** Throws unless the temperature is a finite number > 0. */
export function checkTemperature(temperature: number): void {
  if (!(temperature > 0) || !Number.isFinite(temperature)) {
    throw new RangeError(`temperature: expected a finite number > 0, got ${temperature}`);
  }
}
