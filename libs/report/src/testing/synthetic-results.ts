import { analyseVicinalPairs, type VicinalAnalysis } from '@vicinal/metrics';
import type { RunResult, StudyResults, TeacherResult } from '../results.js';

/** A small deterministic generator (LCG) for test data. */
export function lcg(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
}

/** Reliability bins (15 equal-width) with made-up but valid numbers. */
export function syntheticReliability(seed: number): TeacherResult['test']['reliability'] {
  const next = lcg(seed);
  const n = 15;
  return {
    lower: Array.from({ length: n }, (_, b) => b / n),
    upper: Array.from({ length: n }, (_, b) => (b + 1) / n),
    counts: Array.from({ length: n }, (_, b) =>
      b < 5 ? 0 : Math.floor(next() * 50) + 1,
    ),
    accuracy: Array.from({ length: n }, (_, b) =>
      b < 5 ? 0 : Math.min(1, b / n + 0.05),
    ),
    confidence: Array.from({ length: n }, (_, b) => (b < 5 ? 0 : (b + 0.5) / n)),
  };
}

/** A vicinal analysis of made-up probabilities (K = 4), computed by the real code. */
export function syntheticAnalysis(seed: number, pairs = 60): VicinalAnalysis {
  const next = lcg(seed);
  const k = 4;
  const row = (sharp: number) => {
    const w = Array.from({ length: k }, () => Math.exp(sharp * next()));
    const total = w.reduce((a, b) => a + b, 0);
    return w.map((v) => v / total);
  };
  const rows = (sharp: number) => Array.from({ length: pairs }, () => row(sharp));
  return analyseVicinalPairs({
    lambda: Array.from({ length: pairs }, () => next()),
    labelsI: Array.from({ length: pairs }, () => Math.floor(next() * k)),
    labelsJ: Array.from({ length: pairs }, () => Math.floor(next() * k)),
    teacherI: rows(4),
    teacherJ: rows(4),
    teacherMixed: rows(1),
    studentI: rows(3),
    studentJ: rows(3),
    studentMixed: rows(2),
  });
}

export interface SyntheticOptions {
  teachers?: string[];
  seeds?: number[];
  temperatures?: number[];
  /** Attach analyses to the kd and kd+mixup runs (default true). */
  analyses?: boolean;
  /** Attach reliability bins to the runs (default true). */
  reliability?: boolean;
}

/**
 * Results of a study of teachers x {baseline, mixup, kd, kd+mixup} x
 * temperatures (kd arms) x seeds, every figure a fixed function of the run.
 */
export function syntheticResults(options: SyntheticOptions = {}): StudyResults {
  const names = options.teachers ?? ['small', 'large'];
  const seeds = options.seeds ?? [0, 1];
  const temperatures = options.temperatures ?? [1, 4];
  const teachers: TeacherResult[] = names.map((name, t) => ({
    name,
    architecture: `cnn-${t}`,
    parameters: 1000 * (t + 1),
    test: {
      accuracy: 0.9 + 0.02 * t,
      ece: 0.03 + 0.01 * t,
      mce: 0.1,
      overconfidence: t % 2 === 0 ? 0.03 : -0.02,
      nll: 0.3,
      brier: 0.15,
      adaptiveEce: 0.035,
      reliability: syntheticReliability(100 + t),
    },
    temperatureScaling: {
      temperature: 1.2 + t,
      nllBefore: 0.3,
      nllAfter: 0.28,
      eceBefore: 0.03,
      eceAfter: 0.01,
    },
  }));
  const runs: RunResult[] = [];
  let id = 0;
  const add = (
    teacher: string | null,
    teacherIndex: number,
    arm: RunResult['arm'],
    temperature: number | null,
    seed: number,
  ) => {
    id += 1;
    const armIndex = ['baseline', 'mixup', 'kd', 'kd+mixup'].indexOf(arm);
    const tt = temperature ?? 0;
    const accuracy =
      0.8 + 0.01 * armIndex + 0.003 * tt + 0.004 * seed + 0.01 * teacherIndex;
    const sign = teacherIndex % 2 === 0 ? 1 : -1;
    const overconfidence =
      arm === 'baseline'
        ? 0.05 + 0.01 * seed
        : sign * (0.004 + 0.001 * seed + 0.0005 * tt);
    const run: RunResult = {
      teacher,
      arm,
      temperature,
      seed,
      accuracy,
      ece: Math.abs(overconfidence) + 0.002 * tt + 0.001,
      mce: 0.1 + 0.01 * seed,
      overconfidence,
      nll: 0.5 - 0.01 * armIndex + 0.002 * seed,
      brier: 0.25 - 0.005 * armIndex,
      adaptiveEce: Math.abs(overconfidence) + 0.002,
      temperatureScaling: {
        temperature: 1 + 0.1 * armIndex + 0.05 * seed,
        nllBefore: 0.5,
        nllAfter: 0.45,
        eceBefore: 0.05,
        eceAfter: 0.02 + 0.001 * seed,
      },
      samplesPerSecond: 1000 + 10 * seed,
    };
    if (options.reliability ?? true) run.reliability = syntheticReliability(id);
    if ((options.analyses ?? true) && teacher !== null)
      run.analysis = syntheticAnalysis(id);
    runs.push(run);
  };
  for (const seed of seeds) {
    add(null, 0, 'baseline', null, seed);
    add(null, 0, 'mixup', null, seed);
  }
  names.forEach((name, t) => {
    for (const arm of ['kd', 'kd+mixup'] as const) {
      for (const temperature of temperatures) {
        for (const seed of seeds) add(name, t, arm, temperature, seed);
      }
    }
  });
  return {
    study: { name: 'synthetic', dataset: 'none', epochs: 1 },
    teachers,
    runs,
  };
}
