import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { ArmSummary, TeacherSummary, VicinalAggregate } from './aggregate.js';
import type { Claim4Point } from './claims.js';

/** The kinds of chart the report draws; each figure is tagged with its kind. */
export const CHART_KINDS = [
  'arm-metrics',
  'reliability',
  'accuracy-vs-ece',
  'vicinal-nonlinearity',
  'vicinal-entropy',
  'vicinal-alignment',
  'teacher-signal',
  'teacher-signal-rest',
  'calibration-transfer',
] as const;
export type ChartKind = (typeof CHART_KINDS)[number];

/** A chart as a Vega-Lite specification, before rendering. */
export interface Chart {
  kind: ChartKind;
  title: string;
  spec: TopLevelSpec;
}

type Row = Record<string, string | number | null>;

const WIDTH = 300;
const HEIGHT = 200;
const CONFIG = {
  font: 'sans-serif',
  view: { stroke: '#ddd' },
  axis: { labelFontSize: 10, titleFontSize: 11 },
  legend: { labelFontSize: 10, titleFontSize: 11, labelLimit: 400 },
};

/**
 * Renders a Vega-Lite chart to an SVG string in Node, without a browser or a
 * canvas. The namespace attributes are dropped: inline in HTML they are
 * implied, and the report then names no outside address at all.
 */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    return svg
      .replace(/\s+xmlns="http:\/\/www\.w3\.org\/2000\/svg"/, '')
      .replace(/\s+xmlns:xlink="http:\/\/www\.w3\.org\/1999\/xlink"/, '');
  } finally {
    view.finalize();
  }
}

function base(
  title: string,
  rows: Row[],
): Pick<TopLevelSpec, 'title' | 'data' | 'config'> {
  return { title, data: { values: rows }, config: CONFIG };
}

/** Accuracy (%) and over-confidence per arm, mean with ± std bars. */
export function armMetricsChart(teacher: TeacherSummary): Chart | null {
  const rows: Row[] = [];
  for (const arm of teacher.arms) {
    for (const [metric, scale] of [
      ['accuracy', 100],
      ['overconfidence', 1],
    ] as const) {
      const s = arm.metrics[metric];
      if (!s) continue;
      const std = s.std ?? 0;
      rows.push({
        model: arm.label,
        metric: metric === 'accuracy' ? 'accuracy (%)' : 'over-confidence (conf − acc)',
        mean: s.mean * scale,
        low: (s.mean - std) * scale,
        high: (s.mean + std) * scale,
      });
    }
  }
  if (rows.length === 0) return null;
  const title = `${teacherTitle(teacher)}: accuracy and over-confidence per arm`;
  return {
    kind: 'arm-metrics',
    title,
    spec: {
      ...base(title, rows),
      facet: { column: { field: 'metric', type: 'nominal', title: null } },
      resolve: { scale: { x: 'independent' } },
      spec: {
        width: WIDTH,
        height: { step: 16 },
        layer: [
          {
            mark: { type: 'bar', color: '#4c78a8' },
            encoding: {
              y: { field: 'model', type: 'nominal', sort: null, title: null },
              x: { field: 'mean', type: 'quantitative', title: 'mean over seeds' },
            },
          },
          {
            mark: { type: 'rule', color: 'black' },
            encoding: {
              y: { field: 'model', type: 'nominal', sort: null },
              x: { field: 'low', type: 'quantitative' },
              x2: { field: 'high' },
            },
          },
        ],
      },
    } as TopLevelSpec,
  };
}

