/**
 * Summary statistics of repeated measurements: the median as the figure and
 * min-max plus the interquartile range as its spread.
 */

/** Median and spread of a set of repetitions. */
export interface Summary {
  /** Number of repetitions. */
  n: number;
  median: number;
  min: number;
  max: number;
  /** 25th and 75th percentiles (linear interpolation between order statistics). */
  p25: number;
  p75: number;
}

/**
 * The q-quantile (0 <= q <= 1) of `values` by linear interpolation between
 * the sorted values (the "type 7" definition most tools use).
 */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) throw new RangeError('values: expected at least one, got 0');
  if (!(q >= 0 && q <= 1))
    throw new RangeError(`q: expected a value in [0, 1], got ${q}`);
  const sorted = sortedFinite(values);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** The median (the 0.5-quantile) of `values`. */
export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** Median, extremes and quartiles of one set of repetitions. */
export function summarise(values: readonly number[]): Summary {
  const sorted = sortedFinite(values);
  if (sorted.length === 0) throw new RangeError('values: expected at least one, got 0');
  return {
    n: sorted.length,
    median: quantile(sorted, 0.5),
    min: sorted[0],
    max: sorted[sorted.length - 1],
    p25: quantile(sorted, 0.25),
    p75: quantile(sorted, 0.75),
  };
}

/** A ratio of two measured quantities: of the medians, with its plausible range. */
export interface RatioSummary {
  /** median(numerator) / median(denominator). */
  value: number;
  /** Smallest and largest ratio the two min-max ranges allow. */
  low: number;
  high: number;
}

/**
 * The ratio of two summaries. `value` is the ratio of the medians; `low` and
 * `high` bound it using the extremes (min / max and max / min), so a ratio
 * whose range straddles a target has not been shown to meet it.
 */
export function ratio(numerator: Summary, denominator: Summary): RatioSummary {
  if (!(denominator.median > 0) || !(denominator.min > 0)) {
    throw new RangeError(
      `denominator: expected positive measurements, got median ${denominator.median} ` +
        `and min ${denominator.min}`,
    );
  }
  return {
    value: numerator.median / denominator.median,
    low: numerator.min / denominator.max,
    high: numerator.max / denominator.min,
  };
}

/** Rounds to `digits` significant digits (for printing and compact JSON). */
export function significant(value: number, digits = 4): number {
  if (value === 0 || !Number.isFinite(value)) return value;
  return Number(value.toPrecision(digits));
}

function sortedFinite(values: readonly number[]): number[] {
  values.forEach((v, i) => {
    if (!Number.isFinite(v)) {
      throw new RangeError(`values[${i}]: expected a finite number, got ${v}`);
    }
  });
  return [...values].sort((a, b) => a - b);
}

/**
 * The order of `items` in repetition `rep` (from 1), from a Williams Latin
 * square: the first order is 0, n-1, 1, n-2, 2, ...; each next one adds 1 to
 * every index (mod n). Over n repetitions (n even) each item runs once in
 * every position and right after every other item exactly once, so what one
 * item leaves behind (garbage, cold caches) falls on all the others alike.
 */
export function modeOrder<T>(items: readonly T[], rep: number): T[] {
  if (!Number.isInteger(rep) || rep < 1) {
    throw new RangeError(`rep: expected an integer >= 1, got ${rep}`);
  }
  const n = items.length;
  const first: number[] = [];
  let low = 0;
  let high = n - 1;
  for (let i = 0; i < n; i++) first.push(i % 2 === 0 ? low++ : high--);
  return first.map((index) => items[(index + rep - 1) % n]);
}

/**
 * Samples/s between the end of the first step and the end of the last, from
 * the steps' end times. Needs every step's time (the trainer called back
 * after each), and two steps at least.
 */
export function steadyState(
  stepEnds: readonly number[],
  steps: number,
  batch: number,
): number {
  if (steps < 2 || stepEnds.length !== steps) {
    throw new RangeError(
      `stepEnds: expected one end time for each of at least 2 steps, got ${stepEnds.length} ` +
        `for ${steps} steps`,
    );
  }
  const seconds = (stepEnds[steps - 1] - stepEnds[0]) / 1000;
  if (!(seconds > 0)) {
    throw new RangeError(
      `stepEnds: expected increasing times, got a span of ${seconds} s`,
    );
  }
  return ((steps - 1) * batch) / seconds;
}
