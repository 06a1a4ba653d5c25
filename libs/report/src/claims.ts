import {
  type ArmSummary,
  type Spread,
  type StudyAggregate,
  spreadOf,
  TEACHER_SIGNAL,
  type TeacherSummary,
} from './aggregate.js';

/** The five claims, in the report's own words. */
export const CLAIMS = [
  {
    id: 1,
    title: 'The teacher signal on mixed images',
    statement:
      'On a mixed image the teacher spreads its probability over classes that belong ' +
      'to neither constituent image (distributional confusion); that spread is not the ' +
      'inter-class structure (dark knowledge) it shows on clean images.',
    question:
      'Is the mass outside the two constituent classes larger than the clean dark ' +
      'knowledge, and does its shape follow the clean non-target distribution (small ' +
      'KL, correlation near 1) or not?',
  },
  {
    id: 2,
    title: 'A more linear student',
    statement:
      'The student does not just copy the teacher: between two training images its ' +
      'output is closer to the mix of its outputs (lower L_NL) than the teacher’s is.',
    question:
      'Is the linearity gain (teacher L_NL − student L_NL) positive at the peak and in ' +
      'most lambda bins, beyond its spread over seeds?',
  },
  {
    id: 3,
    title: 'Accuracy and over-confidence of KD + mixup',
    statement:
      'Distilling with mixup gives a more accurate student than the baseline and cuts ' +
      'its over-confidence by about a factor of ten, for teachers of each capacity.',
    question:
      'Is the accuracy difference positive beyond its standard error, and is the ratio ' +
      'of over-confidences near 10 or more for every teacher?',
  },
  {
    id: 4,
    title: 'Calibration passes from teacher to student',
    statement:
      'The student inherits the teacher’s calibration whatever the accuracy: an ' +
      'under-confident teacher gives an under-confident student that is not more ' +
      'accurate for it.',
    question:
      'Across teachers, does the student’s over-confidence follow the teacher’s (same ' +
      'sign, same order) while its accuracy does not?',
  },
  {
    id: 5,
    title: 'Temperature trades accuracy for calibration',
    statement:
      'Changing the distillation temperature moves accuracy and calibration in opposite ' +
      'directions, and the trade is steeper with mixup than without.',
    question:
      'Over the temperatures, do accuracy and ECE move together, and are the ranges ' +
      '(and the ECE-per-accuracy slope) larger for kd+mixup than for kd?',
  },
] as const;

/** a - b with the standard error sqrt(s_a^2/n_a + s_b^2/n_b) (null if a side has n = 1). */
export interface Difference {
  value: number;
  se: number | null;
  nA: number;
  nB: number;
}

export function differenceOf(a: Spread, b: Spread): Difference {
  const se =
    a.std !== null && b.std !== null
      ? Math.sqrt((a.std * a.std) / a.n + (b.std * b.std) / b.n)
      : null;
  return { value: a.mean - b.mean, se, nA: a.n, nB: b.n };
}

export interface Claim1Row {
  teacher: string;
  runs: number;
  pairs: number;
  numClasses: number;
  peakRange: [number, number];
  /** Peak-band means over the teacher's runs. */
  peak: Record<(typeof TEACHER_SIGNAL)[number], Spread | null>;
  /** log K: the entropy of a uniform output. */
  maxEntropy: number;
  /** Peak rest mass / peak clean dark knowledge. */
  restOverDarkKnowledge: number | null;
  /** Peak rest mass - rest mass of the mix of the clean outputs. */
  restBeyondCleanMix: number | null;
}

export interface Claim2Row {
  teacher: string;
  label: string;
  runs: number;
  teacherNonLinearity: Spread | null;
  studentNonLinearity: Spread | null;
  gain: Spread | null;
  /** Lambda bins whose mean gain is > 0, of those with a value. */
  binsWithPositiveGain: number;
  binsWithGain: number;
}

export interface Claim3Row {
  teacher: string;
  label: string;
  /** arm - baseline accuracy (fractions). */
  accuracy: Difference;
  overconfidenceBaseline: Spread;
  overconfidenceArm: Spread;
  /** |over-confidence baseline| / |over-confidence arm|. */
  overconfidenceRatio: number | null;
  eceBaseline: Spread;
  eceArm: Spread;
  eceRatio: number | null;
}