/** Reliability diagrams of the teacher and every arm (bins pooled over seeds). */
export function reliabilityChart(teacher: TeacherSummary): Chart | null {
  const rows: Row[] = [];
  const add = (model: string, bins: ReliabilityLike) => {
    bins.lower.forEach((lower, b) => {
      if (bins.counts[b] === 0) return;
      rows.push({
        model,
        kind: 'bin',
        lower,
        upper: bins.upper[b],
        centre: (lower + bins.upper[b]) / 2,
        accuracy: bins.accuracy[b],
        confidence: bins.confidence[b],
        count: bins.counts[b],
      });
    });
    rows.push({ model, kind: 'diagonal', d: 0 }, { model, kind: 'diagonal', d: 1 });
  };
  if (teacher.test) add(`teacher ${teacher.name}`, teacher.test.reliability);
  for (const arm of teacher.arms) if (arm.reliability) add(arm.label, arm.reliability);
  if (rows.length === 0) return null;
  const title = `${teacherTitle(teacher)}: reliability (bars: accuracy; dots: mean confidence)`;
  const models = [...new Set(rows.map((r) => r.model))];
  return {
    kind: 'reliability',
    title,
    spec: {
      ...base(title, rows),
      facet: { field: 'model', type: 'nominal', sort: models, title: null },
      columns: 4,
      spec: {
        width: 150,
        height: 150,
        layer: [
          {
            transform: [{ filter: "datum.kind === 'bin'" }],
            mark: { type: 'rect', color: '#4c78a8', opacity: 0.8 },
            encoding: {
              x: {
                field: 'lower',
                type: 'quantitative',
                scale: { domain: [0, 1] },
                title: 'confidence',
              },
              x2: { field: 'upper' },
              y: {
                field: 'accuracy',
                type: 'quantitative',
                scale: { domain: [0, 1] },
                title: 'accuracy',
              },
              y2: { datum: 0 },
            },
          },
          {
            transform: [{ filter: "datum.kind === 'bin'" }],
            mark: { type: 'point', filled: true, color: '#e45756', size: 18 },
            encoding: {
              x: { field: 'centre', type: 'quantitative' },
              y: { field: 'confidence', type: 'quantitative' },
            },
          },
          {
            transform: [{ filter: "datum.kind === 'diagonal'" }],
            mark: { type: 'line', color: '#888', strokeDash: [4, 3] },
            encoding: {
              x: { field: 'd', type: 'quantitative' },
              y: { field: 'd', type: 'quantitative' },
            },
          },
        ],
      },
    } as TopLevelSpec,
  };
}

interface ReliabilityLike {
  lower: number[];
  upper: number[];
  counts: number[];
  accuracy: number[];
  confidence: number[];
}

/**
 * Accuracy against ECE of the kd and kd+mixup arms across temperatures (one
 * line per arm through its temperatures, ± std bars), with the baseline and
 * mixup arms as single points.
 */
export function accuracyEceChart(teacher: TeacherSummary): Chart | null {
  const rows: Row[] = teacher.arms.flatMap((arm) => {
    const { accuracy, ece } = arm.metrics;
    if (!accuracy || !ece) return [];
    return [
      {
        arm: arm.arm,
        label: arm.temperature === null ? arm.arm : `T=${arm.temperature}`,
        temperature: arm.temperature ?? 0,
        accuracy: 100 * accuracy.mean,
        accuracyLow: 100 * (accuracy.mean - (accuracy.std ?? 0)),
        accuracyHigh: 100 * (accuracy.mean + (accuracy.std ?? 0)),
        ece: ece.mean,
        eceLow: ece.mean - (ece.std ?? 0),
        eceHigh: ece.mean + (ece.std ?? 0),
      },
    ];
  });
  if (!rows.some((r) => r.arm === 'kd' || r.arm === 'kd+mixup')) return null;
  const title = `${teacherTitle(teacher)}: accuracy vs ECE across temperatures`;
  const x = { field: 'ece', type: 'quantitative', title: 'ECE', scale: { zero: false } };
  const y = {
    field: 'accuracy',
    type: 'quantitative',
    title: 'accuracy (%)',
    scale: { zero: false },
  };
  const color = { field: 'arm', type: 'nominal', title: 'arm' };
  return {
    kind: 'accuracy-vs-ece',
    title,
    spec: {
      ...base(title, rows),
      width: WIDTH + 60,
      height: HEIGHT + 40,
      layer: [
        {
          transform: [{ filter: "datum.arm === 'kd' || datum.arm === 'kd+mixup'" }],
          mark: { type: 'line' },
          encoding: {
            x,
            y,
            color,
            order: { field: 'temperature', type: 'quantitative' },
          },
        },
        {
          mark: { type: 'rule' },
          encoding: {
            x,
            y: { field: 'accuracyLow', type: 'quantitative' },
            y2: { field: 'accuracyHigh' },
            color,
          },
        },
        {
          mark: { type: 'rule' },
          encoding: {
            y,
            x: { field: 'eceLow', type: 'quantitative' },
            x2: { field: 'eceHigh' },
            color,
          },
        },
        { mark: { type: 'point', filled: true, size: 50 }, encoding: { x, y, color } },
        {
          mark: { type: 'text', dx: 6, dy: -6, align: 'left', fontSize: 9 },
          encoding: { x, y, text: { field: 'label' }, color },
        },
      ],
    } as TopLevelSpec,
  };
}

