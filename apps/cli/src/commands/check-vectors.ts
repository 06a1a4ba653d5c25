import { readFile } from 'node:fs/promises';
import { type BackendName, initBackend, tf } from '@vicinal/backend';
import {
  blendedLoss,
  crossEntropyMixed,
  distillationLossNames,
  fusedBlendedLoss,
  mixedHardLabelsArray,
} from '@vicinal/distillation';
import {
  type CalibrationMetrics,
  calibrationMetrics,
  entropyRows,
  fitTemperature,
  MetricInputError,
  vicinalNonLinearity,
} from '@vicinal/metrics';
import { Command } from 'commander';
import { z } from 'zod';
import { type CommandIo, processIo } from './io.js';
import { backendOption } from './options.js';

/** How a value is compared with its expectation. */
export interface Tolerance {
  kind: 'absolute' | 'relative' | 'exact';
  value: number;
}

/** One comparison of a computed value (or array) with the file's expectation. */
export interface VectorCheck {
  /** section.key as in the file, e.g. "calibration.ece". */
  name: string;
  ok: boolean;
  expected: number | number[];
  actual: number | number[];
  tolerance: Tolerance;
  /** For arrays: the worst element; for failures: why. */
  detail?: string;
}

export interface VectorChecksReport {
  results: VectorCheck[];
  /** The TensorFlow.js backend the losses ran on. */
  backend: BackendName;
}

export interface VectorCheckOptions {
  /** Backend for the tf losses; default: initBackend's (VICINAL_BACKEND or auto). */
  backend?: BackendName | 'auto';
}

/** Default tolerances; a file may override them with a numeric `tolerances` object. */
export const DEFAULT_TOLERANCES = {
  /** absolute, for calibration and vicinal metrics */
  metrics: 1e-6,
  /** relative, for the distillation losses */
  losses: 1e-5,
  /** absolute, for the fitted temperature */
  temperature: 2e-3,
} as const;

/** The file cannot be read or is not a vectors file; the message names the key. */
export class VectorsFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VectorsFileError';
  }
}

const matrix = z.array(z.array(z.number()).min(1)).min(1);
const integers = z.array(z.number().int());
const numbers = z.array(z.number());
const definitions = z.record(z.string(), z.string()).optional();
const tolerance = z.number().positive().optional();

const vectorsSchema = z.object({
  about: z.string().optional(),
  seed: z.number().optional(),
  tolerances: z
    .object({ metrics: tolerance, losses: tolerance, temperature: tolerance })
    .optional(),
  calibration: z.object({
    n_bins: z.number().int().min(1),
    bin_rule: z.string().optional(),
    probs: matrix,
    labels: integers,
    expected: z.object({
      accuracy: z.number(),
      avg_confidence: z.number(),
      ece: z.number(),
      mce: z.number(),
      confidence_minus_accuracy: z.number(),
      nll: z.number(),
      brier: z.number(),
      bin_counts: integers,
      bin_accuracy: numbers,
      bin_confidence: numbers,
    }),
  }),
  temperature_scaling: z.object({
    logits: matrix,
    labels: integers,
    expected: z.object({
      temperature: z.number(),
      nll_before: z.number(),
      nll_after: z.number(),
    }),
  }),
  distillation_losses: z.object({
    student_logits: matrix,
    teacher_logits: matrix,
    labels: integers,
    partner: integers,
    lambda: numbers,
    definitions,
    expected: z.record(z.string(), z.number()),
  }),
  vicinal: z.object({
    p_i: matrix,
    p_j: matrix,
    p_mix: matrix,
    lambda: numbers,
    definitions,
    expected: z.object({ L_NL: numbers, entropy: numbers }),
  }),
});

type VectorsFile = z.infer<typeof vectorsSchema>;

