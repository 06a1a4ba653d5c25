/**
 * Row-major [N, K] scores (probabilities or logits): a flat Float32Array /
 * Float64Array / number[] of N*K values, or one array per row.
 */
export type ScoreMatrix =
  | Float32Array
  | Float64Array
  | readonly number[]
  | readonly (readonly number[])[];

/** Class labels, one integer in [0, K) per row. */
export type Labels = ArrayLike<number>;

/** A validated row-major matrix. */
export interface Matrix {
  values: ArrayLike<number>;
  rows: number;
  cols: number;
}

/** Raised when an input does not have the expected shape or values. */
export class MetricInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MetricInputError';
  }
}

/**
 * Validates `input` as a finite [N, K] matrix. For flat input the number of
 * classes comes from `numClasses` or, failing that, from `rows` (e.g. the
 * number of labels).
 */
export function toMatrix(
  input: ScoreMatrix,
  what: string,
  shape: { numClasses?: number; rows?: number } = {},
): Matrix {
  let matrix: Matrix;
  if (input.length > 0 && typeof input[0] !== 'number') {
    const nested = input as readonly (readonly number[])[];
    const cols = nested[0].length;
    const values = new Float64Array(nested.length * cols);
    nested.forEach((row, i) => {
      if (!Array.isArray(row) || row.length !== cols) {
        throw new MetricInputError(
          `${what}[${i}]: expected a row of ${cols} numbers like row 0, got ` +
            (Array.isArray(row) ? `${row.length}` : typeof row),
        );
      }
      values.set(row, i * cols);
    });
    matrix = { values, rows: nested.length, cols };
  } else {
    const flat = input as ArrayLike<number>;
    const cols = shape.numClasses ?? (shape.rows ? flat.length / shape.rows : Number.NaN);
    if (!Number.isInteger(cols) || cols < 1) {
      throw new MetricInputError(
        `${what}: cannot tell the number of classes of ${flat.length} flat values ` +
          (shape.numClasses !== undefined
            ? `(numClasses ${shape.numClasses} is not an integer >= 1)`
            : shape.rows
              ? `for ${shape.rows} rows (not a multiple)`
              : '(pass numClasses)'),
      );
    }
    if (flat.length % cols !== 0) {
      throw new MetricInputError(
        `${what}: expected a multiple of ${cols} values (numClasses), got ${flat.length}`,
      );
    }
    matrix = { values: flat, rows: flat.length / cols, cols };
  }
  if (shape.numClasses !== undefined && matrix.cols !== shape.numClasses) {
    throw new MetricInputError(
      `${what}: expected ${shape.numClasses} classes per row, got ${matrix.cols}`,
    );
  }
  const { values } = matrix;
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      const row = Math.floor(i / matrix.cols);
      const col = i - row * matrix.cols;
      throw new MetricInputError(
        `${what}[${row}][${col}]: expected a finite number, got ${values[i]}`,
      );
    }
  }
  return matrix;
}

/** Checks one label per row, each an integer class in [0, cols). */
export function checkLabels(labels: Labels, matrix: Matrix, what: string): void {
  if (labels.length !== matrix.rows) {
    throw new MetricInputError(
      `labels: expected ${matrix.rows} (one per row of ${what}), got ${labels.length}`,
    );
  }
  if (matrix.rows === 0) throw new MetricInputError(`${what}: expected at least one row`);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= matrix.cols) {
      throw new MetricInputError(
        `labels[${i}]: expected a class in [0, ${matrix.cols}), got ${y}`,
      );
    }
  }
}

/** Reads the number of rows implied by labels when the input is flat. */
export function matrixWithLabels(
  input: ScoreMatrix,
  labels: Labels,
  what: string,
  numClasses?: number,
): Matrix {
  const matrix = toMatrix(input, what, { numClasses, rows: labels.length });
  checkLabels(labels, matrix, what);
  return matrix;
}
