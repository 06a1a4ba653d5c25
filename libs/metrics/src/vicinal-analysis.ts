import { checkNumBins } from './bins.js';
import { type Matrix, MetricInputError, type ScoreMatrix, toMatrix } from './matrix.js';
import {
  byLambdaBin,
  DEFAULT_LAMBDA_BINS,
  entropyRows,
  klDivergenceRows,
  meanInLambdaRange,
  VICINAL_EPSILON,
  vicinalNonLinearity,
} from './vicinal.js';

/** The lambda band of the "peak" summary: lambda in the open interval (0.45, 0.55). */
export const DEFAULT_PEAK_RANGE: readonly [number, number] = [0.45, 0.55];

/**
 * The per-pair quantities of the vicinal analysis, in the order they are
 * reported. For pair n with x~ = lambda x_i + (1 - lambda) x_j, labels y_i,
 * y_j, teacher probabilities t_i, t_j, t~ and student probabilities s_i, s_j,
 * s~ on x_i, x_j, x~, eps = 1e-10 and KL(p || q) = sum_k (p_k + eps)
 * log((p_k + eps) / (q_k + eps)), H(p) = -sum_k (p_k + eps) log(p_k + eps):
 *
 * - nonLinearityTeacher: L_NL = KL(lambda t_i + (1 - lambda) t_j || t~).
 * - nonLinearityStudent: the same for the student.
 * - linearityGain: teacher minus student L_NL (positive: student more linear).
 * - entropyTeacher, entropyStudent: H(t~), H(s~).
 * - entropyGap: H(t~) - H(s~) (positive: the teacher is more spread out).
 * - alignmentMixed: KL(t~ || s~); alignmentClean: KL(t_i || s_i).
 * - alignmentDegradation: alignmentMixed - alignmentClean.
 *
 * Teacher-signal decomposition, with C = {y_i, y_j} the constituent classes
 * (one class when y_i = y_j) and R the other classes:
 * - constituentMass: sum_{k in C} t~_k; restMass: sum_{k in R} t~_k.
 * - restMassOfCleanMix: sum_{k in R} (lambda t_i + (1 - lambda) t_j)_k, the
 *   rest mass a teacher linear in probability would give.
 * - darkKnowledge: lambda (1 - t_i[y_i]) + (1 - lambda)(1 - t_j[y_j]), the
 *   teacher's clean non-target mass.
 * - restKl: KL(r~ || r_mix) where r(p)_k = (p_k + eps) / (sum_{m in R} p_m +
 *   |R| eps) for k in R renormalises p over R, r~ = r(t~) and r_mix =
 *   lambda r(t_i) + (1 - lambda) r(t_j), the lambda-mix of the clean
 *   non-target distributions (C removed from both, so all three share R).
 *   Undefined when R is empty.
 * - restCorrelation: Pearson correlation of r~ and r_mix over the classes in
 *   R. Undefined when |R| < 2 or either has zero variance.
 */
export const VICINAL_MEASURES = [
  'nonLinearityTeacher',
  'nonLinearityStudent',
  'linearityGain',
  'entropyTeacher',
  'entropyStudent',
  'entropyGap',
  'alignmentMixed',
  'alignmentClean',
  'alignmentDegradation',
  'constituentMass',
  'restMass',
  'restMassOfCleanMix',
  'darkKnowledge',
  'restKl',
  'restCorrelation',
] as const;

export type VicinalMeasure = (typeof VICINAL_MEASURES)[number];

/** One Float64Array per measure, one value per pair (NaN where undefined). */
export type VicinalPairMeasures = Record<VicinalMeasure, Float64Array>;

/** Probabilities of a teacher and a student on N pairs, row-major [N, K]. */
export interface VicinalPairsInput {
  /** Weight of x_i in x~, in [0, 1], one per pair. */
  lambda: ArrayLike<number>;
  /** Class of x_i and of x_j, one per pair. */
  labelsI: ArrayLike<number>;
  labelsJ: ArrayLike<number>;
  teacherI: ScoreMatrix;
  teacherJ: ScoreMatrix;
  teacherMixed: ScoreMatrix;
  studentI: ScoreMatrix;
  studentJ: ScoreMatrix;
  studentMixed: ScoreMatrix;
  /** Classes per row; inferred from the number of pairs for flat input. */
  numClasses?: number;
}

export interface VicinalAnalysisOptions {
  /** Equal-width lambda bins over [0, 1] (default 20). */
  numBins?: number;
  /** Open lambda interval of the peak summary (default (0.45, 0.55)). */
  peak?: readonly [number, number];
}

/**
 * Per lambda bin: its edges, the number of pairs and the mean of every
 * measure (null for a bin without a defined value).
 */
export type VicinalBins = {
  lower: number[];
  upper: number[];
  count: number[];
} & Record<VicinalMeasure, (number | null)[]>;

/** Means of every measure over a set of pairs (null when none is defined). */
export type VicinalSummary = { count: number } & Record<VicinalMeasure, number | null>;