/**
 * Reads a reference-vectors file (the format of
 * shared/vectors/metrics-and-losses.json), runs the project's losses (tf, on
 * the chosen backend) and metrics on its inputs and compares every expected
 * value. Tolerances: 1e-6 absolute for metrics, 1e-5 relative for losses,
 * 2e-3 absolute for the temperature, bin counts exactly; a top-level
 * `tolerances: {metrics?, losses?, temperature?}` overrides them.
 * Throws VectorsFileError when the file is unreadable or malformed.
 */
export async function runVectorChecks(
  path: string,
  options: VectorCheckOptions = {},
): Promise<VectorChecksReport> {
  const vectors = await readVectors(path);
  const tolerances = { ...DEFAULT_TOLERANCES, ...vectors.tolerances };
  const losses = planLossChecks(vectors.distillation_losses.expected);
  const backend = await initBackend(options.backend);
  const results = [
    ...inSection('calibration', () => checkCalibration(vectors, tolerances.metrics)),
    ...inSection('temperature_scaling', () =>
      checkTemperature(vectors, tolerances.metrics, tolerances.temperature),
    ),
    ...inSection('distillation_losses', () =>
      checkLosses(vectors, losses, tolerances.losses),
    ),
    ...inSection('vicinal', () => checkVicinal(vectors, tolerances.metrics)),
  ];
  return { results, backend: backend.name };
}

async function readVectors(path: string): Promise<VectorsFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new VectorsFileError(
      `cannot read vectors file ${path}: ${(err as Error).message}`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new VectorsFileError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = vectorsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = issue.path.map(String).join('.') || '(top level)';
    const missing = issue.path.length > 0 && valueAt(raw, issue.path) === undefined;
    throw new VectorsFileError(
      `${path} is not a vectors file: key ${key} is ` +
        (missing ? 'missing' : `malformed (${issue.message})`),
    );
  }
  checkShapes(parsed.data);
  return parsed.data;
}

