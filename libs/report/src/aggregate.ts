import { ARMS, type Arm } from '@vicinal/config';
import {
  VICINAL_MEASURES,
  type VicinalAnalysis,
  type VicinalMeasure,
} from '@vicinal/metrics';
import type {
  ReliabilityResult,
  RunResult,
  StudyResults,
  TeacherResult,
  TemperatureScalingResult,
} from './results.js';

/** The per-run figures averaged over seeds. */
export const RUN_METRICS = [
  'accuracy',
  'ece',
  'mce',
  'overconfidence',
  'nll',
  'brier',
  'adaptiveEce',
  'postHocTemperature',
  'eceAfterScaling',
  'samplesPerSecond',
] as const;
export type RunMetric = (typeof RUN_METRICS)[number];

/**
 * Mean and spread of one figure over n runs. `std` is the sample standard
 * deviation (divisor n - 1); null when n = 1.
 */
export interface Spread {
  mean: number;
  std: number | null;
  n: number;
}

/** Reliability bins pooled over runs: counts summed, accuracy/confidence count-weighted. */
export interface PooledReliability {
  lower: number[];
  upper: number[];
  counts: number[];
  accuracy: number[];
  confidence: number[];
  /** Runs pooled. */
  runs: number;
}

/** Vicinal analyses of several runs averaged. */
export interface VicinalAggregate {
  /** Runs whose analyses are averaged. */
  runs: number;
  /** Pairs over all those runs. */
  pairs: number;
  numClasses: number;
  peakRange: [number, number];
  /** Per lambda bin: edges, pairs summed over runs, and per measure the mean over runs. */
  bins: { lower: number[]; upper: number[]; count: number[] } & Record<
    VicinalMeasure,
    (number | null)[]
  >;
  /** Peak-band and all-pairs means: mean and spread over runs. */
  peak: Record<VicinalMeasure, Spread | null>;
  overall: Record<VicinalMeasure, Spread | null>;
}

/** The runs of one arm (and temperature) for one teacher, over seeds. */
export interface ArmSummary {
  arm: Arm;
  temperature: number | null;
  /** e.g. "kd+mixup T=2" */
  label: string;
  seeds: number[];
  metrics: Record<RunMetric, Spread | null>;
  reliability: PooledReliability | null;
  vicinal: VicinalAggregate | null;
}

/** Everything the report shows for one teacher. */
export interface TeacherSummary {
  /** null only for students without a teacher in a study that lists none. */
  name: string | null;
  architecture: string | null;
  parameters: number | null;
  test: TeacherResult['test'] | null;
  temperatureScaling: TemperatureScalingResult | null;
  /** Arms in the order baseline, mixup, kd, kd+mixup; temperatures ascending. */
  arms: ArmSummary[];
  /**
   * The teacher's side of the vicinal analyses of its runs, each distinct
   * pair sample once: runs analysed on the same pairs (kd and kd+mixup of
   * one seed) give the same teacher numbers, one measurement, not two.
   */
  teacherVicinal: VicinalAggregate | null;
}

export interface StudyAggregate {
  study: { name: string; settings: Record<string, unknown> };
  runs: number;
  teachers: TeacherSummary[];
}

/** Mean and sample standard deviation; null for no values. */
export function spreadOf(values: readonly number[]): Spread | null {
  const n = values.length;
  if (n === 0) return null;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, std: null, n };
  const squares = values.reduce((sum, v) => sum + (v - mean) * (v - mean), 0);
  return { mean, std: Math.sqrt(squares / (n - 1)), n };
}

/** "kd+mixup T=2", "baseline" */
export function armLabel(arm: string, temperature: number | null): string {
  return temperature === null ? arm : `${arm} T=${temperature}`;
}

/**
 * Groups the runs by teacher, arm and temperature and averages over seeds.
 * Runs without a teacher (baseline, mixup) belong to every teacher.
 */
export function aggregateResults(results: StudyResults): StudyAggregate {
  const { name, ...settings } = results.study;
  const teachers: TeacherSummary[] = results.teachers.map((teacher) => {
    const runs = results.runs.filter(
      (r) => r.teacher === teacher.name || r.teacher === null,
    );
    const own = results.runs.filter((r) => r.teacher === teacher.name);
    return {
      name: teacher.name,
      architecture: teacher.architecture,
      parameters: teacher.parameters,
      test: teacher.test,
      temperatureScaling: teacher.temperatureScaling ?? null,
      arms: armSummaries(runs),
      teacherVicinal: teacherSide(
        aggregateAnalyses(
          distinctTeacherSides(own.flatMap((r) => (r.analysis ? [r.analysis] : []))),
        ),
      ),
    };
  });
  if (teachers.length === 0 && results.runs.length > 0) {
    teachers.push({
      name: null,
      architecture: null,
      parameters: null,
      test: null,
      temperatureScaling: null,
      arms: armSummaries(results.runs),
      teacherVicinal: null,
    });
  }
  return { study: { name, settings }, runs: results.runs.length, teachers };
}