/** The vicinal analysis of one teacher/student pair; plain and JSON-ready. */
export interface VicinalAnalysis {
  numClasses: number;
  /** Number of pairs analysed. */
  pairs: number;
  /** Open lambda interval of `peak`. */
  peakRange: [number, number];
  bins: VicinalBins;
  peak: VicinalSummary;
  overall: VicinalSummary;
}

/** Every measure of {@link VICINAL_MEASURES} for every pair. */
export function vicinalPairMeasures(input: VicinalPairsInput): VicinalPairMeasures {
  const { lambda, labelsI, labelsJ } = input;
  const rows = lambda.length;
  const [ti, tj, tm, si, sj, sm] = (
    [
      'teacherI',
      'teacherJ',
      'teacherMixed',
      'studentI',
      'studentJ',
      'studentMixed',
    ] as const
  ).map((name) => {
    const m = toMatrix(input[name], name, { numClasses: input.numClasses, rows });
    if (m.rows !== rows) {
      throw new MetricInputError(
        `${name}: expected ${rows} rows (one per lambda), got ${m.rows}`,
      );
    }
    return m;
  });
  const k = ti.cols;
  for (const [name, m] of [
    ['teacherJ', tj],
    ['teacherMixed', tm],
    ['studentI', si],
    ['studentJ', sj],
    ['studentMixed', sm],
  ] as const) {
    if (m.cols !== k) {
      throw new MetricInputError(
        `${name}: expected ${k} classes per row like teacherI, got ${m.cols}`,
      );
    }
  }
  checkClasses(labelsI, 'labelsI', rows, k);
  checkClasses(labelsJ, 'labelsJ', rows, k);

  const [fti, ftj, ftm, fsi, fsj, fsm] = [ti, tj, tm, si, sj, sm].map(flat);
  const nonLinearityTeacher = vicinalNonLinearity(fti, ftj, ftm, lambda, k);
  const nonLinearityStudent = vicinalNonLinearity(fsi, fsj, fsm, lambda, k);
  const entropyTeacher = entropyRows(ftm, k);
  const entropyStudent = entropyRows(fsm, k);
  const alignmentMixed = klDivergenceRows(ftm, fsm, k);
  const alignmentClean = klDivergenceRows(fti, fsi, k);
  const decomposition = teacherSignal(ti, tj, tm, lambda, labelsI, labelsJ);
  return {
    nonLinearityTeacher,
    nonLinearityStudent,
    linearityGain: difference(nonLinearityTeacher, nonLinearityStudent),
    entropyTeacher,
    entropyStudent,
    entropyGap: difference(entropyTeacher, entropyStudent),
    alignmentMixed,
    alignmentClean,
    alignmentDegradation: difference(alignmentMixed, alignmentClean),
    ...decomposition,
  };
}

/**
 * The vicinal analysis of a teacher/student pair: every measure of
 * {@link VICINAL_MEASURES} averaged per lambda bin (equal-width bins of [0, 1],
 * [b/n, (b+1)/n) with the last closed, 20 by default), over the peak band
 * lambda in (0.45, 0.55) and over all pairs. Pairs where a measure is
 * undefined (see restKl, restCorrelation) are left out of its means.
 */
export function analyseVicinalPairs(
  input: VicinalPairsInput,
  options: VicinalAnalysisOptions = {},
): VicinalAnalysis {
  const numBins = options.numBins ?? DEFAULT_LAMBDA_BINS;
  checkNumBins(numBins, 'numBins');
  const [low, high] = options.peak ?? DEFAULT_PEAK_RANGE;
  if (!(low >= 0 && high <= 1 && low < high)) {
    throw new RangeError(`peak: expected 0 <= low < high <= 1, got (${low}, ${high})`);
  }
  const measures = vicinalPairMeasures(input);
  const { lambda } = input;
  const numClasses = toMatrix(input.teacherI, 'teacherI', {
    numClasses: input.numClasses,
    rows: lambda.length,
  }).cols;
  const edges = byLambdaBin(new Float64Array(lambda.length), lambda, numBins);
  const bins = {
    lower: edges.map((b) => b.lower),
    upper: edges.map((b) => b.upper),
    count: edges.map((b) => b.count),
  } as VicinalBins;
  const peak = {
    count: meanInLambdaRange(new Float64Array(lambda.length), lambda, low, high).count,
  } as VicinalSummary;
  const overall = { count: lambda.length } as VicinalSummary;
  for (const name of VICINAL_MEASURES) {
    const { values, lambdas } = defined(measures[name], lambda);
    bins[name] = byLambdaBin(values, lambdas, numBins).map((b) => orNull(b.mean));
    peak[name] = orNull(meanInLambdaRange(values, lambdas, low, high).mean);
    overall[name] = orNull(mean(values));
  }
  return {
    numClasses,
    pairs: lambda.length,
    peakRange: [low, high],
    bins,
    peak,
    overall,
  };
}