function valueAt(raw: unknown, path: PropertyKey[]): unknown {
  let node = raw;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

/** Consistency the schema cannot express: lengths that must agree. */
function checkShapes(v: VectorsFile): void {
  const rows = (key: string, actual: number, expected: number, of: string) => {
    if (actual !== expected) {
      throw new VectorsFileError(
        `key ${key}: expected ${expected} entries (${of}), got ${actual}`,
      );
    }
  };
  const width = (key: string, m: number[][], expected = m[0].length) => {
    m.forEach((row, i) => {
      if (row.length !== expected) {
        throw new VectorsFileError(
          `key ${key}[${i}]: expected ${expected} values like row 0, got ${row.length}`,
        );
      }
    });
  };
  width('calibration.probs', v.calibration.probs);
  width('temperature_scaling.logits', v.temperature_scaling.logits);
  const classes = v.distillation_losses.student_logits[0].length;
  width('distillation_losses.student_logits', v.distillation_losses.student_logits);
  width(
    'distillation_losses.teacher_logits',
    v.distillation_losses.teacher_logits,
    classes,
  );
  const vicinalClasses = v.vicinal.p_i[0].length;
  for (const key of ['p_i', 'p_j', 'p_mix'] as const) {
    width(`vicinal.${key}`, v.vicinal[key], vicinalClasses);
  }
  const c = v.calibration;
  rows('calibration.labels', c.labels.length, c.probs.length, 'one per row of probs');
  for (const key of ['bin_counts', 'bin_accuracy', 'bin_confidence'] as const) {
    rows(`calibration.expected.${key}`, c.expected[key].length, c.n_bins, 'n_bins');
  }
  const t = v.temperature_scaling;
  rows(
    'temperature_scaling.labels',
    t.labels.length,
    t.logits.length,
    'one per row of logits',
  );
  const d = v.distillation_losses;
  const batch = d.student_logits.length;
  rows(
    'distillation_losses.teacher_logits',
    d.teacher_logits.length,
    batch,
    'rows of student_logits',
  );
  for (const key of ['labels', 'partner', 'lambda'] as const) {
    rows(
      `distillation_losses.${key}`,
      d[key].length,
      batch,
      'one per row of student_logits',
    );
  }
  const vi = v.vicinal;
  const pairs = vi.lambda.length;
  for (const key of ['p_i', 'p_j', 'p_mix'] as const) {
    rows(`vicinal.${key}`, vi[key].length, pairs, 'one row per lambda');
  }
  for (const key of ['L_NL', 'entropy'] as const) {
    rows(`vicinal.expected.${key}`, vi.expected[key].length, pairs, 'one per lambda');
  }
}

/** Turns a library's input error into a file error naming the section. */
function inSection(section: string, run: () => VectorCheck[]): VectorCheck[] {
  try {
    return run();
  } catch (err) {
    if (err instanceof RangeError || err instanceof MetricInputError) {
      throw new VectorsFileError(`section ${section}: ${(err as Error).message}`);
    }
    throw err;
  }
}

const CALIBRATION_KEYS = {
  accuracy: 'accuracy',
  avg_confidence: 'avgConfidence',
  ece: 'ece',
  mce: 'mce',
  confidence_minus_accuracy: 'overconfidence',
  nll: 'nll',
  brier: 'brier',
} as const satisfies Record<string, keyof CalibrationMetrics>;

function checkCalibration(v: VectorsFile, metricsTolerance: number): VectorCheck[] {
  const c = v.calibration;
  const m = calibrationMetrics(c.probs, c.labels, { numBins: c.n_bins });
  const abs: Tolerance = { kind: 'absolute', value: metricsTolerance };
  const out = Object.entries(CALIBRATION_KEYS).map(([key, field]) =>
    compare(
      `calibration.${key}`,
      c.expected[key as keyof typeof CALIBRATION_KEYS],
      m[field],
      abs,
    ),
  );
  out.push(
    compare('calibration.bin_counts', c.expected.bin_counts, m.bins.counts, {
      kind: 'exact',
      value: 0,
    }),
    compare('calibration.bin_accuracy', c.expected.bin_accuracy, m.bins.accuracy, abs),
    compare(
      'calibration.bin_confidence',
      c.expected.bin_confidence,
      m.bins.confidence,
      abs,
    ),
  );
  return out;
}

function checkTemperature(
  v: VectorsFile,
  metricsTolerance: number,
  temperatureTolerance: number,
): VectorCheck[] {
  const t = v.temperature_scaling;
  const fit = fitTemperature(t.logits, t.labels);
  const abs: Tolerance = { kind: 'absolute', value: metricsTolerance };
  return [
    compare('temperature_scaling.temperature', t.expected.temperature, fit.temperature, {
      kind: 'absolute',
      value: temperatureTolerance,
    }),
    compare('temperature_scaling.nll_before', t.expected.nll_before, fit.nllBefore, abs),
    compare('temperature_scaling.nll_after', t.expected.nll_after, fit.nllAfter, abs),
  ];
}

/** What one expected loss key asks for. */
type LossPlan =
  | { key: string; kind: 'kd'; variant: string; temperature: number }
  | { key: string; kind: 'ce' }
  | { key: string; kind: 'blend'; temperature: number; beta: number };

const NUMBER = '(\\d+(?:\\.\\d+)?)';
const KD_PLAIN = new RegExp(`^kd_T${NUMBER}$`);
const KD_VARIANT = new RegExp(`^kd_([a-z]+)_T${NUMBER}$`);
const BLEND = new RegExp(`^blend_T${NUMBER}_ce${NUMBER}_kd${NUMBER}$`);

/** Reads the expected loss names before any work, so a bad name fails early. */
function planLossChecks(expected: Record<string, number>): LossPlan[] {
  const keys = Object.keys(expected);
  if (keys.length === 0) {
    throw new VectorsFileError('key distillation_losses.expected is empty');
  }
  return keys.map((key): LossPlan => {
    if (key === 'ce_mixed_labels') return { key, kind: 'ce' };
    if (key === 'kd_std_normalised') {
      return { key, kind: 'kd', variant: 'std', temperature: 1 };
    }
    let m = KD_PLAIN.exec(key);
    if (m) return { key, kind: 'kd', variant: 'plain', temperature: positive(m[1], key) };
    m = KD_VARIANT.exec(key);
    if (m && distillationLossNames().includes(m[1])) {
      return { key, kind: 'kd', variant: m[1], temperature: positive(m[2], key) };
    }
    m = BLEND.exec(key);
    if (m) {
      const ce = Number(m[2]);
      const beta = Number(m[3]);
      if (Math.abs(ce + beta - 1) > 1e-9) {
        throw new VectorsFileError(
          `key distillation_losses.expected.${key}: the ce and kd weights ` +
            `must sum to 1, got ${ce} + ${beta}`,
        );
      }
      return { key, kind: 'blend', temperature: positive(m[1], key), beta };
    }
    throw new VectorsFileError(
      `key distillation_losses.expected.${key}: unknown loss name; expected ` +
        'ce_mixed_labels, kd_T<T>, kd_std_normalised, blend_T<T>_ce<w>_kd<w> or ' +
        `kd_<variant>_T<T> with a variant in ${distillationLossNames().join(', ')}`,
    );
  });
}

function positive(text: string, key: string): number {
  const value = Number(text);
  if (!(value > 0)) {
    throw new VectorsFileError(
      `key distillation_losses.expected.${key}: expected a temperature > 0, got ${text}`,
    );
  }
  return value;
}

function checkLosses(v: VectorsFile, plans: LossPlan[], relative: number): VectorCheck[] {
  const d = v.distillation_losses;
  const tol: Tolerance = { kind: 'relative', value: relative };
  const classes = d.student_logits[0]?.length ?? 0;
  const labels = () =>
    mixedHardLabelsArray(
      d.labels,
      Int32Array.from(d.partner),
      Float32Array.from(d.lambda),
      classes,
    );
  const scalar = (loss: () => tf.Scalar): number => {
    const value = tf.tidy(loss);
    const out = value.dataSync()[0];
    value.dispose();
    return out;
  };
  return plans.flatMap((plan) => {
    const actual = scalar(() => {
      const student = tf.tensor2d(d.student_logits);
      const teacher = tf.tensor2d(d.teacher_logits);
      if (plan.kind === 'kd') {
        const { variant, temperature } = plan;
        return blendedLoss({ student, teacher, beta: 1, temperature, variant });
      }
      const yMix = tf.tensor2d(labels(), [student.shape[0], classes]);
      if (plan.kind === 'ce') return crossEntropyMixed(student, yMix);
      const { beta, temperature } = plan;
      return blendedLoss({ student, teacher, yMix, beta, temperature });
    });
    const name = `distillation_losses.${plan.key}`;
    const checks = [compare(name, d.expected[plan.key], actual, tol)];
    // The trainer computes the plain variant and cross-entropy with the
    // fused loss; it answers for the same keys.
    if (plan.kind !== 'kd' || plan.variant === 'plain') {
      const beta = plan.kind === 'kd' ? 1 : plan.kind === 'ce' ? 0 : plan.beta;
      const temperature = plan.kind === 'ce' ? 1 : plan.temperature;
      const fused = scalar(() =>
        fusedBlendedLoss({
          student: tf.tensor2d(d.student_logits),
          teacher: Float32Array.from(d.teacher_logits.flat()),
          yMix: labels(),
          beta,
          temperature,
        }),
      );
      checks.push(compare(`${name} (fused)`, d.expected[plan.key], fused, tol));
    }
    return checks;
  });
}

function checkVicinal(v: VectorsFile, metricsTolerance: number): VectorCheck[] {
  const vi = v.vicinal;
  const abs: Tolerance = { kind: 'absolute', value: metricsTolerance };
  const nonLinearity = vicinalNonLinearity(vi.p_i, vi.p_j, vi.p_mix, vi.lambda);
  return [
    compare('vicinal.L_NL', vi.expected.L_NL, Array.from(nonLinearity), abs),
    compare(
      'vicinal.entropy',
      vi.expected.entropy,
      Array.from(entropyRows(vi.p_mix)),
      abs,
    ),
  ];
}

function withinTolerance(
  expected: number,
  actual: number,
  tolerance: Tolerance,
): boolean {
  if (!Number.isFinite(actual)) return false;
  const error = Math.abs(actual - expected);
  switch (tolerance.kind) {
    case 'exact':
      return actual === expected;
    case 'absolute':
      return error <= tolerance.value;
    case 'relative':
      return error <= tolerance.value * Math.abs(expected);
  }
}

function compare<T extends number | number[]>(
  name: string,
  expected: T,
  actual: T,
  tolerance: Tolerance,
): VectorCheck {
  if (typeof expected === 'number') {
    return {
      name,
      ok: withinTolerance(expected, actual as number, tolerance),
      expected,
      actual,
      tolerance,
    };
  }
  const got = actual as number[];
  if (got.length !== expected.length) {
    return {
      name,
      ok: false,
      expected,
      actual,
      tolerance,
      detail: `expected ${expected.length} values, got ${got.length}`,
    };
  }
  let ok = true;
  let worst = -1;
  let worstError = -1;
  expected.forEach((e, i) => {
    if (!withinTolerance(e, got[i], tolerance)) ok = false;
    const error = Number.isFinite(got[i])
      ? Math.abs(got[i] - e)
      : Number.POSITIVE_INFINITY;
    if (error > worstError) {
      worstError = error;
      worst = i;
    }
  });
  const detail =
    worst >= 0 ? `worst [${worst}] |diff|=${worstError.toExponential(2)}` : undefined;
  return { name, ok, expected, actual, tolerance, detail };
}

/** Where the command writes and how it reports failure (tests pass their own). */
export type CheckVectorsIo = CommandIo;

/** One printed line per check: `ok   name  expected=... actual=...` or `FAIL ...`. */
export function formatCheck(check: VectorCheck): string {
  const status = check.ok ? 'ok  ' : 'FAIL';
  const expected = formatValue(check.expected);
  const actual = formatValue(check.actual);
  let line = `${status} ${check.name}  expected=${expected} actual=${actual}`;
  if (!check.ok) {
    const { kind, value } = check.tolerance;
    line += kind === 'exact' ? '  tolerance=exact' : `  tolerance=${kind} ${value}`;
    if (check.detail) line += `  (${check.detail})`;
  }
  return line;
}

function formatValue(value: number | number[]): string {
  if (typeof value === 'number') return String(value);
  const items = value.map((v) => (Number.isInteger(v) ? String(v) : v.toPrecision(7)));
  return `[${items.join(', ')}]`;
}

/**
 * `vicinal check-vectors FILE [--backend NAME]`: prints one line per check
 * and `N passed, M failed`; exit code 1 when a check fails, 2 when the file is
 * unreadable or not a vectors file.
 */
export function checkVectorsCommand(io: CheckVectorsIo = processIo): Command {
  return new Command('check-vectors')
    .description(
      "Run the project's losses and metrics on a reference-vectors file and compare " +
        'each expected value within its tolerance.',
    )
    .argument(
      '<FILE>',
      'vectors JSON file, e.g. ../shared/vectors/metrics-and-losses.json',
    )
    .addOption(backendOption('TensorFlow.js backend for the losses'))
    .action(async (file: string, flags: { backend: BackendName | 'auto' }) => {
      let report: VectorChecksReport;
      try {
        report = await runVectorChecks(file, { backend: flags.backend });
      } catch (err) {
        if (!(err instanceof VectorsFileError)) throw err;
        io.err(`vicinal check-vectors: ${err.message}\n`);
        io.setExitCode(2);
        return;
      }
      const failed = report.results.filter((r) => !r.ok).length;
      const lines = report.results.map(formatCheck);
      lines.push(`${report.results.length - failed} passed, ${failed} failed`);
      io.out(`${lines.join('\n')}\n`);
      if (failed > 0) io.setExitCode(1);
    });
}
