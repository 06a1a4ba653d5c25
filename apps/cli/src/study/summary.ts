import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DistillResult, Recipe, StudySettings } from '@vicinal/config';
import {
  parseResults,
  RESULTS_FILE,
  type StudyResults,
  writeReport,
} from '@vicinal/report';
import type { TeacherRecord } from './teacher-cache.js';

interface MetricRow {
  accuracy: number;
  ece: number;
  mce: number;
  overconfidence: number;
  nll: number;
  brier: number;
}

/** The machine-readable result of a study run (summary.json). */
export interface StudySummary {
  study: string;
  dataset: {
    name: string;
    train_images: number;
    test_images: number;
    teacher_train_images: number;
    student_train_images: number;
  };
  backend: string;
  teacher: MetricRow & {
    architecture: string;
    parameters: number;
    epochs: number;
    train_seconds: number;
  };
  students: (MetricRow & {
    arm: string;
    temperature: number | null;
    architecture: string;
    parameters: number;
    seed: number;
    epochs: number;
    steps: number;
    samples_per_second: number;
    train_seconds: number;
    worker: string;
  })[];
  wall_seconds: number;
}

export function buildSummary(input: {
  settings: StudySettings;
  backend: string;
  data: { train: number; test: number; trainSubset: Recipe };
  teacher: TeacherRecord;
  results: DistillResult[];
  wallSeconds: number;
}): StudySummary {
  const { settings, teacher } = input;
  return {
    study: settings.name,
    dataset: {
      name: settings.dataset.name,
      train_images: input.data.train,
      test_images: input.data.test,
      teacher_train_images: settings.teacher.trainImages ?? input.data.train,
      student_train_images: settings.student.trainImages ?? input.data.train,
    },
    backend: input.backend,
    teacher: {
      architecture: teacher.architecture,
      parameters: teacher.parameters,
      epochs: teacher.recipe.epochs,
      train_seconds: round(teacher.trainSeconds, 1),
      accuracy: teacher.test.accuracy,
      ece: teacher.test.ece,
      mce: teacher.test.mce,
      overconfidence: teacher.test.overconfidence,
      nll: teacher.test.nll,
      brier: teacher.test.brier,
    },
    students: input.results.map((r) => ({
      arm: r.arm,
      temperature: r.temperature,
      architecture: r.architecture,
      parameters: r.parameters,
      seed: r.seed,
      epochs: settings.student.epochs,
      steps: r.steps,
      accuracy: r.accuracy,
      ece: r.ece,
      mce: r.mce,
      overconfidence: r.overconfidence,
      nll: r.nll,
      brier: r.brier,
      samples_per_second: round(r.samplesPerSecond, 1),
      train_seconds: round(r.trainSeconds, 1),
      worker: r.worker,
    })),
    wall_seconds: round(input.wallSeconds, 1),
  };
}

/** The results table in Markdown (the same table the CLI prints). */
export function summaryTable(summary: StudySummary): string {
  const head =
    '| model | arm | T | accuracy | ECE | MCE | conf - acc | NLL | Brier | samples/s |';
  const rule = '|---|---|---|---|---|---|---|---|---|---|';
  const row = (name: string, arm: string, t: string, m: MetricRow, sps: string) =>
    `| ${name} | ${arm} | ${t} | ${(100 * m.accuracy).toFixed(2)} | ${m.ece.toFixed(4)} | ` +
    `${m.mce.toFixed(4)} | ${signed(m.overconfidence)} | ${m.nll.toFixed(4)} | ` +
    `${m.brier.toFixed(4)} | ${sps} |`;
  const lines = [head, rule];
  const t = summary.teacher;
  lines.push(row(`teacher ${t.architecture} (${t.parameters} params)`, '-', '-', t, '-'));
  for (const s of summary.students) {
    lines.push(
      row(
        `student ${s.architecture} (${s.parameters} params)`,
        s.arm,
        s.temperature === null ? '-' : String(s.temperature),
        s,
        s.samples_per_second.toFixed(0),
      ),
    );
  }
  return lines.join('\n');
}

/** Writes summary.json and summary.md into `out`. */
export function writeSummary(out: string, summary: StudySummary): void {
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  const d = summary.dataset;
  const md = [
    `# vicinal study: ${summary.study}`,
    '',
    `Data set ${d.name}: teacher trained on ${d.teacher_train_images} and students on ` +
      `${d.student_train_images} of ${d.train_images} training images; every metric on ` +
      `all ${d.test_images} test images. Backend: ${summary.backend}. ` +
      `Wall time ${summary.wall_seconds} s.`,
    '',
    'Accuracy in %; ECE and MCE with 15 equal-width bins; conf - acc is the mean ' +
      'confidence minus the accuracy (positive: over-confident).',
    '',
    summaryTable(summary),
    '',
  ].join('\n');
  writeFileSync(join(out, 'summary.md'), md);
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));
const signed = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(4)}`;

/**
 * The results behind the report (results.json): the teacher with its
 * reliability diagram, every run with its calibration and vicinal analysis.
 */
export function buildResults(
  settings: StudySettings,
  teacher: TeacherRecord,
  teacherName: string,
  runs: DistillResult[],
): StudyResults {
  return parseResults(
    {
      study: { ...settings },
      teachers: [
        {
          name: teacherName,
          architecture: teacher.architecture,
          parameters: teacher.parameters,
          test: teacher.test,
        },
      ],
      runs: runs.map((r) => ({
        teacher: r.teacher ? teacherName : null,
        arm: r.arm,
        temperature: r.temperature,
        seed: r.seed,
        accuracy: r.accuracy,
        ece: r.ece,
        mce: r.mce,
        overconfidence: r.overconfidence,
        nll: r.nll,
        brier: r.brier,
        adaptiveEce: r.adaptiveEce,
        reliability: r.reliability,
        ...(r.analysis ? { analysis: r.analysis } : {}),
        samplesPerSecond: r.samplesPerSecond,
      })),
    },
    'study results',
  );
}

/** Writes results.json and the HTML report beside the summary; returns the report path. */
export async function writeResultsAndReport(out: string, results: StudyResults) {
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, RESULTS_FILE), `${JSON.stringify(results, null, 2)}\n`);
  return (await writeReport(results, out)).html;
}