/** Which per-bin vicinal curves a chart draws. */
type VicinalCurves = {
  kind: 'vicinal-nonlinearity' | 'vicinal-entropy' | 'vicinal-alignment';
  what: string;
  axis: string;
  teacher: 'nonLinearityTeacher' | 'entropyTeacher' | null;
  student: (
    | 'nonLinearityStudent'
    | 'entropyStudent'
    | 'alignmentMixed'
    | 'alignmentClean'
  )[];
};

const VICINAL_CURVES: VicinalCurves[] = [
  {
    kind: 'vicinal-nonlinearity',
    what: 'non-linearity L_NL vs lambda',
    axis: 'L_NL',
    teacher: 'nonLinearityTeacher',
    student: ['nonLinearityStudent'],
  },
  {
    kind: 'vicinal-entropy',
    what: 'entropy on the mixed input vs lambda',
    axis: 'entropy (nats)',
    teacher: 'entropyTeacher',
    student: ['entropyStudent'],
  },
  {
    kind: 'vicinal-alignment',
    what: 'teacher–student KL on mixed (solid) and clean (dashed) inputs vs lambda',
    axis: 'KL(teacher || student)',
    teacher: null,
    student: ['alignmentMixed', 'alignmentClean'],
  },
];

/** L_NL, entropy and alignment against lambda for the teacher and each student arm. */
export function vicinalCharts(teacher: TeacherSummary): Chart[] {
  const arms = teacher.arms.filter(
    (a): a is ArmSummary & { vicinal: VicinalAggregate } => a.vicinal !== null,
  );
  return VICINAL_CURVES.flatMap((curves): Chart[] => {
    const rows: Row[] = [];
    if (curves.teacher && teacher.teacherVicinal) {
      rows.push(...curveRows(teacher.teacherVicinal, curves.teacher, 'teacher', 'mixed'));
    }
    for (const arm of arms) {
      for (const measure of curves.student) {
        const input = measure === 'alignmentClean' ? 'clean' : 'mixed';
        rows.push(...curveRows(arm.vicinal, measure, `student ${arm.label}`, input));
      }
    }
    if (rows.length === 0) return [];
    const title = `${teacherTitle(teacher)}: ${curves.what}`;
    const dash = curves.kind === 'vicinal-alignment' ? 'input' : null;
    return [
      {
        kind: curves.kind,
        title,
        spec: lineSpec(title, rows, curves.axis, 'series', dash),
      },
    ];
  });
}

/**
 * The teacher-signal decomposition against lambda: the mass on the two
 * constituent classes and on the rest, with the clean references; and how
 * the rest compares with the clean non-target distribution (KL, correlation).
 */
export function teacherSignalCharts(teacher: TeacherSummary): Chart[] {
  const v = teacher.teacherVicinal;
  if (!v) return [];
  const masses: [Parameters<typeof curveRows>[1], string][] = [
    ['constituentMass', 'mass on the constituent classes'],
    ['restMass', 'mass on the other classes'],
    ['restMassOfCleanMix', 'other-class mass of the mix of clean outputs'],
    ['darkKnowledge', 'clean non-target mass (dark knowledge)'],
  ];
  const massRows = masses.flatMap(([m, label]) => curveRows(v, m, label, 'mixed'));
  const restRows = [
    ...curveRows(v, 'restKl', 'KL(rest on x~ || mix of clean rests)', 'mixed'),
    ...curveRows(
      v,
      'restCorrelation',
      'correlation(rest on x~, mix of clean rests)',
      'mixed',
    ),
  ];
  const title1 = `${teacherTitle(teacher)}: teacher probability mass on mixed inputs vs lambda`;
  const title2 = `${teacherTitle(teacher)}: the other-class part vs the clean dark knowledge`;
  const charts: Chart[] = [
    {
      kind: 'teacher-signal',
      title: title1,
      spec: lineSpec(title1, massRows, 'probability mass', 'series', null),
    },
  ];
  if (restRows.length === 0) return charts;
  charts.push({
    kind: 'teacher-signal-rest',
    title: title2,
    spec: {
      ...base(title2, restRows),
      facet: { column: { field: 'series', type: 'nominal', title: null } },
      resolve: { scale: { y: 'independent' } },
      spec: {
        width: 260,
        height: HEIGHT,
        mark: { type: 'line', point: true },
        encoding: {
          x: lambdaAxis(),
          y: { field: 'value', type: 'quantitative', title: null },
        },
      },
    } as TopLevelSpec,
  });
  return charts;
}

/**
 * Teacher over-confidence against student over-confidence (and the same for
 * accuracy), one point per teacher and arm, ± std over seeds.
 */