/** The decomposition of the teacher's output on x~ (see VICINAL_MEASURES). */
function teacherSignal(
  ti: Matrix,
  tj: Matrix,
  tm: Matrix,
  lambda: ArrayLike<number>,
  labelsI: ArrayLike<number>,
  labelsJ: ArrayLike<number>,
): Pick<
  VicinalPairMeasures,
  | 'constituentMass'
  | 'restMass'
  | 'restMassOfCleanMix'
  | 'darkKnowledge'
  | 'restKl'
  | 'restCorrelation'
> {
  const rows = lambda.length;
  const k = ti.cols;
  const eps = VICINAL_EPSILON;
  const constituentMass = new Float64Array(rows);
  const restMass = new Float64Array(rows);
  const restMassOfCleanMix = new Float64Array(rows);
  const darkKnowledge = new Float64Array(rows);
  const restKl = new Float64Array(rows);
  const restCorrelation = new Float64Array(rows);
  const rest = new Int32Array(k);
  const mixedRest = new Float64Array(k);
  const cleanRest = new Float64Array(k);
  for (let r = 0; r < rows; r++) {
    const base = r * k;
    const yi = labelsI[r];
    const yj = labelsJ[r];
    const l = lambda[r];
    let m = 0;
    for (let c = 0; c < k; c++) if (c !== yi && c !== yj) rest[m++] = c;
    let onConstituents = tm.values[base + yi];
    if (yj !== yi) onConstituents += tm.values[base + yj];
    let mixedSum = 0;
    let iSum = 0;
    let jSum = 0;
    for (let n = 0; n < m; n++) {
      const c = base + rest[n];
      mixedSum += tm.values[c];
      iSum += ti.values[c];
      jSum += tj.values[c];
    }
    constituentMass[r] = onConstituents;
    restMass[r] = mixedSum;
    restMassOfCleanMix[r] = l * iSum + (1 - l) * jSum;
    darkKnowledge[r] =
      l * (1 - ti.values[base + yi]) + (1 - l) * (1 - tj.values[base + yj]);
    if (m === 0) {
      restKl[r] = Number.NaN;
      restCorrelation[r] = Number.NaN;
      continue;
    }
    const mixedNorm = mixedSum + m * eps;
    const iNorm = iSum + m * eps;
    const jNorm = jSum + m * eps;
    let kl = 0;
    for (let n = 0; n < m; n++) {
      const c = base + rest[n];
      const p = (tm.values[c] + eps) / mixedNorm;
      const q =
        (l * (ti.values[c] + eps)) / iNorm + ((1 - l) * (tj.values[c] + eps)) / jNorm;
      mixedRest[n] = p;
      cleanRest[n] = q;
      kl += p * Math.log(p / q);
    }
    restKl[r] = kl;
    restCorrelation[r] = pearson(mixedRest, cleanRest, m);
  }
  return {
    constituentMass,
    restMass,
    restMassOfCleanMix,
    darkKnowledge,
    restKl,
    restCorrelation,
  };
}

/** Pearson correlation of the first m values; NaN if m < 2 or a variance is 0. */
function pearson(a: Float64Array, b: Float64Array, m: number): number {
  if (m < 2) return Number.NaN;
  let meanA = 0;
  let meanB = 0;
  for (let n = 0; n < m; n++) {
    meanA += a[n];
    meanB += b[n];
  }
  meanA /= m;
  meanB /= m;
  let cov = 0;
  let varA = 0;
  let varB = 0;
  for (let n = 0; n < m; n++) {
    const da = a[n] - meanA;
    const db = b[n] - meanB;
    cov += da * db;
    varA += da * da;
    varB += db * db;
  }
  if (!(varA > 0 && varB > 0)) return Number.NaN;
  return cov / Math.sqrt(varA * varB);
}

function checkClasses(
  labels: ArrayLike<number>,
  what: string,
  rows: number,
  numClasses: number,
): void {
  if (labels.length !== rows) {
    throw new MetricInputError(
      `${what}: expected ${rows} labels (one per lambda), got ${labels.length}`,
    );
  }
  for (let i = 0; i < rows; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= numClasses) {
      throw new MetricInputError(
        `${what}[${i}]: expected a class in [0, ${numClasses}), got ${y}`,
      );
    }
  }
}

/** A validated matrix's values as flat scores (they already are one of its forms). */
function flat(m: Matrix): ScoreMatrix {
  const v = m.values;
  return v instanceof Float32Array || v instanceof Float64Array || Array.isArray(v)
    ? (v as ScoreMatrix)
    : Float64Array.from(v);
}

function difference(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((v, i) => v - b[i]);
}

/** The finite values and their lambdas. */
function defined(
  values: Float64Array,
  lambda: ArrayLike<number>,
): { values: Float64Array; lambdas: Float64Array } {
  const keep: number[] = [];
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) keep.push(i);
  return {
    values: Float64Array.from(keep, (i) => values[i]),
    lambdas: Float64Array.from(keep, (i) => lambda[i]),
  };
}

function mean(values: Float64Array): number {
  if (values.length === 0) return Number.NaN;
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

function orNull(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}
