import { armUses } from '@vicinal/config';
import { VICINAL_MEASURES } from '@vicinal/metrics';
import { RUN_METRICS, type StudyAggregate, type VicinalAggregate } from './aggregate.js';
import type { ClaimsData } from './claims.js';
import type { StudyResults } from './results.js';

type Cell = string | number | null | undefined;

/** One CSV table: a file name, its header and rows. */
export interface CsvTable {
  file: string;
  header: string[];
  rows: Cell[][];
}

/** RFC 4180 text: quoted when needed, numbers in full precision, null empty. */
export function csvText(table: CsvTable): string {
  const line = (cells: Cell[]) => cells.map(csvCell).join(',');
  return `${[line(table.header), ...table.rows.map(line)].join('\n')}\n`;
}

function csvCell(cell: Cell): string {
  if (cell === null || cell === undefined) return '';
  const text = String(cell);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The tables behind the report. */
export function csvTables(
  results: StudyResults,
  aggregate: StudyAggregate,
  claims: ClaimsData,
): CsvTable[] {
  // One row per arm of each teacher's table; baseline and mixup, which use no
  // teacher, repeat in every table as its comparison group, with `teacher`
  // empty and `table` naming the table they are in.
  const students: CsvTable = {
    file: 'students.csv',
    header: [
      'table',
      'teacher',
      'arm',
      'temperature',
      'n',
      'seeds',
      ...RUN_METRICS.flatMap((m) => [`${m}_mean`, `${m}_std`]),
    ],
    rows: aggregate.teachers.flatMap((t) =>
      t.arms.map((a) => [
        t.name,
        armUses(a.arm).teacher ? t.name : null,
        a.arm,
        a.temperature,
        a.seeds.length,
        a.seeds.join(' '),
        ...RUN_METRICS.flatMap((m) => [a.metrics[m]?.mean, a.metrics[m]?.std]),
      ]),
    ),
  };
  const teachers: CsvTable = {
    file: 'teachers.csv',
    header: [
      'teacher',
      'architecture',
      'parameters',
      'accuracy',
      'ece',
      'mce',
      'overconfidence',
      'nll',
      'brier',
      'adaptiveEce',
      'postHocTemperature',
      'eceAfterScaling',
    ],
    rows: results.teachers.map((t) => [
      t.name,
      t.architecture,
      t.parameters,
      t.test.accuracy,
      t.test.ece,
      t.test.mce,
      t.test.overconfidence,
      t.test.nll,
      t.test.brier,
      t.test.adaptiveEce,
      t.temperatureScaling?.temperature,
      t.temperatureScaling?.eceAfter,
    ]),
  };
  const runFields = [
    'accuracy',
    'ece',
    'mce',
    'overconfidence',
    'nll',
    'brier',
    'adaptiveEce',
    'samplesPerSecond',
  ] as const;
  const runs: CsvTable = {
    file: 'runs.csv',
    header: ['teacher', 'arm', 'temperature', 'seed', ...runFields, 'analysisPairs'],
    rows: results.runs.map((r) => [
      r.teacher,
      r.arm,
      r.temperature,
      r.seed,
      ...runFields.map((f) => r[f]),
      r.analysis?.pairs,
    ]),
  };
  const vicinalRows: Cell[][] = [];
  const addCurves = (teacher: string | null, series: string, v: VicinalAggregate) => {
    v.bins.lower.forEach((lower, b) => {
      vicinalRows.push([
        teacher,
        series,
        v.runs,
        lower,
        v.bins.upper[b],
        v.bins.count[b],
        ...VICINAL_MEASURES.map((m) => v.bins[m][b]),
      ]);
    });
  };
  for (const t of aggregate.teachers) {
    if (t.teacherVicinal)
      addCurves(t.name, 'teacher (distinct pair samples)', t.teacherVicinal);
    for (const a of t.arms) if (a.vicinal) addCurves(t.name, a.label, a.vicinal);
  }
  const vicinal: CsvTable = {
    file: 'vicinal-bins.csv',
    header: [
      'teacher',
      'series',
      'runs',
      'lambdaLower',
      'lambdaUpper',
      'pairs',
      ...VICINAL_MEASURES,
    ],
    rows: vicinalRows,
  };
  const transfer: CsvTable = {
    file: 'calibration-transfer.csv',
    header: [
      'teacher',
      'teacherAccuracy',
      'teacherOverconfidence',
      'student',
      'n',
      'studentAccuracyMean',
      'studentAccuracyStd',
      'studentOverconfidenceMean',
      'studentOverconfidenceStd',
    ],
    rows: claims.claim4.points.map((p) => [
      p.teacher,
      p.teacherAccuracy,
      p.teacherOverconfidence,
      p.label,
      p.studentAccuracy.n,
      p.studentAccuracy.mean,
      p.studentAccuracy.std,
      p.studentOverconfidence.mean,
      p.studentOverconfidence.std,
    ]),
  };
  return [students, teachers, runs, vicinal, transfer];
}