export function calibrationTransferChart(points: Claim4Point[]): Chart | null {
  if (points.length === 0) return null;
  const rows: Row[] = points.map((p) => ({
    teacher: p.teacher,
    model: p.label,
    teacherOverconfidence: p.teacherOverconfidence,
    studentOverconfidence: p.studentOverconfidence.mean,
    ocLow: p.studentOverconfidence.mean - (p.studentOverconfidence.std ?? 0),
    ocHigh: p.studentOverconfidence.mean + (p.studentOverconfidence.std ?? 0),
    teacherAccuracy: 100 * p.teacherAccuracy,
    studentAccuracy: 100 * p.studentAccuracy.mean,
    accLow: 100 * (p.studentAccuracy.mean - (p.studentAccuracy.std ?? 0)),
    accHigh: 100 * (p.studentAccuracy.mean + (p.studentAccuracy.std ?? 0)),
  }));
  const title = 'Teacher vs student: over-confidence (left) and accuracy (right)';
  const color = { field: 'model', type: 'nominal', title: 'student arm' };
  const shape = { field: 'teacher', type: 'nominal', title: 'teacher' };
  const scale = { zero: false, padding: 20 };
  const panel = (
    x: string,
    y: string,
    low: string,
    high: string,
    titles: [string, string],
    zeroLines: boolean,
  ) => ({
    width: 280,
    height: 240,
    layer: [
      ...(zeroLines
        ? (['x', 'y'] as const).map((channel) => ({
            data: { values: [{ zero: 0 }] },
            mark: { type: 'rule', color: '#999', strokeDash: [4, 3] },
            encoding: { [channel]: { field: 'zero', type: 'quantitative' } },
          }))
        : []),
      {
        mark: { type: 'rule' },
        encoding: {
          x: { field: x, type: 'quantitative', title: titles[0], scale },
          y: { field: low, type: 'quantitative', title: titles[1], scale },
          y2: { field: high },
          color,
        },
      },
      {
        mark: { type: 'point', filled: true, size: 60 },
        encoding: {
          x: { field: x, type: 'quantitative' },
          y: { field: y, type: 'quantitative' },
          color,
          shape,
        },
      },
    ],
  });
  return {
    kind: 'calibration-transfer',
    title,
    spec: {
      ...base(title, rows),
      hconcat: [
        panel(
          'teacherOverconfidence',
          'studentOverconfidence',
          'ocLow',
          'ocHigh',
          ['teacher over-confidence', 'student over-confidence'],
          true,
        ),
        panel(
          'teacherAccuracy',
          'studentAccuracy',
          'accLow',
          'accHigh',
          ['teacher accuracy (%)', 'student accuracy (%)'],
          false,
        ),
      ],
    } as TopLevelSpec,
  };
}

function curveRows(
  v: VicinalAggregate,
  measure:
    | 'nonLinearityTeacher'
    | 'nonLinearityStudent'
    | 'entropyTeacher'
    | 'entropyStudent'
    | 'alignmentMixed'
    | 'alignmentClean'
    | 'constituentMass'
    | 'restMass'
    | 'restMassOfCleanMix'
    | 'darkKnowledge'
    | 'restKl'
    | 'restCorrelation',
  series: string,
  input: 'mixed' | 'clean',
): Row[] {
  return v.bins[measure].flatMap((value, b) =>
    value === null
      ? []
      : [{ series, input, lambda: (v.bins.lower[b] + v.bins.upper[b]) / 2, value }],
  );
}

function lambdaAxis() {
  return {
    field: 'lambda',
    type: 'quantitative',
    title: 'lambda (bin centre)',
    scale: { domain: [0, 1] },
  };
}

function lineSpec(
  title: string,
  rows: Row[],
  axis: string,
  colorField: string,
  dashField: string | null,
): TopLevelSpec {
  return {
    ...base(title, rows),
    width: WIDTH + 60,
    height: HEIGHT + 40,
    mark: { type: 'line', point: { size: 16 } },
    encoding: {
      x: lambdaAxis(),
      y: { field: 'value', type: 'quantitative', title: axis },
      color: { field: colorField, type: 'nominal', title: null, sort: null },
      ...(dashField
        ? {
            strokeDash: {
              field: dashField,
              type: 'nominal',
              title: 'input',
              legend: { symbolType: 'stroke' },
              scale: {
                domain: ['mixed', 'clean'],
                range: [
                  [1, 0],
                  [5, 3],
                ],
              },
            },
          }
        : {}),
    },
  } as TopLevelSpec;
}

function teacherTitle(teacher: TeacherSummary): string {
  return teacher.name === null ? 'No teacher' : `Teacher ${teacher.name}`;
}