function armSummaries(runs: RunResult[]): ArmSummary[] {
  const groups = new Map<string, RunResult[]>();
  for (const run of runs) {
    const key = armLabel(run.arm, run.temperature);
    const group = groups.get(key);
    if (group) group.push(run);
    else groups.set(key, [run]);
  }
  const summaries = [...groups.values()].map((group): ArmSummary => {
    const sorted = [...group].sort((a, b) => a.seed - b.seed);
    const { arm, temperature } = sorted[0];
    const metrics = Object.fromEntries(
      RUN_METRICS.map((metric) => [
        metric,
        spreadOf(sorted.flatMap((r) => metricValues(r, metric))),
      ]),
    ) as Record<RunMetric, Spread | null>;
    return {
      arm,
      temperature,
      label: armLabel(arm, temperature),
      seeds: sorted.map((r) => r.seed),
      metrics,
      reliability: poolReliability(
        sorted.flatMap((r) => (r.reliability ? [r.reliability] : [])),
      ),
      vicinal: aggregateAnalyses(sorted.flatMap((r) => (r.analysis ? [r.analysis] : []))),
    };
  });
  return summaries.sort(
    (a, b) =>
      ARMS.indexOf(a.arm) - ARMS.indexOf(b.arm) ||
      (a.temperature ?? 0) - (b.temperature ?? 0),
  );
}

function metricValues(run: RunResult, metric: RunMetric): number[] {
  let value: number | undefined;
  if (metric === 'postHocTemperature') value = run.temperatureScaling?.temperature;
  else if (metric === 'eceAfterScaling') value = run.temperatureScaling?.eceAfter;
  else value = run[metric];
  return value === undefined ? [] : [value];
}

/**
 * Pools reliability bins of runs with the same bin edges as the first:
 * counts add up, accuracy and confidence are count-weighted means.
 */
export function poolReliability(
  bins: readonly ReliabilityResult[],
): PooledReliability | null {
  if (bins.length === 0) return null;
  const first = bins[0];
  const same = bins.filter(
    (b) =>
      b.lower.length === first.lower.length &&
      b.lower.every((v, i) => v === first.lower[i]),
  );
  const n = first.lower.length;
  const counts = new Array<number>(n).fill(0);
  const hits = new Array<number>(n).fill(0);
  const confidence = new Array<number>(n).fill(0);
  for (const b of same) {
    for (let i = 0; i < n; i++) {
      counts[i] += b.counts[i];
      hits[i] += b.accuracy[i] * b.counts[i];
      confidence[i] += b.confidence[i] * b.counts[i];
    }
  }
  return {
    lower: [...first.lower],
    upper: [...first.upper],
    counts,
    accuracy: counts.map((c, i) => (c > 0 ? hits[i] / c : 0)),
    confidence: counts.map((c, i) => (c > 0 ? confidence[i] / c : 0)),
    runs: same.length,
  };
}

/**
 * Averages the analyses that share the first one's lambda bins: per bin the
 * mean over runs of the runs' bin means (runs without a value left out), and
 * the peak and overall means with their spread over runs.
 */
export function aggregateAnalyses(
  analyses: readonly VicinalAnalysis[],
): VicinalAggregate | null {
  if (analyses.length === 0) return null;
  const first = analyses[0];
  const same = analyses.filter(
    (a) =>
      a.bins.lower.length === first.bins.lower.length &&
      a.bins.lower.every((v, i) => v === first.bins.lower[i]),
  );
  const n = first.bins.lower.length;
  const bins = {
    lower: [...first.bins.lower],
    upper: [...first.bins.upper],
    count: first.bins.lower.map((_, b) => same.reduce((s, a) => s + a.bins.count[b], 0)),
  } as VicinalAggregate['bins'];
  const peak = {} as VicinalAggregate['peak'];
  const overall = {} as VicinalAggregate['overall'];
  for (const name of VICINAL_MEASURES) {
    bins[name] = Array.from({ length: n }, (_, b) => {
      const values = same.flatMap((a) => present(a.bins[name][b]));
      return spreadOf(values)?.mean ?? null;
    });
    peak[name] = spreadOf(same.flatMap((a) => present(a.peak[name])));
    overall[name] = spreadOf(same.flatMap((a) => present(a.overall[name])));
  }
  return {
    runs: same.length,
    pairs: same.reduce((s, a) => s + a.pairs, 0),
    numClasses: first.numClasses,
    peakRange: [...first.peakRange],
    bins,
    peak,
    overall,
  };
}

/** What the teacher puts on a mixed image (Claim 1), in the report's order. */
export const TEACHER_SIGNAL = [
  'constituentMass',
  'restMass',
  'restMassOfCleanMix',
  'darkKnowledge',
  'restKl',
  'restCorrelation',
  'entropyTeacher',
] as const satisfies readonly VicinalMeasure[];

/** The measures that depend on the teacher's outputs alone. */
export const TEACHER_MEASURES: readonly VicinalMeasure[] = [
  'nonLinearityTeacher',
  ...TEACHER_SIGNAL,
];

/**
 * Keeps one of each set of analyses whose teacher side is the same (the same
 * pairs, bins and teacher measures): the teacher's outputs on one pair
 * sample do not depend on the student it was analysed with.
 */
export function distinctTeacherSides(
  analyses: readonly VicinalAnalysis[],
): VicinalAnalysis[] {
  const seen = new Set<string>();
  return analyses.filter((a) => {
    const key = JSON.stringify([
      a.pairs,
      a.peakRange,
      a.bins.lower,
      a.bins.count,
      TEACHER_MEASURES.map((m) => [a.bins[m], a.peak[m], a.overall[m]]),
    ]);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * The aggregate with the measures that involve a student left empty: over
 * distinct teacher sides they would average an arbitrary choice of students.
 */
function teacherSide(v: VicinalAggregate | null): VicinalAggregate | null {
  if (!v) return null;
  const teacherOnly = new Set<VicinalMeasure>(TEACHER_MEASURES);
  for (const m of VICINAL_MEASURES) {
    if (teacherOnly.has(m)) continue;
    v.bins[m] = v.bins[m].map(() => null);
    v.peak[m] = null;
    v.overall[m] = null;
  }
  return v;
}

function present(value: number | null | undefined): number[] {
  return value === null || value === undefined ? [] : [value];
}