export interface Claim4Point {
  teacher: string;
  teacherAccuracy: number;
  teacherOverconfidence: number;
  label: string;
  studentAccuracy: Spread;
  studentOverconfidence: Spread;
}

export interface Claim4Group {
  label: string;
  teachers: number;
  /** Teachers whose student's over-confidence has the teacher's sign. */
  sameSign: number;
  /** Least-squares slope of student on teacher over-confidence (>= 2 teachers). */
  overconfidenceSlope: number | null;
  /** Pearson correlations across teachers (>= 3 teachers). */
  overconfidenceCorrelation: number | null;
  accuracyCorrelation: number | null;
}

export interface Claim5Series {
  teacher: string;
  arm: string;
  points: { temperature: number; accuracy: Spread; ece: Spread }[];
  /** max - min over temperatures of the mean (>= 2 temperatures). */
  accuracyRange: number | null;
  eceRange: number | null;
  /** Least-squares slope of mean ECE on mean accuracy in % points, across temperatures. */
  ecePerAccuracyPoint: number | null;
  bestAccuracyTemperature: number | null;
  bestEceTemperature: number | null;
}

export interface ClaimsData {
  claim1: Claim1Row[];
  claim2: Claim2Row[];
  claim3: Claim3Row[];
  claim4: { teachers: number; points: Claim4Point[]; groups: Claim4Group[] };
  claim5: Claim5Series[];
}

/** The numbers that bear on each claim, computed from the aggregate. */
export function claimsData(aggregate: StudyAggregate): ClaimsData {
  const named = aggregate.teachers.filter(
    (t): t is TeacherSummary & { name: string } => t.name !== null,
  );
  return {
    claim1: named.flatMap(claim1Row),
    claim2: named.flatMap(claim2Rows),
    claim3: named.flatMap(claim3Rows),
    claim4: claim4(named),
    claim5: named.flatMap(claim5Series),
  };
}

function claim1Row(teacher: TeacherSummary & { name: string }): Claim1Row[] {
  const v = teacher.teacherVicinal;
  if (!v) return [];
  const peak = Object.fromEntries(
    TEACHER_SIGNAL.map((m) => [m, v.peak[m]]),
  ) as Claim1Row['peak'];
  const rest = peak.restMass?.mean;
  const dark = peak.darkKnowledge?.mean;
  const clean = peak.restMassOfCleanMix?.mean;
  return [
    {
      teacher: teacher.name,
      runs: v.runs,
      pairs: v.pairs,
      numClasses: v.numClasses,
      peakRange: v.peakRange,
      peak,
      maxEntropy: Math.log(v.numClasses),
      restOverDarkKnowledge:
        rest !== undefined && dark !== undefined && dark > 0 ? rest / dark : null,
      restBeyondCleanMix: rest !== undefined && clean !== undefined ? rest - clean : null,
    },
  ];
}

function claim2Rows(teacher: TeacherSummary & { name: string }): Claim2Row[] {
  return teacher.arms.flatMap((arm) => {
    const v = arm.vicinal;
    if (!v) return [];
    const gains = v.bins.linearityGain.filter((g): g is number => g !== null);
    return [
      {
        teacher: teacher.name,
        label: arm.label,
        runs: v.runs,
        teacherNonLinearity: v.peak.nonLinearityTeacher,
        studentNonLinearity: v.peak.nonLinearityStudent,
        gain: v.peak.linearityGain,
        binsWithPositiveGain: gains.filter((g) => g > 0).length,
        binsWithGain: gains.length,
      },
    ];
  });
}

function claim3Rows(teacher: TeacherSummary & { name: string }): Claim3Row[] {
  const baseline = teacher.arms.find((a) => a.arm === 'baseline');
  if (!baseline) return [];
  const order = ['kd+mixup', 'kd', 'mixup'];
  const others = teacher.arms
    .filter((a) => a.arm !== 'baseline')
    .sort((a, b) => order.indexOf(a.arm) - order.indexOf(b.arm));
  return others.flatMap((arm) => {
    const b = baseline.metrics;
    const m = arm.metrics;
    if (!b.accuracy || !m.accuracy || !b.overconfidence || !m.overconfidence) return [];
    if (!b.ece || !m.ece) return [];
    return [
      {
        teacher: teacher.name,
        label: arm.label,
        accuracy: differenceOf(m.accuracy, b.accuracy),
        overconfidenceBaseline: b.overconfidence,
        overconfidenceArm: m.overconfidence,
        overconfidenceRatio: ratio(b.overconfidence.mean, m.overconfidence.mean),
        eceBaseline: b.ece,
        eceArm: m.ece,
        eceRatio: ratio(b.ece.mean, m.ece.mean),
      },
    ];
  });
}

