import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type {
  DistillResult,
  ExperimentPlan,
  ExperimentSettings,
  PlannedJob,
  TeacherPlan,
} from '@vicinal/config';
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
interface DatasetSummary {
  name: string;
  train_images: number;
  test_images: number;
}

type TeacherSummary = MetricRow & {
  name: string;
  dataset: string;
  architecture: string;
  parameters: number;
  epochs: number;
  train_images: number;
  train_seconds: number;
  samples_per_second: number | null;
  /**
   * Taken from the local cache or from NATS instead of trained in this run:
   * train_seconds and samples_per_second are then from the run that trained it.
   */
  reused: boolean;
};

export interface StudySummary {
  study: string;
  /** The data set, when the study has exactly one (as the main job does). */
  dataset?: DatasetSummary;
  datasets: DatasetSummary[];
  backend: string;
  jobs: { total: number; run_here: number; already_finished: number };
  /** The teacher, when the study has exactly one (as the main job does). */
  teacher?: TeacherSummary;
  teachers: TeacherSummary[];
  students: (MetricRow & {
    job: string;
    dataset: string;
    teacher: string | null;
    arm: string;
    temperature: number | null;
    architecture: string;
    parameters: number;
    seed: number;
    epochs: number;
    train_images: number;
    steps: number;
    samples_per_second: number;
    train_seconds: number;
    worker: string;
  })[];
  wall_seconds: number;
}

export function buildSummary(input: {
  settings: ExperimentSettings;
  plan: ExperimentPlan;
  backend: string;
  datasets: { train: number; test: number }[];
  teachers: { plan: TeacherPlan; record: TeacherRecord; reused?: boolean }[];
  results: Map<string, DistillResult>;
  ranHere: number;
  wallSeconds: number;
}): StudySummary {
  const { settings, plan } = input;
  const datasets = settings.datasets.map((d, i) => ({
    name: d.name,
    train_images: input.datasets[i].train,
    test_images: input.datasets[i].test,
  }));
  const teachers = input.teachers.map(({ plan: t, record, reused }) => ({
    name: t.name,
    dataset: t.dataset.name,
    architecture: record.architecture,
    parameters: record.parameters,
    epochs: record.recipe.epochs,
    train_images: record.recipe.trainImages ?? input.datasets[t.datasetIndex].train,
    train_seconds: round(record.trainSeconds, 1),
    samples_per_second:
      record.samplesPerSecond === undefined ? null : round(record.samplesPerSecond, 1),
    reused: reused ?? false,
    accuracy: record.test.accuracy,
    ece: record.test.ece,
    mce: record.test.mce,
    overconfidence: record.test.overconfidence,
    nll: record.test.nll,
    brier: record.test.brier,
  }));
  return {
    study: plan.studyId,
    ...(datasets.length === 1 ? { dataset: datasets[0] } : {}),
    datasets,
    backend: input.backend,
    jobs: {
      total: plan.jobs.length,
      run_here: input.ranHere,
      already_finished: plan.jobs.length - input.ranHere,
    },
    ...(teachers.length === 1 ? { teacher: teachers[0] } : {}),
    teachers,
    students: plan.jobs.flatMap((j) => {
      const r = input.results.get(j.job.jobId);
      if (!r) return [];
      return [
        {
          job: j.job.jobId,
          dataset: j.job.dataset.name,
          teacher: j.teacher,
          arm: r.arm,
          temperature: r.temperature,
          architecture: r.architecture,
          parameters: r.parameters,
          seed: r.seed,
          epochs: j.job.student.epochs,
          train_images: j.job.student.trainImages ?? input.datasets[j.datasetIndex].train,
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
        },
      ];
    }),
    wall_seconds: round(input.wallSeconds, 1),
  };
}

/** The results table in Markdown (the same table the CLI prints). */
export function summaryTable(summary: StudySummary): string {
  const head =
    '| model | teacher | arm | T | seed | accuracy | ECE | MCE | conf - acc | NLL | Brier | samples/s |';
  const rule = '|---|---|---|---|---|---|---|---|---|---|---|---|';
  const row = (cells: string[], m: MetricRow, sps: string) =>
    `| ${cells.join(' | ')} | ${(100 * m.accuracy).toFixed(2)} | ${m.ece.toFixed(4)} | ` +
    `${m.mce.toFixed(4)} | ${signed(m.overconfidence)} | ${m.nll.toFixed(4)} | ` +
    `${m.brier.toFixed(4)} | ${sps} |`;
  const lines = [head, rule];
  for (const t of summary.teachers) {
    lines.push(
      row(
        [`teacher ${t.architecture} (${t.parameters} params)`, t.name, '-', '-', '-'],
        t,
        (t.samples_per_second === null ? '-' : t.samples_per_second.toFixed(0)) +
          (t.reused ? ' (when trained)' : ''),
      ),
    );
  }
  for (const s of summary.students) {
    lines.push(
      row(
        [
          `student ${s.architecture} (${s.parameters} params)`,
          s.teacher ?? '-',
          s.arm,
          s.temperature === null ? '-' : String(s.temperature),
          String(s.seed),
        ],
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
  const data = summary.datasets
    .map((d) => `${d.name} (${d.train_images} training, ${d.test_images} test images)`)
    .join(', ');
  const md = [
    `# vicinal study: ${summary.study}`,
    '',
    `Data: ${data}; every metric on the whole test split. Backend: ${summary.backend}. ` +
      `${summary.jobs.total} jobs, ${summary.jobs.run_here} run by this coordinator, ` +
      `${summary.jobs.already_finished} found finished. Wall time ${summary.wall_seconds} s.`,
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
 * The results behind the report (results.json) of one dataset and student:
 * the teachers with their reliability diagrams, every run with its
 * calibration and vicinal analysis.
 */
export function buildResults(
  settings: ExperimentSettings,
  teachers: { plan: TeacherPlan; record: TeacherRecord }[],
  runs: { job: PlannedJob; result: DistillResult }[],
): StudyResults {
  return parseResults(
    {
      study: { ...settings, name: settings.name },
      teachers: teachers.map(({ plan, record }) => ({
        name: plan.name,
        architecture: record.architecture,
        parameters: record.parameters,
        test: record.test,
        ...(record.temperatureScaling
          ? { temperatureScaling: record.temperatureScaling }
          : {}),
      })),
      runs: runs.map(({ job, result: r }) => ({
        teacher: job.teacher,
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
        ...(r.temperatureScaling ? { temperatureScaling: r.temperatureScaling } : {}),
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