function ratio(numerator: number, denominator: number): number | null {
  return denominator !== 0 ? Math.abs(numerator) / Math.abs(denominator) : null;
}

function claim4(teachers: (TeacherSummary & { name: string })[]): ClaimsData['claim4'] {
  const points: Claim4Point[] = [];
  for (const teacher of teachers) {
    if (!teacher.test) continue;
    for (const arm of teacher.arms) {
      const { accuracy, overconfidence } = arm.metrics;
      if (!accuracy || !overconfidence) continue;
      points.push({
        teacher: teacher.name,
        teacherAccuracy: teacher.test.accuracy,
        teacherOverconfidence: teacher.test.overconfidence,
        label: arm.label,
        studentAccuracy: accuracy,
        studentOverconfidence: overconfidence,
      });
    }
  }
  const labels = [...new Set(points.map((p) => p.label))];
  const groups = labels.map((label): Claim4Group => {
    const group = points.filter((p) => p.label === label);
    const x = group.map((p) => p.teacherOverconfidence);
    const y = group.map((p) => p.studentOverconfidence.mean);
    return {
      label,
      teachers: group.length,
      sameSign: group.filter(
        (p) =>
          Math.sign(p.teacherOverconfidence) === Math.sign(p.studentOverconfidence.mean),
      ).length,
      overconfidenceSlope: group.length >= 2 ? slope(x, y) : null,
      overconfidenceCorrelation: group.length >= 3 ? correlation(x, y) : null,
      accuracyCorrelation:
        group.length >= 3
          ? correlation(
              group.map((p) => p.teacherAccuracy),
              group.map((p) => p.studentAccuracy.mean),
            )
          : null,
    };
  });
  return { teachers: teachers.length, points, groups };
}

function claim5Series(teacher: TeacherSummary & { name: string }): Claim5Series[] {
  return (['kd', 'kd+mixup'] as const).flatMap((armName) => {
    const arms = teacher.arms.filter(
      (a): a is ArmSummary & { temperature: number } =>
        a.arm === armName && a.temperature !== null,
    );
    const points = arms.flatMap((a) =>
      a.metrics.accuracy && a.metrics.ece
        ? [
            {
              temperature: a.temperature,
              accuracy: a.metrics.accuracy,
              ece: a.metrics.ece,
            },
          ]
        : [],
    );
    if (points.length === 0) return [];
    const acc = points.map((p) => p.accuracy.mean);
    const ece = points.map((p) => p.ece.mean);
    const several = points.length >= 2;
    const best = (values: number[], pick: (a: number, b: number) => boolean) =>
      points[values.reduce((bi, v, i) => (pick(v, values[bi]) ? i : bi), 0)].temperature;
    const fit = several ? slope(acc, ece) : null;
    return [
      {
        teacher: teacher.name,
        arm: armName,
        points,
        accuracyRange: several ? Math.max(...acc) - Math.min(...acc) : null,
        eceRange: several ? Math.max(...ece) - Math.min(...ece) : null,
        ecePerAccuracyPoint: fit === null ? null : fit / 100,
        bestAccuracyTemperature: best(acc, (a, b) => a > b),
        bestEceTemperature: best(ece, (a, b) => a < b),
      },
    ];
  });
}

/** Least-squares slope of y on x; null when x does not vary. */
export function slope(x: readonly number[], y: readonly number[]): number | null {
  const mx = spreadOf(x)?.mean ?? 0;
  const my = spreadOf(y)?.mean ?? 0;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
  }
  return sxx > 0 ? sxy / sxx : null;
}

/** Pearson correlation; null when either side does not vary. */
export function correlation(x: readonly number[], y: readonly number[]): number | null {
  const mx = spreadOf(x)?.mean ?? 0;
  const my = spreadOf(y)?.mean ?? 0;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : null;
}
